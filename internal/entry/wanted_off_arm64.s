//go:build !pidone_sigwanted

#include "textflag.h"

// See wanted_off_amd64.s.
TEXT ·markWanted(SB),NOSPLIT|NOFRAME,$0
	B	_rt0_arm64_linux(SB)

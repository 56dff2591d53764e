//go:build !pidone_sigwanted

#include "textflag.h"

// Built without the pidone_sigwanted tag (Makefile), rt0 leaves the
// runtime's state alone: WantedEarly is empty.
TEXT ·markWanted(SB),NOSPLIT|NOFRAME,$0
	JMP	_rt0_amd64_linux(SB)

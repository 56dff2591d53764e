//go:build pidone_sigwanted

#include "textflag.h"

// See wanted_on_amd64.s.
#define wantedBits $0x8001a9fe

TEXT ·markWanted(SB),NOSPLIT|NOFRAME,$0
	MOVD	$runtime·sig(SB), R0
	MOVWU	20(R0), R1
	MOVD	wantedBits, R2
	ORR	R2, R1, R1
	MOVW	R1, 20(R0)
	MOVD	$1, R0
	MOVD	$·wantedMarked(SB), R1
	MOVB	R0, (R1)
	B	_rt0_arm64_linux(SB)

TEXT ·runtimeWanted(SB),NOSPLIT,$0-4
	MOVD	$runtime·sig(SB), R0
	MOVWU	20(R0), R1
	MOVW	R1, ret+0(FP)
	RET

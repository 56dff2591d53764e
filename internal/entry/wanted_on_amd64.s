//go:build pidone_sigwanted

#include "textflag.h"

// The runtime's sig.wanted[0] (runtime/sigqueue.go: var sig struct { note
// note; mask [3]uint32; wanted [3]uint32; ... }, note being one uintptr):
// bit s of word s/32 for signal s. wanted_test.go checks the layout.
#define WANTED runtime·sig+20(SB)

// wantedBits is WantedEarly in the runtime's numbering (bit sig, not
// sig-1): HUP, INT, QUIT, ILL, TRAP, ABRT, BUS, FPE, SEGV, PIPE, TERM,
// STKFLT, SYS.
#define wantedBits $0x8001a9fe

// markWanted marks the signals pidone registers with os/signal as wanted
// before the runtime starts (see WantedEarly), then enters the runtime.
// rt0 jumps here with the kernel's stack untouched.
TEXT ·markWanted(SB),NOSPLIT|NOFRAME,$0
	MOVL	wantedBits, AX
	ORL	AX, WANTED
	MOVB	$1, ·wantedMarked(SB)
	JMP	_rt0_amd64_linux(SB)

// runtimeWanted returns sig.wanted[0], for the test of the layout.
TEXT ·runtimeWanted(SB),NOSPLIT,$0-4
	MOVL	WANTED, AX
	MOVL	AX, ret+0(FP)
	RET

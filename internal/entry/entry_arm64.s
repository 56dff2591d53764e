#include "textflag.h"

// rt0 is pidone's ELF entry point (see entry_amd64.s). The runtime's
// _rt0_arm64_linux reads argc and argv from the stack, which is left as the
// kernel laid it out; only R0-R4, R8, R19 and R20 change.
TEXT ·rt0(SB),NOSPLIT|NOFRAME,$0
	// rt_sigprocmask(SIG_BLOCK, &allSignals, &inheritedMask, 8): nothing
	// acts before pidone has decided what it does (see entry_amd64.s).
	MOVD	$0, R0			// SIG_BLOCK
	MOVD	$·allSignals(SB), R1
	MOVD	$·inheritedMask(SB), R2
	MOVD	$8, R3			// sizeof(kernel sigset_t)
	MOVD	$135, R8		// SYS_rt_sigprocmask
	SVC

	// For sig in 1..64: rt_sigaction(sig, NULL, &actions[sig-1], 8)
	MOVD	$1, R19			// sig
	MOVD	$·actions(SB), R20	// &actions[sig-1]
next:
	MOVD	R19, R0
	MOVD	$0, R1			// no new action: only read
	MOVD	R20, R2
	MOVD	$8, R3
	MOVD	$134, R8		// SYS_rt_sigaction
	SVC
	ADD	$32, R20		// sizeof(actions[0])
	ADD	$1, R19
	CMP	$65, R19
	BLT	next

	// prlimit64(0, RLIMIT_NOFILE, NULL, &nofile)
	MOVD	$0, R0			// this process
	MOVD	$7, R1			// RLIMIT_NOFILE
	MOVD	$0, R2
	MOVD	$·nofile(SB), R3
	MOVD	$261, R8		// SYS_prlimit64
	SVC

	// A handler of ours for every signal the runtime unblocks until the
	// runtime installs its own (see entry_amd64.s).
	MOVD	$·earlyAction(SB), R1
	MOVD	$·earlyHandler(SB), R2
	MOVD	R2, 0(R1)			// sa_handler
	MOVD	$0x04000004, R2
	MOVD	R2, 8(R1)			// sa_flags: SA_RESTORER|SA_SIGINFO
	MOVD	$·earlyRestorer(SB), R2
	MOVD	R2, 16(R1)			// sa_restorer
	MOVD	ZR, 24(R1)			// sa_mask
	MOVD	$·earlySignals(SB), R19		// the signal numbers, 0-terminated
handle:
	MOVBU	(R19), R0
	CBZ	R0, done
	MOVD	$·earlyAction(SB), R1
	MOVD	$0, R2
	MOVD	$8, R3
	MOVD	$134, R8			// SYS_rt_sigaction
	SVC
	ADD	$1, R19
	B	handle
done:
	// rt_sigprocmask(SIG_SETMASK, &startMask, NULL, 8): the inherited
	// mask and what pidone forwards.
	MOVD	$·inheritedMask(SB), R1
	MOVD	(R1), R2
	MOVD	$·blocked(SB), R1
	MOVD	(R1), R3
	ORR	R2, R3, R3
	MOVD	$·startMask(SB), R1
	MOVD	R3, (R1)
	MOVD	$2, R0			// SIG_SETMASK
	MOVD	$0, R2
	MOVD	$8, R3
	MOVD	$135, R8
	SVC
	MOVD	$1, R0
	MOVD	$·ran(SB), R1
	MOVB	R0, (R1)
	B	·markWanted(SB)			// wanted_on_arm64.s, then the runtime

// earlyHandler sets bit sig-1 of early; the kernel passes sig in R0 and
// the siginfo in R1, and restores every register afterwards. A fault the
// kernel raised gets its default action back instead (see entry_amd64.s).
TEXT ·earlyHandler(SB),NOSPLIT|NOFRAME,$0
	SUB	$1, R0, R3
	MOVD	$1, R4
	LSL	R3, R4, R4			// R4 = bit sig-1
	MOVW	8(R1), R5			// si_code, sign-extended
	CMP	$0, R5
	BLE	note
	MOVD	$0x400004d8, R6			// ILL, TRAP, BUS, FPE, SEGV, SYS
	TST	R6, R4
	BEQ	note
	MOVD	$·dflAction(SB), R1		// rt_sigaction(sig, &dflAction, NULL, 8)
	MOVD	$0, R2
	MOVD	$8, R3
	MOVD	$134, R8
	SVC
	RET
note:
	MOVD	$·early(SB), R2
again:
	LDAXR	(R2), R3
	ORR	R4, R3, R3
	STLXR	R3, (R2), R5
	CBNZ	R5, again
	RET

// earlyRestorer returns from earlyHandler.
TEXT ·earlyRestorer(SB),NOSPLIT|NOFRAME,$0
	MOVD	$139, R8			// SYS_rt_sigreturn
	SVC

#include "textflag.h"

// rt0 is pidone's ELF entry point (the Makefile links with
// -E github.com/pidone/pidone/internal/entry.rt0). It runs before the Go
// runtime, on the only thread there is, with the stack as the kernel laid it
// out (argc, argv, envp, auxv), which it leaves untouched for the runtime's
// entry. It uses only registers the runtime's entry does not read
// (_rt0_amd64 takes argc and argv from the stack): AX, DI, SI, DX, R10, R12,
// R13, and CX and R11, which SYSCALL clobbers.
TEXT ·rt0(SB),NOSPLIT|NOFRAME,$0
	// rt_sigprocmask(SIG_BLOCK, &allSignals, &inheritedMask, 8): from the
	// first system call on, no signal can act before pidone has decided
	// what it does (issue 19); keep the mask pidone was exec'd with.
	MOVQ	$14, AX			// SYS_rt_sigprocmask
	MOVQ	$0, DI			// SIG_BLOCK
	LEAQ	·allSignals(SB), SI
	LEAQ	·inheritedMask(SB), DX
	MOVQ	$8, R10			// sizeof(kernel sigset_t)
	SYSCALL

	// For sig in 1..64: rt_sigaction(sig, NULL, &actions[sig-1], 8), the
	// disposition pidone inherited.
	MOVQ	$1, R12			// sig
	LEAQ	·actions(SB), R13	// &actions[sig-1]
next:
	MOVQ	$13, AX			// SYS_rt_sigaction
	MOVQ	R12, DI
	MOVQ	$0, SI			// no new action: only read
	MOVQ	R13, DX
	MOVQ	$8, R10
	SYSCALL
	ADDQ	$32, R13		// sizeof(actions[0])
	INCQ	R12
	CMPQ	R12, $65
	JLT	next

	// prlimit64(0, RLIMIT_NOFILE, NULL, &nofile): the limit before the
	// runtime raises its soft half (package os).
	MOVQ	$302, AX		// SYS_prlimit64
	MOVQ	$0, DI			// this process
	MOVQ	$7, SI			// RLIMIT_NOFILE
	MOVQ	$0, DX
	LEAQ	·nofile(SB), R10
	SYSCALL

	// For every signal the runtime unblocks on each thread it starts
	// (earlySignals), a handler of ours until the runtime installs its
	// own (runtime.initsig; for 32 and 34, until package forward ignores
	// them): one of them sent now would otherwise kill pidone (the
	// default action) or, as PID 1, be discarded. earlyHandler notes it
	// in early; package forward passes it on once it listens.
	LEAQ	·earlyHandler(SB), AX
	MOVQ	AX, ·earlyAction+0(SB)		// sa_handler
	MOVQ	$0x04000004, ·earlyAction+8(SB)	// sa_flags: SA_RESTORER|SA_SIGINFO
	LEAQ	·earlyRestorer(SB), AX
	MOVQ	AX, ·earlyAction+16(SB)		// sa_restorer
	MOVQ	$0, ·earlyAction+24(SB)		// sa_mask: nothing more blocked
	LEAQ	·earlySignals(SB), R12		// the signal numbers, 0-terminated
handle:
	MOVBQZX	(R12), DI
	CMPQ	DI, $0
	JEQ	done
	MOVQ	$13, AX				// SYS_rt_sigaction
	LEAQ	·earlyAction(SB), SI
	MOVQ	$0, DX
	MOVQ	$8, R10
	SYSCALL
	INCQ	R12
	JMP	handle
done:
	// rt_sigprocmask(SIG_SETMASK, &startMask, NULL, 8), startMask being
	// the inherited mask and what pidone forwards (blocked): a signal
	// that came meanwhile is now delivered to earlyHandler or stays
	// pending for the main thread.
	MOVQ	·inheritedMask(SB), AX
	ORQ	·blocked(SB), AX
	MOVQ	AX, ·startMask(SB)
	MOVQ	$14, AX			// SYS_rt_sigprocmask
	MOVQ	$2, DI			// SIG_SETMASK
	LEAQ	·startMask(SB), SI
	MOVQ	$0, DX
	MOVQ	$8, R10
	SYSCALL
	MOVB	$1, ·ran(SB)
	// Tell the runtime that os/signal wants the signals pidone will
	// register (wanted_on_amd64.s), then the runtime's own entry.
	JMP	·markWanted(SB)

// earlyHandler is the handler rt0 installs: it sets bit sig-1 of early.
// The kernel passes sig in DI and the siginfo in SI, and restores every
// register afterwards. A fault the kernel raised (ILL, TRAP, BUS, FPE,
// SEGV or SYS with a positive si_code) is not noted: the handler puts the
// default action back and returns, so that the faulting instruction runs
// again and ends the process as it would have without the entry.
TEXT ·earlyHandler(SB),NOSPLIT|NOFRAME,$0
	MOVQ	DI, CX
	DECQ	CX
	MOVQ	$1, AX
	SHLQ	CX, AX			// AX = bit sig-1
	MOVL	8(SI), CX		// si_code
	CMPL	CX, $0
	JLE	note
	TESTQ	$0x400004d8, AX		// ILL, TRAP, BUS, FPE, SEGV, SYS (bit sig-1)
	JEQ	note
	MOVQ	$13, AX			// SYS_rt_sigaction(sig, &dflAction, NULL, 8)
	LEAQ	·dflAction(SB), SI
	MOVQ	$0, DX
	MOVQ	$8, R10
	SYSCALL
	RET
note:
	LOCK
	ORQ	AX, ·early(SB)
	RET

// earlyRestorer returns from earlyHandler (x86-64 signal frames need one).
TEXT ·earlyRestorer(SB),NOSPLIT|NOFRAME,$0
	MOVQ	$15, AX				// SYS_rt_sigreturn
	SYSCALL
	INT	$3				// not reached

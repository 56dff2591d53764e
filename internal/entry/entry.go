// Package entry holds what pidone learns before the Go runtime runs: the
// signal mask and dispositions it inherited, and its inherited
// RLIMIT_NOFILE.
//
// The runtime overwrites nearly every signal disposition before any Go code
// runs (runtime.initsig), unblocks a few signals on every thread it starts,
// and raises the soft RLIMIT_NOFILE (package os), so by main none of what the
// parent handed pidone is visible any more. A child must start exactly as
// under the peer pidone replaces, so the first instructions of the process
// (rt0, the ELF entry point set with the linker's -E flag in the Makefile)
// record all of it, block the signals pidone forwards on the only thread
// there is, and jump to the runtime's own entry. Every thread the runtime
// creates inherits that mask (less the signals the runtime insists on
// unblocking), so a forwardable signal sent at any moment stays pending
// until the main thread takes it with rt_sigtimedwait (forward.Shortcut).
//
// A binary linked without the entry (a plain `go build`, `go install`, an
// architecture without entry_GOARCH.s) runs with Ran false, and every
// accessor says so: callers fall back to what the runtime lets them see.
package entry

import (
	"sync/atomic"
	"unsafe"

	"github.com/pidone/pidone/internal/sigsys"
	"golang.org/x/sys/unix"
)

// Written by rt0 before the runtime starts; read-only afterwards, so the
// Go memory model's happens-before is the process's own start.
var (
	// ran is 1 once rt0 has run.
	ran uint8
	// inheritedMask is the signal mask of the thread that exec'd pidone.
	inheritedMask uint64
	// actions holds the kernel's struct sigaction for signals 1-64
	// (actions[sig-1]); only its first word, the handler, is read. Four
	// words cover the struct on every architecture with an entry.
	actions [64][4]uint64
	// nofile is the RLIMIT_NOFILE pidone was started with.
	nofile unix.Rlimit
	// early has bit sig-1 set for each signal of earlySignals that came
	// before the runtime installed its handlers (earlyHandler sets it).
	early uint64
	// earlyAction is the struct sigaction rt0 builds for earlyHandler;
	// dflAction (all zero: SIG_DFL) is what earlyHandler puts back for a
	// fault.
	earlyAction, dflAction [4]uint64
	// startMask is the mask rt0 leaves the first thread with: the
	// inherited one and blocked.
	startMask uint64
	// wantedMarked is 1 once markWanted has set WantedEarly in the
	// runtime's state (builds with the pidone_sigwanted tag).
	wantedMarked uint8
)

// earlySignals are the signals rt0 gives a handler of its own: every
// signal the runtime unblocks on each thread it starts (runtime.blockableSig),
// so rt0 cannot keep them pending, and whose default action would end
// pidone: all of them but CHLD. The runtime replaces that handler with its
// own (runtime.initsig), except for 32 and 34, which package forward sets
// to SIG_IGN. A fault the kernel raises keeps its default action
// (earlyHandler). 0-terminated, for rt0's loop.
var earlySignals = [...]uint8{
	uint8(unix.SIGHUP), uint8(unix.SIGINT), uint8(unix.SIGQUIT), uint8(unix.SIGILL),
	uint8(unix.SIGTRAP), uint8(unix.SIGABRT), uint8(unix.SIGBUS), uint8(unix.SIGFPE),
	uint8(unix.SIGSEGV), uint8(unix.SIGTERM), uint8(unix.SIGSTKFLT), uint8(unix.SIGPROF),
	uint8(unix.SIGSYS), 32, 33, 34, 0,
}

// Early returns the set of earlySignals that arrived before the runtime
// had installed its handlers (32 and 34: before forward ignored them),
// each at least once (repeats merge), as sent, not raised by a fault.
// Package forward passes the forwardable ones on as if they had arrived
// once it listens.
func Early() uint64 { return atomic.LoadUint64(&early) }

// WantedSet is what markWanted marks (bit sig-1): the signals package
// forward registers with os/signal when the entry ran (HUP, INT, QUIT,
// ILL, TRAP, ABRT, BUS, FPE, SEGV, PIPE, TERM, STKFLT, SYS). forward's
// tests check it against its own list, and wanted_test.go checks that the
// assembly's constant is this one.
const WantedSet uint64 = 0x4000d4ff

// WantedEarly returns the signals the runtime's handler queues for
// os/signal from the runtime's first instruction on (bit sig-1), or 0.
//
// The runtime's handler ends a Go program on a HUP, INT, TERM (and, with
// status 2, on a QUIT, ABRT, STKFLT, SYS or a sent ILL, TRAP, BUS, FPE,
// SEGV) unless os/signal has asked for it: the runtime's sig.wanted. That
// is set by signal.Notify, which can run only after the runtime has
// installed its handlers (runtime.initsig), and for each signal after a
// round trip to the runtime's signal thread; until then, which on a busy
// machine is milliseconds, such a signal ends pidone (issue 19). Built
// with the pidone_sigwanted tag and the entry (Makefile), rt0 sets those
// bits itself before the runtime runs: a signal that comes before
// forward's registration then waits in the runtime's queue, and
// os/signal delivers it once pidone listens. This writes a private
// variable of the runtime (hence -checklinkname=0 in the Makefile);
// wanted_test.go fails when a Go release moves it.
func WantedEarly() uint64 {
	if wantedMarked == 1 {
		return WantedSet
	}
	return 0
}

// allSignals is what rt0 blocks while it sets pidone's signal state up.
var allSignals uint64 = 1<<64 - 1

// blocked is the set rt0 blocks (bit sig-1 for signal sig): see Blocked. It
// is read by rt0 before the runtime runs, so it must be a constant the
// compiler lays out in the binary's data, not computed by Go code.
var blocked uint64 = blockedSet

// Ran reports whether rt0 ran, i.e. whether the binary was linked with the
// entry point (Makefile) on an architecture that has one.
func Ran() bool { return ran == 1 }

// InheritedNofile is the RLIMIT_NOFILE pidone was started with, before the
// runtime raised its soft limit. ok is false without the entry.
func InheritedNofile() (unix.Rlimit, bool) { return nofile, Ran() }

// Blocked is the set rt0 blocks on the first thread.
func Blocked() uint64 { return blocked }

// The kernel's struct sigaction must fit in an actions entry.
var _ [unsafe.Sizeof(actions[0]) - 32]struct{}

// blockedSet is every signal pidone forwards that the runtime lets a thread
// keep blocked (runtime.blockableSig), less SIGPIPE, which the kernel raises
// on the thread that wrote to a broken pipe and which must reach that
// thread. The rest of what pidone forwards (HUP, INT, QUIT, ILL, TRAP, ABRT,
// BUS, FPE, SEGV, TERM, STKFLT, SYS, PIPE) the runtime unblocks on every
// thread it starts, so those go through os/signal whatever rt0 does.
// forward's tests check this set against its own rules.
const blockedSet uint64 = 1<<(unix.SIGUSR1-1) | 1<<(unix.SIGUSR2-1) | 1<<(unix.SIGALRM-1) |
	1<<(unix.SIGCONT-1) | 1<<(unix.SIGTSTP-1) | 1<<(unix.SIGTTIN-1) | 1<<(unix.SIGTTOU-1) |
	1<<(unix.SIGURG-1) | 1<<(unix.SIGXCPU-1) | 1<<(unix.SIGXFSZ-1) | 1<<(unix.SIGVTALRM-1) |
	1<<(unix.SIGWINCH-1) | 1<<(unix.SIGIO-1) | 1<<(unix.SIGPWR-1) |
	(1<<64-1)&^(1<<34-1) // 35-64, the realtime signals C programs can use

// Inherited is the signal state pidone was exec'd with, as far as it can be
// known: exactly with the entry point; without it, what the runtime left
// visible (fallback).
type Inherited struct {
	// Mask is the blocked set, Ignored the SIG_IGN set (bit sig-1).
	Mask, Ignored uint64
	// Exact is false without the entry: then Mask lacks every signal the
	// runtime unblocks on its threads (HUP, INT, QUIT, ILL, TRAP, ABRT,
	// BUS, FPE, SEGV, TERM, STKFLT, CHLD, PROF, SYS, 32-34), and Ignored
	// knows only HUP and INT, the two whose inherited SIG_IGN the runtime
	// keeps until os/signal asks for them.
	Exact bool
}

// fallback is what package initialization could still see without the
// entry. Package initialization runs on the main thread, before any
// signal.Notify of pidone's (package forward imports this one).
var fallback Inherited

func init() {
	if Ran() {
		return
	}
	var cur unix.Sigset_t
	if unix.PthreadSigmask(unix.SIG_BLOCK, nil, &cur) == nil {
		fallback.Mask = sigsys.Bits(cur)
	}
	for _, sig := range []unix.Signal{unix.SIGHUP, unix.SIGINT} {
		if sigsys.Handler(sig) == sigsys.SigIGN {
			fallback.Ignored |= 1 << (sig - 1)
		}
	}
}

// Signals returns the inherited signal state.
func Signals() Inherited {
	if !Ran() {
		return fallback
	}
	var ign uint64
	for sig := 1; sig <= 64; sig++ {
		if actions[sig-1][0] == sigsys.SigIGN {
			ign |= 1 << (sig - 1)
		}
	}
	return Inherited{Mask: inheritedMask, Ignored: ign, Exact: true}
}

package forward

import (
	"os"
	"runtime"
	"sync"

	"github.com/pidone/pidone/internal/sigsys"
	"golang.org/x/sys/unix"
)

// Through os/signal, a signal reaches the event loop by way of three
// threads: the one the kernel interrupts to run the runtime's handler, the
// one parked in os/signal's receive loop, and the one that runs the loop.
// Each hand-off is a wake-up, and a wake-up costs tens of microseconds on a
// busy machine (docs/performance.md, change 3). tini forwards from the
// thread that took the signal out of sigtimedwait, and pidone can do the
// same on its main thread: the kernel gives a signal sent to the process
// to the main thread whenever that thread does not block it
// (complete_signal), and a thread waiting in rt_sigtimedwait does not block
// the signals it waits for.
//
// So the main thread blocks the forwardable signals and waits for them
// (Shortcut.Serve). One the event loop would forward unchanged in its current
// state it forwards at once; any other it queues for the loop, on the
// channel os/signal feeds. A signal that comes while the main thread is busy
// goes to another thread and through os/signal, as without a Shortcut;
// nothing is lost either way. Two different signals may be forwarded in
// another order than they were sent, which the kernel never promised
// either (pending standard signals are delivered lowest number first).

// Set is a set of signals 1-64.
type Set uint64

// With returns the set with sig added.
func (s Set) With(sig unix.Signal) Set { return s | 1<<(sig-1) }

// Has reports whether sig is in the set.
func (s Set) Has(sig unix.Signal) bool { return sig >= 1 && sig <= maxSignal && s&(1<<(sig-1)) != 0 }

// sigset converts the set for the kernel.
func (s Set) sigset() unix.Sigset_t { return sigsys.Sigset(uint64(s)) }

// Shortcut forwards signals from the main thread. The zero value forwards
// nothing directly until the event loop says what it may (Allow).
type Shortcut struct {
	mu     sync.Mutex
	target Target
	asIs   Set
}

// Hold stops direct forwarding until Allow. The event loop holds the
// shortcut while it handles an event, so that a signal forwarded directly
// goes out between two of the loop's steps, in a state where the loop
// would have forwarded it the same way. Nil-safe, like Allow.
func (s *Shortcut) Hold() {
	if s != nil {
		s.mu.Lock()
	}
}

// Allow ends a Hold: from now on the signals in asIs go straight to target,
// unchanged. An empty set sends everything through the loop.
func (s *Shortcut) Allow(target Target, asIs Set) {
	if s != nil {
		s.target, s.asIs = target, asIs
		s.mu.Unlock()
	}
}

// forward sends sig if the loop allows it, and reports whether it did.
func (s *Shortcut) forward(sig unix.Signal) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A failed send goes to the loop, which logs why.
	return s.asIs.Has(sig) && s.target.Send(sig) == nil
}

// Blockable lists the forwardable signals the main thread may block and
// wait for: all but those the kernel raises on the thread that caused them
// (a fault, a seccomp trap, a write to a broken pipe), which must reach the
// runtime's handler on that thread. SIGURG only when urgIsNeverOurs (see
// Catch).
func Blockable(urgIsNeverOurs bool) Set {
	var set Set
	for _, sig := range ForwardableSignals() {
		switch sig {
		case unix.SIGILL, unix.SIGTRAP, unix.SIGBUS, unix.SIGFPE, unix.SIGSEGV, unix.SIGSYS, unix.SIGPIPE:
			continue
		case unix.SIGURG:
			if !urgIsNeverOurs {
				continue
			}
		}
		set = set.With(sig)
	}
	return set
}

// Serve takes the signals in wait on the calling goroutine's thread, which
// must be the main thread, locked to it, and never returns. Each is
// forwarded directly when the loop allows it, else sent to queue (the
// channel Catch returned), which the loop reads.
func (s *Shortcut) Serve(wait Set, queue chan<- os.Signal) {
	runtime.LockOSThread() // for good: the mask below is this thread's
	set := wait.sigset()
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
		panic(os.NewSyscallError("rt_sigprocmask", err))
	}
	for {
		sig := waitFor(&set)
		if !s.forward(sig) {
			queue <- sig
		}
	}
}

// waitFor sleeps until a signal in set is pending and takes it.
func waitFor(set *unix.Sigset_t) unix.Signal {
	for {
		sig, err := sigsys.Timedwait(set, nil)
		switch err {
		case nil:
			return sig
		case unix.EINTR:
			// A signal outside the set ran its handler on this thread.
		default:
			panic(os.NewSyscallError("rt_sigtimedwait", err))
		}
	}
}

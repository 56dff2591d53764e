// Package forward routes the signals pidone receives to the process that
// should act on them: the main child's process group, or the child alone.
//
// Which signals count is a pure decision (Catchable, Forwardable); where they
// go is a Target. Catch must be called first thing in main: a Go PID 1 that
// gets SIGTERM before it has a handler exits with status 2
// (golang/go#13484).
package forward

import (
	"errors"
	"os"
	"os/signal"
	"slices"
	"sync/atomic"

	"github.com/pidone/pidone/internal/entry"
	"github.com/pidone/pidone/internal/sigsys"
	"golang.org/x/sys/unix"
)

// caught is the channel Catch returns. Package initialization registers
// it with os/signal (see init), before main and the packages it imports
// have done anything.
var caught = make(chan os.Signal, 64)

// init registers, as early as the package graph allows, the signals that a
// Go program can only receive through os/signal: until os/signal wants a
// HUP, INT or TERM, the runtime's handler ends the program with it (as PID
// 1, with status 2: golang/go#13484), and QUIT, ABRT, STKFLT, SYS and a
// sent ILL, TRAP, BUS, FPE or SEGV end it with status 2. With the entry
// point (internal/entry) those are the few the runtime unblocks on every
// thread; every other forwardable signal stays blocked from pidone's first
// instruction until the main thread takes it (Shortcut).
//
// Built as the Makefile builds it, the entry has told the runtime that
// os/signal wants them before the runtime ran (entry.WantedEarly): one
// that comes before this registration waits in the runtime's queue and
// reaches caught once it is done. The registration then runs beside the
// rest of pidone's start: each signal os/signal enables is a round trip to
// the runtime's signal thread, two thread hand-offs, about half a
// millisecond for the few it takes here (docs/performance.md), which
// neither the start nor the child need to wait for.
//
// Otherwise (a build without the tag or without the entry) the runtime
// ends pidone on such a signal from its handlers' installation until here:
// the registration runs now, on the main thread, before any child can
// exist, the stop requests first, so that the window is as short as the
// runtime allows (README, the early window).
func init() {
	sigs := notifySet(entry.Ran(), false)
	if entry.WantedEarly()&setOf(sigs) == setOf(sigs) {
		go func() {
			signal.Notify(caught, sigs...)
			close(registered)
		}()
		return
	}
	signal.Notify(caught, stopFirst(sigs)...)
	close(registered)
}

// registered is closed once init's registration is done.
var registered = make(chan struct{})

// Registered returns once init's registration is done. Two kinds of
// callers must wait for it: a program that undoes part of it (pidone ctl,
// signal.Reset), or the registration could come after the undoing and redo
// it; and anything else that calls signal.Notify (the reaper's SIGCHLD).
// The runtime queues a signal that comes before the registration, but
// os/signal's loop, which starts with the first Notify of any channel,
// drops each queued signal that no channel wants when it reads it: a
// SIGTERM read by a loop that the reaper's Notify started would be lost.
func Registered() { <-registered }

// setOf returns sigs as a set (bit sig-1).
func setOf(sigs []os.Signal) uint64 {
	var set uint64
	for _, s := range sigs {
		set |= 1 << (s.(unix.Signal) - 1)
	}
	return set
}

// stopFirst returns sigs with the stop requests (TERM, INT, HUP, QUIT)
// first: os/signal enables them one at a time, in order, each after a
// round trip to the runtime's signal thread.
func stopFirst(sigs []os.Signal) []os.Signal {
	stops := []os.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT}
	list := append([]os.Signal(nil), stops...)
	for _, s := range sigs {
		if !slices.Contains(stops, s) {
			list = append(list, s)
		}
	}
	return list
}

// notifySet lists the signals os/signal must deliver: the forwardable ones
// the entry does not block (all, without the entry), less 32 and 34, which
// os/signal cannot deliver, and less SIGURG, which Catch adds only when
// urg says every SIGURG is somebody's.
func notifySet(withEntry, urg bool) []os.Signal {
	var list []os.Signal
	for _, s := range ForwardableSignals() {
		switch {
		case s == libcSignal1 || s == libcSignal2:
		case s == unix.SIGURG && !urg:
		case withEntry && entry.Blocked()&(1<<(s-1)) != 0:
		default:
			list = append(list, s)
		}
	}
	return list
}

// Catch completes what init registered and returns the channel the
// signals arrive on, which a Shortcut also feeds. The buffer absorbs a
// burst while the event loop is busy; the runtime coalesces repeats of one
// signal number anyway.
//
// SIGURG is caught only when urgIsNeverOurs: a runtime with asynchronous
// preemption sends SIGURG to its own threads, and os/signal cannot tell those
// from one somebody sent (golang/go#37942). pidone is linked with
// asyncpreemptoff=1 (main.go) so that it can forward SIGURG; a build without
// that setting leaves SIGURG to the runtime, which ignores it, rather than
// hand the child signals nobody sent. (With the entry and asyncpreemptoff,
// SIGURG is blocked from the start and never reaches os/signal.)
func Catch(urgIsNeverOurs bool) chan os.Signal {
	if urgIsNeverOurs && !entry.Ran() {
		signal.Notify(caught, unix.SIGURG)
	}
	ignoreLibcSignals()
	// What came before the runtime had handlers (and 32 and 34, before
	// they were ignored just now: entry.Early) is passed on as if it had
	// come now. The channel has room: at most one of each.
	for _, sig := range ForwardableSignals() {
		if entry.Early()&(1<<(sig-1)) != 0 {
			caught <- sig
		}
	}
	return caught
}

// IgnoredBySelf is what Catch sets to SIG_IGN for pidone (bit sig-1): 32
// and 34 (ignoreLibcSignals).
const IgnoredBySelf = 1<<(libcSignal1-1) | 1<<(libcSignal2-1)

// ignoreLibcSignals sets 32 and 34 to SIG_IGN for pidone, where the
// runtime left them at SIG_DFL, so that neither can kill it (as PID 1 the
// kernel would discard them; below another init they would end pidone and
// orphan its child). Children do not inherit it: spawn sets every
// disposition a child starts with.
func ignoreLibcSignals() {
	for _, sig := range []unix.Signal{libcSignal1, libcSignal2} {
		sigsys.Ignore(sig)
	}
}

// Target is where forwarded signals go.
type Target struct {
	Pid int
	// PidFD, when not -1, refers to the child itself, so that a signal can
	// never hit a recycled pid after the child was reaped.
	PidFD int
	// Group sends to the child's whole process group. The child leads its
	// own group, so its pgid is its pid.
	Group bool
}

// pidfdSignalProcessGroup is PIDFD_SIGNAL_PROCESS_GROUP (Linux 6.9): signal
// the process group whose id is the pidfd's process's pid. The pidfd pins
// that pid, so once the child is reaped and its group empty the call fails
// with ESRCH, even if the number has been given to a new process since;
// kill(-pid) would signal the newcomer's group.
const pidfdSignalProcessGroup = 1 << 2

// groupByPidfd is cleared the first time the kernel refuses the flag.
var groupByPidfd atomic.Bool

func init() { groupByPidfd.Store(true) }

// Send delivers sig. A target that is already gone is not an error: the
// reaper will report its exit.
func (t Target) Send(sig unix.Signal) error {
	var err error
	switch {
	case t.Group:
		err = SignalGroup(t.Pid, t.PidFD, sig)
	case t.PidFD >= 0:
		err = unix.PidfdSendSignal(t.PidFD, sig, nil, 0)
	default:
		err = unix.Kill(t.Pid, sig)
	}
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return os.NewSyscallError("kill", err)
	}
	return nil
}

// SignalGroup sends sig to the process group whose id is pid, the pid of a
// child of pidone that leads its group, through the child's pidfd where the
// kernel allows it (pidfd -1: none). ESRCH says the group is empty.
func SignalGroup(pid, pidfd int, sig unix.Signal) error {
	if pidfd >= 0 && groupByPidfd.Load() {
		err := unix.PidfdSendSignal(pidfd, sig, nil, pidfdSignalProcessGroup)
		if !errors.Is(err, unix.EINVAL) {
			return err
		}
		// An older kernel: kill(-pid) is right until the child is
		// reaped, which is when its owner stops signalling it.
		groupByPidfd.Store(false)
	}
	return unix.Kill(-pid, sig)
}

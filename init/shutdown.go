package supervisor

import (
	"slices"
	"time"

	"github.com/pidone/pidone/forward"
	"golang.org/x/sys/unix"
)

// This file is the supervisor's decisions, and nothing else: which signal
// goes where, when to stop everything, when to escalate to SIGKILL, when to
// exit. machine is a plain value with no side effects; the loop in Run feeds
// it events with the current time and performs the actions it returns.
// Time only enters through those arguments, so the tests drive hours of
// grace periods and delays in microseconds.

// policy is what the command line decided; it does not change at run time.
type policy struct {
	// Grace is how long processes get between the stop signal and
	// SIGKILL. 0 kills at once, without a stop signal.
	Grace time.Duration
	// WaitAll keeps pidone running after the main child exits, until
	// every other process has exited on its own.
	WaitAll bool
	// StopOnRequest makes SIGTERM and SIGINT (after rewriting) a request
	// to stop everything; without it they are forwarded like any signal
	// (the peers' behaviour).
	StopOnRequest bool
	Rewrites      forward.Rewrites
	Delays        forward.Delays
	// SuspendOnJobSignal stops pidone itself after forwarding a SIGTSTP,
	// SIGTTIN or SIGTTOU it received (dumb-init).
	SuspendOnJobSignal bool
	// FollowStops applies the terminal job-control rules when the main
	// child, holding the terminal's foreground, is stopped by one of
	// those signals (pidone's own mode, see docs/lifecycle.md).
	FollowStops bool
	// PID1 says pidone is its PID namespace's init, with nothing above it
	// that could resume a stopped job.
	PID1 bool
	// IgnoreOnce lists signals to swallow the next time they arrive
	// (the SIGHUP and SIGCONT the kernel sends when pidone gives up its
	// controlling terminal for the child, dumb-init #136).
	IgnoreOnce []unix.Signal
}

// phase is where the shutdown stands.
type phase int

const (
	running  phase = iota // the main child runs (or pause mode waits)
	draining              // --wait-all: the main child exited; waiting for the rest
	stopping              // the stop signal went out; the grace period runs
	killing               // SIGKILL went out; waiting for the last exits
)

func (p phase) String() string {
	return [...]string{"running", "draining", "stopping", "killing"}[p]
}

type eventKind int

const (
	evSignal      eventKind = iota // pidone received signal
	evMainExited                   // the main child was reaped; code is its decoded status
	evMainStopped                  // the main child was stopped by signal
	evReaped                       // other processes were reaped (coalesced)
	evEmpty                        // pidone has no children at all
	evTick                         // a deadline may have passed
)

type event struct {
	kind   eventKind
	signal unix.Signal
	code   int
}

type actionKind int

const (
	actForward         actionKind = iota // signal to the main child (or its group)
	actSignalRest                        // signal to every descendant, once (main child gone)
	actStopAll                           // the stop signal to every descendant, then SIGCONT
	actCatchUp                           // the stop signal to descendants the first sweep missed
	actKillAll                           // SIGKILL to every descendant
	actContinueMain                      // SIGCONT to the main child's group
	actReclaimTerminal                   // take the terminal's foreground back
	actHandTerminal                      // give the terminal's foreground to the main child
	actSuspendSelf                       // SIGSTOP to pidone itself
	actCheckEmpty                        // feed evEmpty if there is no child left
	actExit                              // exit with code
)

type action struct {
	kind   actionKind
	signal unix.Signal
	code   int
}

// held is a received signal waiting out its --delay.
type held struct {
	signal unix.Signal
	due    time.Time
	stop   bool // a stop request
}

// machine is the supervisor's state. Create it with newMachine.
type machine struct {
	policy    policy
	phase     phase
	mainAlive bool
	code      int         // the main child's decoded status, once it exited
	stopSig   unix.Signal // the signal of the stop under way
	graceEnd  time.Time
	held      []held
	suspended bool // pidone stopped itself after the main child's job-control stop
	ignore    map[unix.Signal]bool
}

// newMachine starts in phase running; withChild is false in pause mode.
func newMachine(p policy, withChild bool) *machine {
	m := &machine{policy: p, mainAlive: withChild, ignore: map[unix.Signal]bool{}}
	for _, s := range p.IgnoreOnce {
		m.ignore[s] = true
	}
	return m
}

// handle applies one event at time now and returns what to do, in order.
func (m *machine) handle(ev event, now time.Time) []action {
	switch ev.kind {
	case evSignal:
		return m.received(ev.signal, now)
	case evMainExited:
		return m.mainExited(ev.code, now)
	case evMainStopped:
		return m.mainStopped(ev.signal)
	case evReaped:
		switch m.phase {
		case stopping:
			return []action{{kind: actCatchUp, signal: m.stopSig}}
		case killing:
			return []action{{kind: actKillAll}}
		}
	case evEmpty:
		if m.phase != running && !m.mainAlive {
			return []action{{kind: actExit, code: m.code}}
		}
	case evTick:
		return m.tick(now)
	}
	return nil
}

// wantsReaped reports whether an evReaped would make the machine act: only
// while it stops or kills, when whatever appeared since must get the signal
// too. The rest of the time a reaped orphan is none of its business, and the
// supervisor need not wake up for it.
func (m *machine) wantsReaped() bool {
	return m.phase == stopping || m.phase == killing
}

// forwardsAsIs reports whether receiving sig now would do nothing but
// forward sig itself to the main child, and change nothing in the machine.
// Such a signal may skip the event loop (forward.Shortcut): it is forwarded
// exactly as the loop would forward it at that moment.
func (m *machine) forwardsAsIs(sig unix.Signal) bool {
	to, ok := m.policy.Rewrites.Apply(sig)
	return m.mainAlive && ok && to == sig &&
		!m.ignore[sig] &&
		!(sig == unix.SIGCONT && m.suspended) &&
		m.policy.Delays[sig] == 0 &&
		!m.isStop(sig) &&
		!(m.policy.SuspendOnJobSignal && forward.JobControl(sig))
}

// asIsSet is forwardsAsIs for every forwardable signal, as a forward.Set.
func (m *machine) asIsSet() forward.Set {
	var set forward.Set
	for _, sig := range forward.ForwardableSignals() {
		if m.forwardsAsIs(sig) {
			set = set.With(sig)
		}
	}
	return set
}

// deadline is when the machine next wants an evTick, if ever. An idle
// pidone has none, so nothing wakes it.
func (m *machine) deadline() (time.Time, bool) {
	var d time.Time
	if m.phase == stopping {
		d = m.graceEnd
	}
	for _, h := range m.held {
		if d.IsZero() || h.due.Before(d) {
			d = h.due
		}
	}
	return d, !d.IsZero()
}

// killedByPidone reports whether SIGKILL went out from pidone: a main child
// that dies of SIGKILL now most likely got it from the grace period's end.
func (m *machine) killedByPidone() bool { return m.phase == killing }

// isStop reports whether pidone, receiving sig, is being asked to stop:
// SIGTERM or SIGINT, or whatever the rewrite table turns into one of them.
// A signal rewritten to Drop asks for nothing.
func (m *machine) isStop(sig unix.Signal) bool {
	to, ok := m.policy.Rewrites.Apply(sig)
	return m.policy.StopOnRequest && ok &&
		(sig == unix.SIGTERM || sig == unix.SIGINT || to == unix.SIGTERM || to == unix.SIGINT)
}

func (m *machine) received(sig unix.Signal, now time.Time) []action {
	if m.ignore[sig] {
		delete(m.ignore, sig)
		return nil
	}
	var acts []action
	if sig == unix.SIGCONT && m.suspended {
		// Resumed (fg in the shell above): the child gets the terminal
		// back before it gets the SIGCONT forwarded below.
		m.suspended = false
		acts = append(acts, action{kind: actHandTerminal})
	}
	delay := m.policy.Delays[sig]
	if m.isStop(sig) {
		// Asked again while a stop is held or under way: move on one
		// step (held -> stop now, grace -> SIGKILL now).
		if i := slices.IndexFunc(m.held, func(h held) bool { return h.stop }); i >= 0 {
			h := m.held[i]
			return append(acts, m.beginStop(m.rewrite(h.signal), now)...)
		}
		switch m.phase {
		case stopping:
			return append(acts, m.killNow()...)
		case killing:
			return acts
		}
		if delay > 0 {
			m.held = append(m.held, held{signal: sig, due: now.Add(delay), stop: true})
			return acts
		}
		return append(acts, m.beginStop(m.rewrite(sig), now)...)
	}
	if delay > 0 {
		m.held = append(m.held, held{signal: sig, due: now.Add(delay)})
		return acts
	}
	return append(acts, m.deliver(sig)...)
}

// rewrite returns the signal to send for a received sig (0 if dropped).
func (m *machine) rewrite(sig unix.Signal) unix.Signal {
	to, _ := m.policy.Rewrites.Apply(sig)
	return to
}

// deliver acts on a received signal that is not a stop request, now that
// any delay is over: forward it to the main child while there is one, to
// whatever is left while --wait-all waits, and nowhere otherwise.
func (m *machine) deliver(sig unix.Signal) []action {
	var acts []action
	if to, ok := m.policy.Rewrites.Apply(sig); ok {
		switch {
		case m.mainAlive:
			acts = append(acts, action{kind: actForward, signal: to})
		case m.phase == draining:
			acts = append(acts, action{kind: actSignalRest, signal: to})
		}
	}
	// dumb-init suspends itself after a job-control signal even when the
	// rewrite table dropped or changed it (its README says so).
	if m.policy.SuspendOnJobSignal && forward.JobControl(sig) {
		acts = append(acts, action{kind: actSuspendSelf})
	}
	return acts
}

// beginStop sends sig to everything and starts the grace period; with no
// grace period it kills at once.
func (m *machine) beginStop(sig unix.Signal, now time.Time) []action {
	m.held = slices.DeleteFunc(m.held, func(h held) bool { return h.stop })
	if m.policy.Grace <= 0 || sig == 0 {
		return m.killNow()
	}
	m.phase, m.stopSig, m.graceEnd = stopping, sig, now.Add(m.policy.Grace)
	return []action{{kind: actStopAll, signal: sig}, {kind: actCheckEmpty}}
}

func (m *machine) killNow() []action {
	m.phase = killing
	return []action{{kind: actKillAll}, {kind: actCheckEmpty}}
}

func (m *machine) mainExited(code int, now time.Time) []action {
	m.mainAlive, m.code = false, code
	if m.phase != running {
		return nil
	}
	if m.policy.WaitAll {
		m.phase = draining
		return []action{{kind: actCheckEmpty}}
	}
	// Whatever is left gets SIGTERM, or the stop signal of a stop request
	// still held by --delay (the child did not wait for it).
	stop := unix.SIGTERM
	if i := slices.IndexFunc(m.held, func(h held) bool { return h.stop }); i >= 0 {
		stop = m.rewrite(m.held[i].signal)
	}
	return m.beginStop(stop, now)
}

func (m *machine) mainStopped(sig unix.Signal) []action {
	if !m.policy.FollowStops || !forward.JobControl(sig) || !m.mainAlive || m.phase != running {
		return nil
	}
	if m.policy.PID1 {
		// Nothing above a namespace's init can resume a job: a stopped
		// foreground child would leave the terminal dead. Ctrl-Z is
		// undone at once.
		return []action{{kind: actContinueMain}}
	}
	// Below a shell: stop as the child did, so that the shell sees its
	// job stopped and takes the terminal; resume on SIGCONT (fg).
	m.suspended = true
	return []action{{kind: actReclaimTerminal}, {kind: actSuspendSelf}}
}

func (m *machine) tick(now time.Time) []action {
	var acts []action
	for {
		i := -1
		for j, h := range m.held {
			if !h.due.After(now) && (i < 0 || h.due.Before(m.held[i].due)) {
				i = j
			}
		}
		if i < 0 {
			break
		}
		h := m.held[i]
		m.held = slices.Delete(m.held, i, i+1)
		if h.stop {
			if m.phase == running || m.phase == draining {
				acts = append(acts, m.beginStop(m.rewrite(h.signal), now)...)
			}
			continue
		}
		acts = append(acts, m.deliver(h.signal)...)
	}
	if m.phase == stopping && !now.Before(m.graceEnd) {
		acts = append(acts, m.killNow()...)
	}
	return acts
}

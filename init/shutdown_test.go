package supervisor

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pidone/pidone/forward"
	"golang.org/x/sys/unix"
)

// step feeds one event at a time offset from the start and says which
// actions must come back, in order; deadline, when set, is the offset of
// the next wanted tick afterwards (-1: none).
type step struct {
	at       time.Duration
	ev       event
	want     []action
	deadline time.Duration
}

const noDeadline = -1
const anyDeadline = -2

func sig(s unix.Signal) event               { return event{kind: evSignal, signal: s} }
func exited(code int) event                 { return event{kind: evMainExited, code: code} }
func stopped(s unix.Signal) event           { return event{kind: evMainStopped, signal: s} }
func fwd(s unix.Signal) action              { return action{kind: actForward, signal: s} }
func rest(s unix.Signal) action             { return action{kind: actSignalRest, signal: s} }
func stopAll(s unix.Signal) action          { return action{kind: actStopAll, signal: s} }
func catchUp(s unix.Signal) action          { return action{kind: actCatchUp, signal: s} }
func exitWith(code int) action              { return action{kind: actExit, code: code} }
func acts(a ...action) []action             { return a }
func grace(d time.Duration) policy          { return policy{Grace: d, StopOnRequest: true} }
func with(p policy, f func(*policy)) policy { f(&p); return p }

var (
	reaped      = event{kind: evReaped}
	empty       = event{kind: evEmpty}
	tick        = event{kind: evTick}
	killAll     = action{kind: actKillAll}
	checkEmpty  = action{kind: actCheckEmpty}
	suspendSelf = action{kind: actSuspendSelf}
	contMain    = action{kind: actContinueMain}
	reclaim     = action{kind: actReclaimTerminal}
	hand        = action{kind: actHandTerminal}
)

func (a action) String() string {
	name := [...]string{"Forward", "SignalRest", "StopAll", "CatchUp", "KillAll", "ContinueMain",
		"ReclaimTerminal", "HandTerminal", "SuspendSelf", "CheckEmpty", "Exit"}[a.kind]
	switch a.kind {
	case actExit:
		return fmt.Sprintf("%s(%d)", name, a.code)
	case actForward, actSignalRest, actStopAll, actCatchUp:
		return fmt.Sprintf("%s(%s)", name, forward.Name(a.signal))
	}
	return name
}

func show(as []action) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

func TestShutdownMachine(t *testing.T) {
	const s = time.Second
	for _, tc := range []struct {
		doc       string
		policy    policy
		pause     bool
		steps     []step
		killedByP bool // killedByPidone() after the last step
	}{
		{
			doc:    "TERM: stop signal to everything, SIGKILL at the end of the grace period, exit when empty",
			policy: grace(5 * s),
			steps: []step{
				{0, sig(unix.SIGTERM), acts(stopAll(unix.SIGTERM), checkEmpty), 5 * s},
				{1 * s, exited(143), nil, 5 * s},
				{2 * s, reaped, acts(catchUp(unix.SIGTERM)), 5 * s},
				{4 * s, tick, nil, 5 * s}, // an early tick does nothing
				{5 * s, tick, acts(killAll, checkEmpty), noDeadline},
				{5 * s, reaped, acts(killAll), noDeadline},
				{5 * s, empty, acts(exitWith(143)), noDeadline},
			},
			killedByP: true,
		},
		{
			doc:    "TERM: everything exits early, so pidone exits at once without SIGKILL",
			policy: grace(5 * s),
			steps: []step{
				{0, sig(unix.SIGTERM), acts(stopAll(unix.SIGTERM), checkEmpty), 5 * s},
				{0, exited(0), nil, 5 * s},
				{0, empty, acts(exitWith(0)), 5 * s},
			},
		},
		{
			doc:    "a second TERM during the grace period skips the rest of it",
			policy: grace(30 * s),
			steps: []step{
				{0, sig(unix.SIGTERM), acts(stopAll(unix.SIGTERM), checkEmpty), 30 * s},
				{1 * s, sig(unix.SIGTERM), acts(killAll, checkEmpty), noDeadline},
				{1 * s, sig(unix.SIGINT), nil, noDeadline},
				{1 * s, exited(137), nil, noDeadline},
				{1 * s, empty, acts(exitWith(137)), noDeadline},
			},
			killedByP: true,
		},
		{
			doc:    "INT asks to stop too, and INT is the stop signal",
			policy: grace(5 * s),
			steps: []step{
				{0, sig(unix.SIGINT), acts(stopAll(unix.SIGINT), checkEmpty), 5 * s},
				{0, sig(unix.SIGTERM), acts(killAll, checkEmpty), noDeadline},
			},
			killedByP: true,
		},
		{
			doc:    "other signals are forwarded, also during the grace period",
			policy: grace(5 * s),
			steps: []step{
				{0, sig(unix.SIGUSR1), acts(fwd(unix.SIGUSR1)), noDeadline},
				{0, sig(40), acts(fwd(40)), noDeadline},
				{0, sig(unix.SIGTERM), acts(stopAll(unix.SIGTERM), checkEmpty), 5 * s},
				{1 * s, sig(unix.SIGHUP), acts(fwd(unix.SIGHUP)), 5 * s},
				{2 * s, exited(0), nil, 5 * s},
				{3 * s, sig(unix.SIGHUP), nil, 5 * s}, // no main child to forward to
			},
		},
		{
			doc:    "--grace 0 kills at once",
			policy: grace(0),
			steps: []step{
				{0, sig(unix.SIGTERM), acts(killAll, checkEmpty), noDeadline},
				{0, empty, nil, noDeadline}, // the main child is not reaped yet
				{0, exited(137), nil, noDeadline},
				{0, empty, acts(exitWith(137)), noDeadline},
			},
			killedByP: true,
		},
		{
			doc:    "the main child exits: SIGTERM to the rest, grace, SIGKILL",
			policy: grace(2 * s),
			steps: []step{
				{0, exited(3), acts(stopAll(unix.SIGTERM), checkEmpty), 2 * s},
				{1 * s, reaped, acts(catchUp(unix.SIGTERM)), 2 * s},
				{2 * s, tick, acts(killAll, checkEmpty), noDeadline},
				{2 * s, empty, acts(exitWith(3)), noDeadline},
			},
			killedByP: true,
		},
		{
			doc:    "the main child exits and nothing is left: exit at once",
			policy: grace(5 * s),
			steps: []step{
				{0, exited(0), acts(stopAll(unix.SIGTERM), checkEmpty), 5 * s},
				{0, empty, acts(exitWith(0)), 5 * s},
			},
		},
		{
			doc:    "rewrite TERM:QUIT: TERM still asks to stop, and QUIT is the stop signal",
			policy: with(grace(5*s), func(p *policy) { p.Rewrites = forward.Rewrites{unix.SIGTERM: unix.SIGQUIT} }),
			steps: []step{
				{0, sig(unix.SIGTERM), acts(stopAll(unix.SIGQUIT), checkEmpty), 5 * s},
				{0, reaped, acts(catchUp(unix.SIGQUIT)), 5 * s},
			},
		},
		{
			doc: "rewrite HUP:TERM: HUP now asks to stop; USR1:none drops USR1",
			policy: with(grace(5*s), func(p *policy) {
				p.Rewrites = forward.Rewrites{unix.SIGHUP: unix.SIGTERM, unix.SIGUSR1: forward.Drop}
			}),
			steps: []step{
				{0, sig(unix.SIGUSR1), nil, noDeadline},
				{0, sig(unix.SIGHUP), acts(stopAll(unix.SIGTERM), checkEmpty), 5 * s},
			},
		},
		{
			doc:    "rewrite TERM:none: TERM is dropped and asks for nothing",
			policy: with(grace(5*s), func(p *policy) { p.Rewrites = forward.Rewrites{unix.SIGTERM: forward.Drop} }),
			steps: []step{
				{0, sig(unix.SIGTERM), nil, noDeadline},
				{0, sig(unix.SIGINT), acts(stopAll(unix.SIGINT), checkEmpty), 5 * s},
			},
		},
		{
			doc:    "--delay TERM:3s: TERM is held, other signals and reaping go on, then the stop",
			policy: with(grace(5*s), func(p *policy) { p.Delays = forward.Delays{unix.SIGTERM: 3 * s} }),
			steps: []step{
				{0, sig(unix.SIGTERM), nil, 3 * s},
				{1 * s, sig(unix.SIGUSR1), acts(fwd(unix.SIGUSR1)), 3 * s},
				{1 * s, reaped, nil, 3 * s},
				{2 * s, tick, nil, 3 * s},
				{3 * s, tick, acts(stopAll(unix.SIGTERM), checkEmpty), 8 * s},
				{8 * s, tick, acts(killAll, checkEmpty), noDeadline},
			},
			killedByP: true,
		},
		{
			doc:    "--delay: asking again ends the delay, asking a third time skips the grace",
			policy: with(grace(5*s), func(p *policy) { p.Delays = forward.Delays{unix.SIGTERM: 10 * s} }),
			steps: []step{
				{0, sig(unix.SIGTERM), nil, 10 * s},
				{1 * s, sig(unix.SIGINT), acts(stopAll(unix.SIGTERM), checkEmpty), 6 * s},
				{2 * s, sig(unix.SIGTERM), acts(killAll, checkEmpty), noDeadline},
			},
			killedByP: true,
		},
		{
			doc: "--delay of a plain signal, rewritten when it is finally delivered",
			policy: with(grace(5*s), func(p *policy) {
				p.Delays = forward.Delays{unix.SIGHUP: 2 * s, unix.SIGUSR1: 1 * s}
				p.Rewrites = forward.Rewrites{unix.SIGHUP: unix.SIGUSR2}
			}),
			steps: []step{
				{0, sig(unix.SIGHUP), nil, 2 * s},
				{0, sig(unix.SIGUSR1), nil, 1 * s},
				{0, sig(unix.SIGWINCH), acts(fwd(unix.SIGWINCH)), 1 * s},
				{5 * s, tick, acts(fwd(unix.SIGUSR1), fwd(unix.SIGUSR2)), noDeadline}, // in due order
			},
		},
		{
			doc: "the main child exits while a delayed stop is held: the held stop signal goes to the rest now",
			policy: with(grace(5*s), func(p *policy) {
				p.Delays = forward.Delays{unix.SIGTERM: 10 * s}
				p.Rewrites = forward.Rewrites{unix.SIGTERM: unix.SIGQUIT}
			}),
			steps: []step{
				{0, sig(unix.SIGTERM), nil, 10 * s},
				{1 * s, exited(0), acts(stopAll(unix.SIGQUIT), checkEmpty), 6 * s},
				{10 * s, tick, acts(killAll, checkEmpty), noDeadline},
			},
			killedByP: true,
		},
		{
			doc:    "--wait-all: after the main child, wait for the rest; signals go to the rest",
			policy: with(grace(5*s), func(p *policy) { p.WaitAll = true }),
			steps: []step{
				{0, exited(4), acts(checkEmpty), noDeadline},
				{1 * s, reaped, nil, noDeadline},
				{1 * s, sig(unix.SIGHUP), acts(rest(unix.SIGHUP)), noDeadline},
				{9 * s, empty, acts(exitWith(4)), noDeadline},
			},
		},
		{
			doc:    "--wait-all: a stop request still stops everything",
			policy: with(grace(5*s), func(p *policy) { p.WaitAll = true }),
			steps: []step{
				{0, exited(4), acts(checkEmpty), noDeadline},
				{1 * s, sig(unix.SIGTERM), acts(stopAll(unix.SIGTERM), checkEmpty), 6 * s},
				{2 * s, empty, acts(exitWith(4)), 6 * s},
			},
		},
		{
			doc:    "a peer personality: TERM is only forwarded; the rest is killed when the main child exits",
			policy: policy{},
			steps: []step{
				{0, sig(unix.SIGTERM), acts(fwd(unix.SIGTERM)), noDeadline},
				{0, sig(unix.SIGINT), acts(fwd(unix.SIGINT)), noDeadline},
				{1 * s, exited(143), acts(killAll, checkEmpty), noDeadline},
				{1 * s, empty, acts(exitWith(143)), noDeadline},
			},
			killedByP: true,
		},
		{
			doc: "dumb-init: TSTP goes out as STOP (its setsid default) and pidone suspends itself",
			policy: policy{SuspendOnJobSignal: true, Rewrites: forward.Rewrites{
				unix.SIGTSTP: unix.SIGSTOP, unix.SIGTTIN: forward.Drop}},
			steps: []step{
				{0, sig(unix.SIGTSTP), acts(fwd(unix.SIGSTOP), suspendSelf), noDeadline},
				{0, sig(unix.SIGCONT), acts(fwd(unix.SIGCONT)), noDeadline},
				{0, sig(unix.SIGTTIN), acts(suspendSelf), noDeadline}, // even when dropped
				{0, sig(unix.SIGTTOU), acts(fwd(unix.SIGTTOU), suspendSelf), noDeadline},
			},
		},
		{
			doc:    "dumb-init after TIOCNOTTY: the kernel's first SIGHUP and SIGCONT are not forwarded",
			policy: policy{IgnoreOnce: []unix.Signal{unix.SIGHUP, unix.SIGCONT}},
			steps: []step{
				{0, sig(unix.SIGCONT), nil, noDeadline},
				{0, sig(unix.SIGHUP), nil, noDeadline},
				{0, sig(unix.SIGHUP), acts(fwd(unix.SIGHUP)), noDeadline},
				{0, sig(unix.SIGCONT), acts(fwd(unix.SIGCONT)), noDeadline},
			},
		},
		{
			doc:    "terminal, PID 1: a job-control stop of the main child is undone; SIGSTOP is left alone",
			policy: with(grace(5*s), func(p *policy) { p.FollowStops, p.PID1 = true, true }),
			steps: []step{
				{0, stopped(unix.SIGTSTP), acts(contMain), noDeadline},
				{0, stopped(unix.SIGTTIN), acts(contMain), noDeadline},
				{0, stopped(unix.SIGSTOP), nil, noDeadline},
			},
		},
		{
			doc:    "terminal, below a shell: pidone stops with the child and hands the terminal back on SIGCONT",
			policy: with(grace(5*s), func(p *policy) { p.FollowStops = true }),
			steps: []step{
				{0, stopped(unix.SIGTSTP), acts(reclaim, suspendSelf), noDeadline},
				{9 * s, sig(unix.SIGCONT), acts(hand, fwd(unix.SIGCONT)), noDeadline},
				{9 * s, sig(unix.SIGCONT), acts(fwd(unix.SIGCONT)), noDeadline},
			},
		},
		{
			doc:    "no terminal rules without FollowStops (no terminal, or a peer personality)",
			policy: grace(5 * s),
			steps: []step{
				{0, stopped(unix.SIGTSTP), nil, noDeadline},
			},
		},
		{
			doc:    "pause mode: other signals go nowhere, orphans come and go, TERM ends it with 0",
			policy: grace(5 * s),
			pause:  true,
			steps: []step{
				{0, sig(unix.SIGUSR1), nil, noDeadline},
				{0, reaped, nil, noDeadline},
				{0, empty, nil, noDeadline},
				{0, sig(unix.SIGTERM), acts(stopAll(unix.SIGTERM), checkEmpty), 5 * s},
				{0, empty, acts(exitWith(0)), 5 * s},
			},
		},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			start := time.Unix(1_000_000, 0)
			m := newMachine(tc.policy, !tc.pause)
			if _, ok := m.deadline(); ok {
				t.Fatalf("a new machine wants a tick: an idle pidone would wake up")
			}
			for i, st := range tc.steps {
				got := m.handle(st.ev, start.Add(st.at))
				if !slices.Equal(got, st.want) {
					t.Fatalf("step %d (at %v, event %+v): got %s, want %s", i, st.at, st.ev, show(got), show(st.want))
				}
				// The supervisor skips waking up for orphans when the
				// machine says it would not act on them (evReaped changes
				// no state, so asking is safe).
				acted := len(m.handle(event{kind: evReaped}, start.Add(st.at))) > 0
				if m.wantsReaped() != acted {
					t.Fatalf("step %d: wantsReaped = %v, but evReaped gives %v actions in phase %v", i, m.wantsReaped(), acted, m.phase)
				}
				checkForwardsAsIs(t, i, m, start.Add(st.at))
				d, ok := m.deadline()
				switch {
				case st.deadline == anyDeadline:
				case st.deadline == noDeadline && ok:
					t.Fatalf("step %d: deadline at %v, want none", i, d.Sub(start))
				case st.deadline >= 0 && (!ok || !d.Equal(start.Add(st.deadline))):
					t.Fatalf("step %d: deadline %v (set=%v), want at %v", i, d.Sub(start), ok, st.deadline)
				}
			}
			if got := m.killedByPidone(); got != tc.killedByP {
				t.Errorf("killedByPidone = %v, want %v", got, tc.killedByP)
			}
		})
	}
}

// checkForwardsAsIs holds forwardsAsIs to what the machine does: for every
// forwardable signal, receiving it in the machine's state (on a copy) gives
// exactly one forward of that signal and no change of state if, and only
// if, forwardsAsIs says so. A signal the shortcut forwards therefore goes
// out exactly as the event loop would have sent it.
func checkForwardsAsIs(t *testing.T, step int, m *machine, now time.Time) {
	t.Helper()
	for _, sig := range forward.ForwardableSignals() {
		c := m.clone()
		got := c.handle(event{kind: evSignal, signal: sig}, now)
		asIs := slices.Equal(got, []action{{kind: actForward, signal: sig}}) && reflect.DeepEqual(c, m)
		if m.forwardsAsIs(sig) != asIs {
			t.Fatalf("step %d, %s: forwardsAsIs = %v, but receiving it gives %s (state changed: %v)",
				step, forward.Name(sig), m.forwardsAsIs(sig), show(got), !reflect.DeepEqual(c, m))
		}
	}
}

// clone copies the machine deeply enough that handling an event on the copy
// leaves m untouched.
func (m *machine) clone() *machine {
	c := *m
	c.held = slices.Clone(m.held)
	c.ignore = maps.Clone(m.ignore)
	return &c
}

package workers

import (
	"fmt"
	"time"
)

// Restart says which exits of a worker are followed by a respawn.
type Restart int

// The restart policies of --restart.
const (
	RestartAlways    Restart = iota // respawn after every exit
	RestartOnFailure                // respawn unless the worker exited 0
	RestartNever                    // never respawn
)

func (r Restart) String() string {
	return [...]string{"always", "on-failure", "never"}[r]
}

// Throttle is the rule that paces respawns of a crashing worker.
type Throttle int

// The throttles of --throttle.
const (
	// ThrottleBackoff waits longer after each consecutive crash.
	ThrottleBackoff Throttle = iota
	// ThrottleHmain is libhv hmain's rule, reproduced exactly.
	ThrottleHmain
)

func (t Throttle) String() string {
	return [...]string{"backoff", "hmain"}[t]
}

// hmain respawns a dead worker "if (spawn_cnt < 3 || run_time > 3600)"
// (libhv base/hmain.c, master_workers_run), and otherwise never again.
const (
	hmainMaxSpawns  = 3
	hmainHealthyRun = 3600 * time.Second
)

// jitterShare is the largest part of a backoff delay that jitter takes off
// (1/5: a delay is shortened by a random 0-20%). Workers that crash together
// then do not come back in lock step, and no delay exceeds --backoff-max.
const jitterShare = 5

// GiveUp gives a slot up after Count deaths within Window (--give-up
// COUNT/WINDOW). A zero Count turns it off.
type GiveUp struct {
	Count  int
	Window time.Duration
}

func (g GiveUp) String() string {
	if g.Count == 0 {
		return "off"
	}
	return fmt.Sprintf("%d/%v", g.Count, g.Window)
}

// Policy is the respawn rule of one worker group.
type Policy struct {
	Restart  Restart
	Throttle Throttle
	// BackoffMin is the delay before the second consecutive respawn (the
	// first is immediate); each further one doubles it, up to BackoffMax.
	BackoffMin, BackoffMax time.Duration
	// BackoffReset is the uptime after which a run counts as healthy: the
	// next death starts the backoff sequence over.
	BackoffReset time.Duration
	GiveUp       GiveUp
	// FatalExit lists exit codes that give the slot up at once.
	FatalExit []int
}

// DefaultPolicy is the policy when no option says otherwise.
func DefaultPolicy() Policy {
	return Policy{
		Restart:      RestartAlways,
		Throttle:     ThrottleBackoff,
		BackoffMin:   100 * time.Millisecond,
		BackoffMax:   30 * time.Second,
		BackoffReset: 60 * time.Second,
	}
}

// Validate reports a policy that cannot work, naming the setting.
func (p Policy) Validate() error {
	switch {
	case p.BackoffMin <= 0:
		return fmt.Errorf("backoff-min must be positive, not %v", p.BackoffMin)
	case p.BackoffMax < p.BackoffMin:
		return fmt.Errorf("backoff-max (%v) is below backoff-min (%v)", p.BackoffMax, p.BackoffMin)
	case p.BackoffReset <= 0:
		return fmt.Errorf("backoff-reset must be positive, not %v", p.BackoffReset)
	case p.GiveUp.Count < 0 || p.GiveUp.Count > 0 && p.GiveUp.Window <= 0:
		return fmt.Errorf("give-up must be COUNT/WINDOW with COUNT >= 1 and a positive WINDOW, not %v", p.GiveUp)
	}
	for _, c := range p.FatalExit {
		if c < 0 || c > 255 {
			return fmt.Errorf("fatal exit code %d is not in 0..255", c)
		}
	}
	return nil
}

// History is what a slot remembers of its past runs for throttling. The
// zero value is a slot that never ran.
type History struct {
	// Spawns counts spawn attempts, failed ones included: hmain's
	// spawn_cnt, which counts the first spawn and never resets (only a
	// reload gives a slot a fresh History).
	Spawns int
	// Failures counts deaths since the last healthy run; it is the
	// exponent of the backoff.
	Failures int
	// Deaths holds the times of the recent deaths inside the give-up
	// window, oldest first, at most GiveUp.Count of them.
	Deaths []time.Time
}

// Death is the end of one run of a worker. Times come from the monotonic
// clock (time.Now, never a wall-clock reading), so a clock step cannot make
// a crash loop look healthy.
type Death struct {
	Started, Ended time.Time
	// Code is the exit status as a shell decodes it (signal S: 128+S). A
	// failed spawn has 127 (not found) or 126 (other) and zero length.
	Code int
}

// Verdict is what happens to a slot whose worker died.
type Verdict struct {
	Respawn bool
	// Delay is the wait before the respawn.
	Delay time.Duration
	// Clean is true when the slot is not respawned because the restart
	// policy is satisfied (exit 0 under on-failure or never): the slot
	// finished rather than failed.
	Clean bool
	// Reason says why the slot is not respawned.
	Reason string
}

// Decide applies the policy to a slot whose worker just died (r), and
// updates the slot's history. jitter returns a random number in [0, 1); it
// is a parameter so tests can fix it. Decide has no other inputs: no clock,
// no randomness, no I/O.
func (p Policy) Decide(h *History, r Death, jitter func() float64) Verdict {
	uptime := r.Ended.Sub(r.Started)
	switch {
	case p.Restart == RestartNever:
		return Verdict{Clean: r.Code == 0, Reason: fmt.Sprintf("exited with %d and --restart is never", r.Code)}
	case p.Restart == RestartOnFailure && r.Code == 0:
		return Verdict{Clean: true, Reason: "exited with 0 and --restart is on-failure"}
	case p.isFatal(r.Code):
		return Verdict{Reason: fmt.Sprintf("exit code %d is fatal", r.Code)}
	}
	if p.GiveUp.Count > 0 {
		h.Deaths = append(h.Deaths, r.Ended)
		for len(h.Deaths) > 0 && r.Ended.Sub(h.Deaths[0]) >= p.GiveUp.Window {
			h.Deaths = h.Deaths[1:]
		}
		if len(h.Deaths) >= p.GiveUp.Count {
			return Verdict{Reason: fmt.Sprintf("died %d times within %v", len(h.Deaths), p.GiveUp.Window)}
		}
	}
	if p.Throttle == ThrottleHmain {
		if h.Spawns < hmainMaxSpawns || uptime > hmainHealthyRun {
			return Verdict{Respawn: true}
		}
		return Verdict{Reason: fmt.Sprintf("hmain throttle: spawned %d times and the last run lasted %v (not over %v)",
			h.Spawns, uptime, hmainHealthyRun)}
	}
	if uptime >= p.BackoffReset {
		h.Failures = 0
	}
	h.Failures++
	return Verdict{Respawn: true, Delay: p.backoff(h.Failures, jitter)}
}

// backoff is the delay before respawn number n of a crash sequence: the
// first is immediate, then BackoffMin doubling up to BackoffMax, each
// shortened by up to 1/jitterShare at random.
func (p Policy) backoff(n int, jitter func() float64) time.Duration {
	if n <= 1 {
		return 0
	}
	d := p.BackoffMin
	for i := 2; i < n && d < p.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, p.BackoffMax)
	return d - time.Duration(float64(d/jitterShare)*jitter())
}

func (p Policy) isFatal(code int) bool {
	for _, c := range p.FatalExit {
		if c == code {
			return true
		}
	}
	return false
}

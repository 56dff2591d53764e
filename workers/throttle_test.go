package workers

import (
	"strings"
	"testing"
	"time"
)

// clock is an injected monotonic clock: a base reading plus offsets, so
// every time carries a monotonic component, as time.Now's do.
type clock struct{ base time.Time }

func newClock() clock { return clock{time.Now()} }

func (c clock) at(d time.Duration) time.Time { return c.base.Add(d) }

func noJitter() float64   { return 0 }
func fullJitter() float64 { return 0.999999 }

// crashLoop feeds policy p a worker that dies after each run of length run,
// respawned after exactly the delay p decides, and returns the verdicts.
func crashLoop(p Policy, h *History, c clock, start time.Duration, run time.Duration, n int, jitter func() float64) []Verdict {
	var vs []Verdict
	t := start
	for range n {
		h.Spawns++
		v := p.Decide(h, Death{Started: c.at(t), Ended: c.at(t + run), Code: 1}, jitter)
		vs = append(vs, v)
		if !v.Respawn {
			break
		}
		t += run + v.Delay
	}
	return vs
}

func delays(vs []Verdict) []time.Duration {
	var ds []time.Duration
	for _, v := range vs {
		ds = append(ds, v.Delay)
	}
	return ds
}

func TestBackoffSequence(t *testing.T) {
	const ms = time.Millisecond
	for _, tc := range []struct {
		doc      string
		min, max time.Duration
		jitter   func() float64
		want     []time.Duration
	}{
		{"first respawn immediate, then min doubling to max", 100 * ms, 30 * time.Second, noJitter,
			[]time.Duration{0, 100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms, 12800 * ms, 25600 * ms, 30 * time.Second, 30 * time.Second}},
		{"max not a power-of-two multiple of min is reached exactly", 100 * ms, 350 * ms, noJitter,
			[]time.Duration{0, 100 * ms, 200 * ms, 350 * ms, 350 * ms}},
		{"max equal to min", 50 * ms, 50 * ms, noJitter,
			[]time.Duration{0, 50 * ms, 50 * ms}},
		{"jitter takes off at most a fifth, never adds", 100 * ms, 400 * ms, fullJitter,
			[]time.Duration{0, 80 * ms, 160 * ms, 320 * ms, 320 * ms}},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			p := DefaultPolicy()
			p.BackoffMin, p.BackoffMax = tc.min, tc.max
			got := delays(crashLoop(p, &History{}, newClock(), 0, 10*ms, len(tc.want), tc.jitter))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d verdicts %v, want %v", len(got), got, tc.want)
			}
			for i := range got {
				// Jitter is float arithmetic: allow a microsecond.
				if d := got[i] - tc.want[i]; d > time.Microsecond || d < -time.Microsecond {
					t.Errorf("delay %d = %v, want %v (all: %v)", i+1, got[i], tc.want[i], got)
				}
			}
		})
	}
}

func TestBackoffJitterStaysInRange(t *testing.T) {
	p := DefaultPolicy()
	for _, j := range []float64{0, 0.25, 0.5, 0.75, 0.999} {
		for n := 2; n < 20; n++ {
			d := p.backoff(n, func() float64 { return j })
			full := p.backoff(n, noJitter)
			if d > full || d < full-full/jitterShare || d > p.BackoffMax {
				t.Errorf("backoff(%d, jitter %v) = %v; want within [%v, %v]", n, j, d, full-full/jitterShare, full)
			}
		}
	}
}

func TestBackoffResetsAfterHealthyUptime(t *testing.T) {
	c := newClock()
	p := DefaultPolicy() // min 100ms, reset 60s
	h := &History{}
	crashLoop(p, h, c, 0, time.Second, 4, noJitter) // delays 0, 100ms, 200ms, 400ms
	if h.Failures != 4 {
		t.Fatalf("after 4 quick crashes: %d failures, want 4", h.Failures)
	}
	for _, tc := range []struct {
		doc    string
		uptime time.Duration
		want   time.Duration
	}{
		{"just short of the reset keeps doubling", 59 * time.Second, 800 * time.Millisecond},
		{"a run of exactly backoff-reset is healthy: immediate again", 60 * time.Second, 0},
		{"and the sequence starts over", time.Second, 100 * time.Millisecond},
	} {
		start := c.at(time.Hour)
		v := p.Decide(h, Death{Started: start, Ended: start.Add(tc.uptime), Code: 1}, noJitter)
		if !v.Respawn || v.Delay != tc.want {
			t.Errorf("%s: verdict %+v, want respawn after %v", tc.doc, v, tc.want)
		}
		c.base = c.base.Add(2 * time.Hour)
	}
}

func TestHmainThrottle(t *testing.T) {
	c := newClock()
	p := DefaultPolicy()
	p.Throttle = ThrottleHmain
	for _, tc := range []struct {
		doc    string
		runs   []time.Duration // each run's length, in order
		spawns []bool          // whether each death is followed by a respawn
	}{
		{"a crash loop is spawned exactly 3 times", []time.Duration{0, 0, 0}, []bool{true, true, false}},
		{"a run over 3600 s earns a respawn even past 3 spawns",
			[]time.Duration{0, 0, 3601 * time.Second, 0}, []bool{true, true, true, false}},
		{"exactly 3600 s is not over 3600 s", []time.Duration{0, 0, 3600 * time.Second}, []bool{true, true, false}},
		{"a long run early changes nothing: spawn_cnt never resets",
			[]time.Duration{4000 * time.Second, 0, 0}, []bool{true, true, false}},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			h := &History{}
			tm := c.at(0)
			for i, run := range tc.runs {
				h.Spawns++ // hmain counts the spawn before the run
				v := p.Decide(h, Death{Started: tm, Ended: tm.Add(run), Code: 1}, noJitter)
				if v.Respawn != tc.spawns[i] || v.Respawn && v.Delay != 0 {
					t.Fatalf("death %d (spawns %d, run %v): %+v; want respawn=%v at once", i+1, h.Spawns, run, v, tc.spawns[i])
				}
				tm = tm.Add(run)
			}
		})
	}
}

func TestRestartPolicyAndFatalCodes(t *testing.T) {
	c := newClock()
	for _, tc := range []struct {
		doc     string
		restart Restart
		fatal   []int
		code    int
		respawn bool
		clean   bool
		reason  string
	}{
		{"always respawns a clean exit", RestartAlways, nil, 0, true, false, ""},
		{"always respawns a crash", RestartAlways, nil, 1, true, false, ""},
		{"on-failure finishes a clean exit", RestartOnFailure, nil, 0, false, true, "on-failure"},
		{"on-failure respawns a crash", RestartOnFailure, nil, 3, true, false, ""},
		{"on-failure respawns death by signal", RestartOnFailure, nil, 128 + 15, true, false, ""},
		{"never finishes a clean exit", RestartNever, nil, 0, false, true, "never"},
		{"never gives up after a crash", RestartNever, nil, 2, false, false, "never"},
		{"a fatal code gives up at once", RestartAlways, []int{78, 3}, 3, false, false, "fatal"},
		{"other codes are not fatal", RestartAlways, []int{78}, 3, true, false, ""},
		{"fatal 0 under always", RestartAlways, []int{0}, 0, false, false, "fatal"},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			p := DefaultPolicy()
			p.Restart, p.FatalExit = tc.restart, tc.fatal
			v := p.Decide(&History{Spawns: 1}, Death{Started: c.at(0), Ended: c.at(time.Second), Code: tc.code}, noJitter)
			if v.Respawn != tc.respawn || v.Clean != tc.clean || !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("exit %d: %+v; want respawn=%v clean=%v reason ~ %q", tc.code, v, tc.respawn, tc.clean, tc.reason)
			}
		})
	}
}

func TestGiveUpWindow(t *testing.T) {
	c := newClock()
	p := DefaultPolicy()
	p.GiveUp = GiveUp{Count: 3, Window: 10 * time.Second}
	for _, tc := range []struct {
		doc    string
		deaths []time.Duration // death times
		last   bool            // respawn after the last one?
	}{
		{"3 deaths within the window give up", []time.Duration{0, time.Second, 2 * time.Second}, false},
		{"2 deaths do not", []time.Duration{0, time.Second}, true},
		{"deaths spread wider than the window do not", []time.Duration{0, 6 * time.Second, 12 * time.Second}, true},
		{"a death exactly one window ago has left it", []time.Duration{0, 5 * time.Second, 10 * time.Second}, true},
		{"old deaths age out, new ones count", []time.Duration{0, 20 * time.Second, 21 * time.Second, 22 * time.Second}, false},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			h := &History{}
			var v Verdict
			for i, d := range tc.deaths {
				v = p.Decide(h, Death{Started: c.at(d), Ended: c.at(d), Code: 1}, noJitter)
				if i < len(tc.deaths)-1 && !v.Respawn {
					t.Fatalf("gave up early, at death %d: %+v", i+1, v)
				}
			}
			if v.Respawn != tc.last {
				t.Errorf("last death: %+v; want respawn=%v", v, tc.last)
			}
			if len(h.Deaths) > p.GiveUp.Count {
				t.Errorf("history keeps %d deaths; at most %d are needed", len(h.Deaths), p.GiveUp.Count)
			}
		})
	}
}

func TestGiveUpAppliesToHmainToo(t *testing.T) {
	c := newClock()
	p := DefaultPolicy()
	p.Throttle, p.GiveUp = ThrottleHmain, GiveUp{Count: 2, Window: time.Minute}
	vs := crashLoop(p, &History{}, c, 0, 0, 5, noJitter)
	if len(vs) != 2 || vs[1].Respawn || !strings.Contains(vs[1].Reason, "2 times") {
		t.Errorf("verdicts %+v; want a give-up at the second death", vs)
	}
}

func TestPolicyValidate(t *testing.T) {
	ok := DefaultPolicy()
	if err := ok.Validate(); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	for _, tc := range []struct {
		doc  string
		edit func(*Policy)
		want string
	}{
		{"zero backoff-min would spin", func(p *Policy) { p.BackoffMin = 0 }, "backoff-min"},
		{"max below min", func(p *Policy) { p.BackoffMax = p.BackoffMin / 2 }, "backoff-max"},
		{"zero reset", func(p *Policy) { p.BackoffReset = 0 }, "backoff-reset"},
		{"give-up without window", func(p *Policy) { p.GiveUp = GiveUp{Count: 2} }, "give-up"},
		{"fatal code out of range", func(p *Policy) { p.FatalExit = []int{256} }, "256"},
	} {
		p := DefaultPolicy()
		tc.edit(&p)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v; want an error about %s", tc.doc, err, tc.want)
		}
	}
}

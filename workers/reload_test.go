package workers

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// reloadSignal is one reload signal the master takes at offset at.
type reloadSignal struct {
	at   time.Duration
	mode ReloadMode
}

// madeReload is one reload the gate let through.
type madeReload struct {
	at   time.Duration
	mode ReloadMode
}

func (r madeReload) String() string { return fmt.Sprintf("%v %v", r.at, r.mode) }

// runGate plays signals through a reloadGate the way the master's loop
// does: its timer fires at the gate's deadline, every reload's fan-out
// takes fanout, and the hold starts when the fan-out ends. stopAt, if not
// zero, stops the master then.
func runGate(signals []reloadSignal, fanout, stopAt time.Duration) []madeReload {
	c := newClock()
	var g reloadGate
	var made []madeReload
	reload := func(at time.Duration, mode ReloadMode) {
		made = append(made, madeReload{at, mode})
		g.done(c.at(at + fanout))
	}
	for i := 0; ; {
		if d := g.deadline(); !d.IsZero() && (i == len(signals) || !c.at(signals[i].at).Before(d)) {
			at := d.Sub(c.base)
			if stopAt != 0 && at >= stopAt {
				g.cancel()
				continue
			}
			if mode, ok := g.due(d); ok {
				reload(at, mode)
			}
			continue
		}
		if i == len(signals) {
			return made
		}
		s := signals[i]
		i++
		if mode, ok := g.request(c.at(s.at), s.mode); ok {
			reload(s.at, mode)
		}
	}
}

// every returns n plain reload signals, gap apart from start.
func every(start, gap time.Duration, n int) []reloadSignal {
	var s []reloadSignal
	for i := range n {
		s = append(s, reloadSignal{start + time.Duration(i)*gap, ReloadSignal})
	}
	return s
}

func TestReloadGate(t *testing.T) {
	const ms = time.Millisecond
	const fanout = 15 * ms
	hold := fanout + reloadHoldoff // from a leading reload to its trailing one
	for _, tc := range []struct {
		doc     string
		signals []reloadSignal
		stopAt  time.Duration
		want    []madeReload
	}{
		{"one signal: a reload at once", every(0, 0, 1), 0,
			[]madeReload{{0, ReloadSignal}}},
		{"two signals 5 ms apart: at once, then one that reads the newest configuration", every(0, 5*ms, 2), 0,
			[]madeReload{{0, ReloadSignal}, {hold, ReloadSignal}}},
		{"a burst of 50 in 50 ms: two reloads", every(0, ms, 50), 0,
			[]madeReload{{0, ReloadSignal}, {hold, ReloadSignal}}},
		{"a storm of 300 in 300 ms: one reload per hold", every(0, ms, 300), 0,
			[]madeReload{{0, ReloadSignal}, {hold, ReloadSignal}, {2 * hold, ReloadSignal}, {3 * hold, ReloadSignal}}},
		{"a signal after the hold: at once again", []reloadSignal{{0, ReloadSignal}, {200 * ms, ReloadSignal}}, 0,
			[]madeReload{{0, ReloadSignal}, {200 * ms, ReloadSignal}}},
		{"a signal the moment the hold ends: at once", []reloadSignal{{0, ReloadSignal}, {hold, ReloadSignal}}, 0,
			[]madeReload{{0, ReloadSignal}, {hold, ReloadSignal}}},
		{"a signal during the fan-out is not lost", []reloadSignal{{0, ReloadSignal}, {fanout / 2, ReloadSignal}}, 0,
			[]madeReload{{0, ReloadSignal}, {hold, ReloadSignal}}},
		{"a restart during a plain reload's hold: the trailing reload replaces",
			[]reloadSignal{{0, ReloadSignal}, {10 * ms, ReloadReplace}, {20 * ms, ReloadSignal}}, 0,
			[]madeReload{{0, ReloadSignal}, {hold, ReloadReplace}}},
		{"a plain reload after a restart does not abandon the replacement",
			[]reloadSignal{{0, ReloadReplace}, {10 * ms, ReloadSignal}}, 0,
			[]madeReload{{0, ReloadReplace}, {hold, ReloadReplace}}},
		{"a new burst starts over with its own mode",
			[]reloadSignal{{0, ReloadReplace}, {time.Second, ReloadSignal}, {time.Second + ms, ReloadSignal}}, 0,
			[]madeReload{{0, ReloadReplace}, {time.Second, ReloadSignal}, {time.Second + hold, ReloadSignal}}},
		{"stopping drops the held reload", every(0, ms, 10), 50 * ms,
			[]madeReload{{0, ReloadSignal}}},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			got := runGate(tc.signals, fanout, tc.stopAt)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("reloads %v, want %v", got, tc.want)
			}
		})
	}
}

// TestReloadGateBurstGivesAtMostTwo checks the promise of reloadHoldoff for
// every burst shorter than the hold, whatever the spacing and fan-out: at
// most two reloads, the last one after the last signal.
func TestReloadGateBurstGivesAtMostTwo(t *testing.T) {
	for _, fanout := range []time.Duration{0, time.Millisecond, 30 * time.Millisecond} {
		for _, gap := range []time.Duration{0, 100 * time.Microsecond, time.Millisecond, 7 * time.Millisecond} {
			for n := 1; n <= 40; n++ {
				signals := every(0, gap, n)
				last := signals[n-1].at
				if last >= reloadHoldoff {
					continue
				}
				got := runGate(signals, fanout, 0)
				if len(got) == 0 || len(got) > 2 {
					t.Fatalf("fan-out %v, %d signals %v apart: %d reloads %v, want 1 or 2", fanout, n, gap, len(got), got)
				}
				if got[len(got)-1].at < last {
					t.Fatalf("fan-out %v, %d signals %v apart: last reload at %v, before the last signal at %v", fanout, n, gap, got[len(got)-1].at, last)
				}
				if n > 1 && gap > 0 && len(got) != 2 {
					t.Fatalf("fan-out %v, %d signals %v apart: %d reloads %v; a signal after the first reload needs a second", fanout, n, gap, len(got), got)
				}
			}
		}
	}
}

func TestReloadVerdict(t *testing.T) {
	killed := reloadRecord{Seq: 2, Signal: "SIGHUP", Signalled: 4}
	killed.Killed = 1
	killed.Error = reloadKilledError(killed)
	all := killed
	all.Killed = 4
	all.Error = reloadKilledError(all)
	tests := []struct {
		doc     string
		r       reloadRecord
		settled time.Duration
		want    verdict
	}{
		{"signalled workers may still die of it", reloadRecord{Seq: 2, Signal: "SIGHUP", Signalled: 4}, 0, verdictPending},
		{"none died within the settle time", reloadRecord{Seq: 2, Signal: "SIGHUP", Signalled: 4}, reloadSettle, verdictDone},
		{"no worker was signalled (replace, or none live)", reloadRecord{Seq: 2, Mode: "replace"}, 0, verdictDone},
		{"a rejected configuration fails at once", reloadRecord{Seq: 2, Error: "configuration rejected"}, 0, verdictFailed},
		{"every signalled worker killed fails at once", all, 0, verdictFailed},
		{"some killed: wait for the final count", killed, reloadSettle / 2, verdictPending},
		{"some killed, settled: failed", killed, reloadSettle, verdictFailed},
	}
	for _, tt := range tests {
		if got := reloadVerdict(tt.r, tt.settled); got != tt.want {
			t.Errorf("%s: reloadVerdict(%+v, %v) = %d, want %d", tt.doc, tt.r, tt.settled, got, tt.want)
		}
	}
	if want := "4 of the 4 workers sent SIGHUP died of it"; all.Error != want {
		t.Errorf("error %q, want %q", all.Error, want)
	}
}

func TestCtlHintsForLibhvUsers(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{ctlVerbHint("start"), "there is no start verb"},
		{ctlVerbHint("bogus"), ""},
		{ctlSwitchHint("reload"), "pidone ctl takes the verb as a word: pidone ctl reload --pidfile PATH"},
		{ctlSwitchHint("start"), "there is no start verb"},
		{ctlSwitchHint("bogus"), ""},
		{HmainCommandHint("stop"), "libhv's -s stop is pidone ctl stop --pidfile PATH"},
		{HmainCommandHint("my-server"), ""},
	} {
		if tt.want == "" && tt.got != "" || !strings.Contains(tt.got, tt.want) {
			t.Errorf("hint %q, want it to contain %q", tt.got, tt.want)
		}
	}
}

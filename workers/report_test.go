package workers

import (
	"errors"
	"testing"
	"time"

	"github.com/pidone/pidone/internal/exitreport"
	"golang.org/x/sys/unix"
)

func TestReportOutcome(t *testing.T) {
	stopped := &master{stopRequest: unix.SIGTERM}
	running := &master{}
	for _, tc := range []struct {
		doc    string
		m      *master
		code   int
		err    error
		reason string
		msg    bool
	}{
		{"stop request", stopped, 0, nil, exitreport.ReasonStopRequest, false},
		{"every slot given up", running, ExitGaveUp, nil, exitreport.ReasonGaveUp, false},
		{"every slot finished", running, 0, nil, exitreport.ReasonFinished, false},
		{"a bad configuration file, no master yet", nil, 0, &ConfigError{errors.New("bad\nfile")}, exitreport.ReasonUsage, true},
		{"an unsafe pidfile path", nil, 0, &UnsafePathError{Path: "/tmp/x", Reason: "world-writable"}, exitreport.ReasonUsage, true},
		{"another master", nil, 0, &RunningError{Path: "/run/x.pid", Pid: 7}, exitreport.ReasonRunning, true},
		{"a fatal error while stopping on request", stopped, 0, errors.New("cannot write pidfile"), exitreport.ReasonInternal, true},
	} {
		reason, msg := outcome(tc.m, tc.code, tc.err)
		if reason != tc.reason || (msg != "") != tc.msg {
			t.Errorf("%s: %q %q, want %q (message %v)", tc.doc, reason, msg, tc.reason, tc.msg)
		}
		if msg != "" && msg != errLine(tc.err) {
			t.Errorf("%s: message %q, want the error on one line", tc.doc, msg)
		}
	}
	if got := errLine(errors.New("a\nb")); got != "a b" {
		t.Errorf("errLine: %q", got)
	}
}

// The report's crashes and given_up: deaths the policy judged with a
// status other than 0, failed spawns included; a stop is no crash, and a
// stop does not make the report forget a slot given up.
func TestSlotCrashesAndGaveUp(t *testing.T) {
	c := newClock()
	p := Policy{Restart: RestartAlways, GiveUp: GiveUp{Count: 3, Window: time.Minute}}
	s := NewSlot("main", 0, 1, c.at(0))
	s.Spawned(c.at(0), 10, -1, 0)
	s.Died(c.at(time.Second), 0, p, noJitter) // exit 0 under always: a respawn, no crash
	s.SpawnFailed(c.at(2*time.Second), 127, p, noJitter)
	s.Spawned(c.at(3*time.Second), 11, -1, 0)
	s.Died(c.at(4*time.Second), 139, p, noJitter)
	if s.Crashes != 2 || !s.GaveUp || s.State != GivenUp || s.Spawns != 3 {
		t.Fatalf("%+v: want 3 starts, 2 crashes, given up", s)
	}
	s.Stop(c.at(5*time.Second), time.Second)
	if s.State != Stopped || !s.GaveUp {
		t.Errorf("stopped: %+v; want stopped and still given up", s)
	}
	s.State = GivenUp
	s.Revive(c.at(6*time.Second), 2)
	if s.GaveUp || s.Crashes != 2 {
		t.Errorf("revived: %+v; want not given up, crashes kept", s)
	}
	s.Spawned(c.at(7*time.Second), 12, -1, 0)
	s.Stop(c.at(8*time.Second), time.Second)
	s.Died(c.at(9*time.Second), 143, p, noJitter) // the stop it was asked for
	if s.Crashes != 2 || s.GaveUp {
		t.Errorf("a stop: %+v; want no crash counted", s)
	}
}

package forward

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseRewrite(t *testing.T) {
	for _, tc := range []struct {
		doc      string
		in       string
		from, to unix.Signal
		ok       bool
	}{
		{"names", "TERM:QUIT", unix.SIGTERM, unix.SIGQUIT, true},
		{"numbers (dumb-init style)", "15:3", unix.SIGTERM, unix.SIGQUIT, true},
		{"SIG prefix and case", "sigusr1:SIGUSR2", unix.SIGUSR1, unix.SIGUSR2, true},
		{"drop with 0", "USR1:0", unix.SIGUSR1, Drop, true},
		{"drop with none", "USR1:none", unix.SIGUSR1, Drop, true},
		{"drop with drop", "HUP:DROP", unix.SIGHUP, Drop, true},
		{"realtime both sides", "RTMIN+3:RTMAX-1", 37, 63, true},
		{"to KILL is allowed", "TERM:KILL", unix.SIGTERM, unix.SIGKILL, true},
		{"to STOP is allowed (dumb-init's job-control rule)", "TSTP:STOP", unix.SIGTSTP, unix.SIGSTOP, true},
		{"from KILL: never reaches pidone", "KILL:TERM", 0, 0, false},
		{"from STOP: never reaches pidone", "STOP:TERM", 0, 0, false},
		{"from CHLD: pidone's own", "CHLD:USR1", 0, 0, false},
		{"from PROF: the Go runtime's", "PROF:USR1", 0, 0, false},
		{"from 33: reserved", "33:USR1", 0, 0, false},
		{"from 0", "0:TERM", 0, 0, false},
		{"no colon", "TERM", 0, 0, false},
		{"unknown target", "TERM:NOPE", 0, 0, false},
		{"target out of range", "TERM:65", 0, 0, false},
		{"empty target", "TERM:", 0, 0, false},
	} {
		from, to, err := ParseRewrite(tc.in)
		if (err == nil) != tc.ok || from != tc.from || to != tc.to {
			t.Errorf("%s: ParseRewrite(%q) = %d, %d, %v; want %d, %d, ok=%v", tc.doc, tc.in, from, to, err, tc.from, tc.to, tc.ok)
		}
	}
}

func TestRewritesApply(t *testing.T) {
	r := Rewrites{unix.SIGTERM: unix.SIGQUIT, unix.SIGUSR1: Drop}
	for _, tc := range []struct {
		in   unix.Signal
		want unix.Signal
		ok   bool
	}{
		{unix.SIGTERM, unix.SIGQUIT, true},
		{unix.SIGUSR1, Drop, false},
		{unix.SIGHUP, unix.SIGHUP, true},
		{40, 40, true},
	} {
		got, ok := r.Apply(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Apply(%s) = %d, %v; want %d, %v", Name(tc.in), got, ok, tc.want, tc.ok)
		}
	}
	var none Rewrites
	if got, ok := none.Apply(unix.SIGTERM); got != unix.SIGTERM || !ok {
		t.Errorf("nil table: Apply(SIGTERM) = %d, %v; want SIGTERM, true", got, ok)
	}
}

func TestParseDelay(t *testing.T) {
	for _, tc := range []struct {
		in  string
		sig unix.Signal
		d   time.Duration
		ok  bool
	}{
		{"TERM:5s", unix.SIGTERM, 5 * time.Second, true},
		{"15:1m30s", unix.SIGTERM, 90 * time.Second, true},
		{"SIGINT:250ms", unix.SIGINT, 250 * time.Millisecond, true},
		{"RTMIN+1:1s", 35, time.Second, true},
		{"TERM:0", unix.SIGTERM, 0, true},
		{"TERM:5", 0, 0, false}, // a bare number is ambiguous: say the unit
		{"TERM:-1s", 0, 0, false},
		{"KILL:1s", 0, 0, false},
		{"CHLD:1s", 0, 0, false},
		{"TERM", 0, 0, false},
		{"NOPE:1s", 0, 0, false},
	} {
		sig, d, err := ParseDelay(tc.in)
		if (err == nil) != tc.ok || sig != tc.sig || d != tc.d {
			t.Errorf("ParseDelay(%q) = %d, %v, %v; want %d, %v, ok=%v", tc.in, sig, d, err, tc.sig, tc.d, tc.ok)
		}
	}
}

package forward

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want unix.Signal
		ok   bool
	}{
		{"TERM", unix.SIGTERM, true},
		{"SIGTERM", unix.SIGTERM, true},
		{"sigterm", unix.SIGTERM, true},
		{"15", unix.SIGTERM, true},
		{" hup ", unix.SIGHUP, true},
		{"KILL", unix.SIGKILL, true},
		{"RTMIN", 34, true},
		{"RTMIN+3", 37, true},
		{"SIGRTMIN+30", 64, true},
		{"RTMAX", 64, true},
		{"RTMAX-2", 62, true},
		{"64", 64, true},
		{"RTMIN+31", 0, false},
		{"RTMIN-1", 0, false},
		{"RTMAX+1", 0, false},
		{"RTMIN+x", 0, false},
		{"0", 0, false},
		{"65", 0, false},
		{"-1", 0, false},
		{"NOSUCH", 0, false},
		{"", 0, false},
		// Only plain digits: Atoi alone took a sign, so RTMIN++3 was RTMIN+3.
		{"RTMIN++3", 0, false},
		{"RTMIN+-3", 0, false},
		{"RTMAX--1", 0, false},
		{"RTMAX-+1", 0, false},
		{"RTMIN+", 0, false},
		{"RTMAX-", 0, false},
		{"RTMIN+ 3", 0, false},
		{"RTMIN3", 0, false},
		{"RTMIN+0", 34, true},
		{"RTMAX-0", 64, true},
		{"RTMIN+99999999999999999999", 0, false},
		{"+15", 0, false},
		{"-0", 0, false},
		{"1_5", 0, false},
		{"015", unix.SIGTERM, true},
		{"99999999999999999999", 0, false},
	} {
		got, err := Parse(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseErrorsCutWhatTheyEcho(t *testing.T) {
	long := strings.Repeat("X", 100_000)
	for _, in := range []string{long, "SIG" + long, "RTMIN+" + long, strings.Repeat("9", 100_000)} {
		_, err := Parse(in)
		if err == nil || len(err.Error()) > 200 {
			t.Errorf("Parse(%d bytes): an error of %d bytes, want at most 200: %.120q", len(in), len(err.Error()), err)
		}
	}
	_, err := Parse(long)
	if want := `unknown signal "` + strings.Repeat("X", 64) + `"... (100000 bytes)`; err == nil || err.Error() != want {
		t.Errorf("Parse(100 KB): %v, want %q", err, want)
	}
}

func TestNameRoundTrips(t *testing.T) {
	for sig := unix.Signal(1); sig <= 64; sig++ {
		name := Name(sig)
		if sig >= 32 && sig < rtMin {
			continue // no name: C libraries keep them
		}
		got, err := Parse(name)
		if err != nil || got != sig {
			t.Errorf("Parse(Name(%d) = %q) = %d, %v", sig, name, got, err)
		}
	}
}

func TestForwardableSet(t *testing.T) {
	// The set the docs promise: 1-64 but KILL, STOP, CHLD, PROF and 33.
	notForwarded := map[unix.Signal]string{
		unix.SIGKILL: "cannot be caught", unix.SIGSTOP: "cannot be caught",
		unix.SIGCHLD: "pidone's own", unix.SIGPROF: "Go runtime's profiler",
		33: "Go runtime",
	}
	got := map[unix.Signal]bool{}
	for _, s := range ForwardableSignals() {
		got[s] = true
	}
	for sig := unix.Signal(1); sig <= 64; sig++ {
		why, excluded := notForwarded[sig]
		if got[sig] == excluded {
			t.Errorf("signal %d (%s): forwarded=%v, want %v (%s)", sig, Name(sig), got[sig], !excluded, why)
		}
	}
	if len(got) != 64-len(notForwarded) {
		t.Errorf("%d forwardable signals, want %d", len(got), 64-len(notForwarded))
	}
}

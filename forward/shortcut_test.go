package forward

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestBlockable(t *testing.T) {
	for _, tc := range []struct {
		sig            unix.Signal
		urgIsNeverOurs bool
		want           bool
	}{
		{unix.SIGTERM, false, true},
		{unix.SIGHUP, false, true},
		{unix.SIGUSR1, false, true},
		{unix.SIGCONT, false, true},
		{unix.SIGTSTP, false, true},
		{unix.SIGWINCH, false, true},
		{35, false, true},
		{64, false, true},
		// Raised on the thread that caused them: the runtime's handler
		// must run there.
		{unix.SIGSEGV, true, false},
		{unix.SIGBUS, true, false},
		{unix.SIGFPE, true, false},
		{unix.SIGILL, true, false},
		{unix.SIGTRAP, true, false},
		{unix.SIGSYS, true, false},
		{unix.SIGPIPE, true, false},
		// Not forwardable at all.
		{unix.SIGCHLD, true, false},
		{unix.SIGKILL, true, false},
		{unix.SIGPROF, true, false},
		{33, true, false},
		// SIGURG only when the runtime never sends its own (Catch).
		{unix.SIGURG, true, true},
		{unix.SIGURG, false, false},
	} {
		if got := Blockable(tc.urgIsNeverOurs).Has(tc.sig); got != tc.want {
			t.Errorf("Blockable(%v).Has(%s) = %v, want %v", tc.urgIsNeverOurs, Name(tc.sig), got, tc.want)
		}
	}
}

func TestSetBounds(t *testing.T) {
	all := ^Set(0)
	for _, sig := range []unix.Signal{0, -1, 65, 200} {
		if all.Has(sig) {
			t.Errorf("a full set has signal %d", sig)
		}
	}
	if s := Set(0).With(64); !s.Has(64) || s.Has(63) {
		t.Errorf("Set(0).With(64) = %#x", uint64(s))
	}
}

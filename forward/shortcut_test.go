package forward

import (
	"os"
	"runtime"
	"strconv"
	"strings"
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
		// C libraries' signals: only the main thread can take them.
		{32, false, true},
		{34, false, true},
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

// TestSigsetAsTheKernelReadsIt blocks a set on this thread and reads the
// mask back from /proc, so the conversion is checked by the kernel itself,
// whatever the width of the architecture's sigset words.
func TestSigsetAsTheKernelReadsIt(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, nil, &old); err != nil {
		t.Fatal(err)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)

	for _, want := range []Set{
		Set(0).With(unix.SIGHUP),
		Set(0).With(unix.SIGUSR1).With(31).With(35).With(64),
		Blockable(true),
	} {
		set := want.sigset()
		if err := unix.PthreadSigmask(unix.SIG_SETMASK, &set, nil); err != nil {
			t.Fatal(err)
		}
		status, err := os.ReadFile("/proc/thread-self/status")
		if err != nil {
			t.Fatal(err)
		}
		var got uint64
		for _, line := range strings.Split(string(status), "\n") {
			if hex, ok := strings.CutPrefix(line, "SigBlk:"); ok {
				got, err = strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		if got != uint64(want) {
			t.Errorf("blocked %#x, the kernel has %#x", uint64(want), got)
		}
	}
}

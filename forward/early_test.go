package forward

import (
	"os"
	"testing"

	"github.com/pidone/pidone/internal/entry"
	"golang.org/x/sys/unix"
)

// The entry marks as wanted exactly what init registers when the entry
// ran: a signal marked but never registered would be queued and dropped,
// one registered but not marked would end pidone until its registration.
func TestEntryMarksWhatInitRegisters(t *testing.T) {
	if got := setOf(notifySet(true, false)); got != entry.WantedSet {
		t.Errorf("init registers %#x with the entry, the entry marks %#x", got, entry.WantedSet)
	}
}

func TestStopFirst(t *testing.T) {
	got := stopFirst([]os.Signal{unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGILL, unix.SIGTERM, unix.SIGUSR1})
	want := []os.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGILL, unix.SIGUSR1}
	if len(got) != len(want) {
		t.Fatalf("stopFirst = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("stopFirst = %v, want %v", got, want)
		}
	}
}

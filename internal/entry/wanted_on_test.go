//go:build pidone_sigwanted && (amd64 || arm64)

package entry

import (
	"os"
	"os/signal"
	"testing"

	"golang.org/x/sys/unix"
)

// runtimeBits is set in the runtime's numbering (bit sig for signals 1-31).
func runtimeBits(set uint64) uint32 {
	var bits uint32
	for sig := 1; sig < 32; sig++ {
		if set&(1<<(sig-1)) != 0 {
			bits |= 1 << sig
		}
	}
	return bits
}

// TestWantedMarked: linked with the entry and the tag (`make unit`), rt0
// has marked WantedSet in the word the runtime reads as sig.wanted[0]; and
// that word is the one os/signal's registration sets: a wrong offset in
// wanted_on_GOARCH.s fails here.
func TestWantedMarked(t *testing.T) {
	if !Ran() {
		t.Fatal("built with pidone_sigwanted but without the entry: `make unit` links it with -E")
	}
	if WantedEarly() != WantedSet {
		t.Fatalf("WantedEarly() = %#x, want %#x", WantedEarly(), WantedSet)
	}
	if got := runtimeWanted(); got&runtimeBits(WantedSet) != runtimeBits(WantedSet) {
		t.Fatalf("the runtime's wanted word is %#x, lacks the marked %#x", got, runtimeBits(WantedSet))
	}
	// USR1 is nobody's yet; registering it must set its bit in that word.
	if runtimeWanted()&(1<<unix.SIGUSR1) != 0 {
		t.Fatal("SIGUSR1 wanted before any registration")
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, unix.SIGUSR1)
	defer signal.Stop(c)
	if runtimeWanted()&(1<<unix.SIGUSR1) == 0 {
		t.Fatalf("signal.Notify(SIGUSR1) did not show in the word read as sig.wanted[0] (%#x): the offset is wrong", runtimeWanted())
	}
}

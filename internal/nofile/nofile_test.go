package nofile

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCheck(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if err := Check(1, "test"); err != nil {
		t.Errorf("Check(1): %v, want nil", err)
	}
	// More than the soft limit can ever give.
	need := int(lim.Cur) + 1
	err := Check(need, "test")
	var short *ShortError
	if !errors.As(err, &short) {
		t.Fatalf("Check(%d) with a soft limit of %d: got %v, want a *ShortError", need, lim.Cur, err)
	}
	if short.Need != need || short.Soft != lim.Cur || short.Hard != lim.Max || short.InUse < 3 {
		t.Errorf("got %+v, want Need %d, Soft %d, Hard %d, InUse >= 3 (stdio)", *short, need, lim.Cur, lim.Max)
	}
}

func TestShortErrorNamesTheLimitAndTheNumber(t *testing.T) {
	err := &ShortError{What: "pidone", Need: 5, InUse: 4, Soft: 8, Hard: 8}
	msg := err.Error()
	for _, want := range []string{"RLIMIT_NOFILE", "pidone needs 9 file descriptors", "the limit is 8", "at least 9"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
}

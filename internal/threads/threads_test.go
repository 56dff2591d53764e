package threads

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// threadsNow is the number of threads of this process, from the kernel.
func threadsNow(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "Threads:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}

// The property that matters, no thread created under a fork bomb, is
// tested end to end (test/e2e/exhaustion_test.go); here, that Reserve makes
// threads and that they stay once its goroutines have ended.
func TestReserveMakesThreadsThatStay(t *testing.T) {
	want := made() + 4
	Reserve(1, want)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS %d after Reserve(1, ...), want 1", got)
	}
	if got := made(); got < want {
		t.Errorf("the runtime has made %d threads after Reserve(1, %d)", got, want)
	}
	after := threadsNow(t)
	time.Sleep(50 * time.Millisecond)
	if later := threadsNow(t); later < after {
		t.Errorf("%d threads after Reserve, %d 50ms later: they must stay", after, later)
	}
}

func TestBudgetTakesAtMostHalfTheHeadroom(t *testing.T) {
	room, ok := headroom()
	if !ok {
		t.Skip("no pids limit on our cgroup to check against")
	}
	got, limited := Budget(1 << 20)
	if limit := made() + room/2; got > limit {
		t.Errorf("Budget(huge) = %d with %d tasks left under the limit, want at most %d", got, room, limit)
	}
	if !limited {
		t.Error("Budget under a pids limit: not limited")
	}
}

func TestNprocBinds(t *testing.T) {
	const inf = ^uint64(0) // RLIM_INFINITY
	for _, c := range []struct {
		limit     uint64
		euid      int
		initialNS bool
		want      bool
	}{
		{inf, 1000, true, false},
		{inf, 0, false, false},
		{4096, 1000, true, true},
		{4096, 0, true, false}, // root of the initial namespace passes it
		{4096, 0, false, true}, // root of a container's own namespace does not
		{4096, 1000, false, true},
	} {
		if got := nprocBinds(c.limit, c.euid, c.initialNS); got != c.want {
			t.Errorf("nprocBinds(%d, euid %d, initial namespace %v) = %v, want %v", c.limit, c.euid, c.initialNS, got, c.want)
		}
	}
}

func TestIsInitialUserNS(t *testing.T) {
	for _, c := range []struct {
		uidMap string
		want   bool
	}{
		{"0          0 4294967295", true},
		{"0 100000 65536", false},
		{"0 1000 1", false},
		{"0 0 4294967295\n1 1 1", false},
		{"", false},
	} {
		if got := isInitialUserNS(c.uidMap); got != c.want {
			t.Errorf("isInitialUserNS(%q) = %v, want %v", c.uidMap, got, c.want)
		}
	}
}

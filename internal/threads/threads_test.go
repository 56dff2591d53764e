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

func TestAffordableTakesAtMostHalfTheHeadroom(t *testing.T) {
	room, ok := headroom()
	if !ok {
		t.Skip("no pids limit on our cgroup to check against")
	}
	if got, limit := Affordable(1<<20), made()+room/2; got > limit {
		t.Errorf("Affordable(huge) = %d with %d tasks left under the limit, want at most %d", got, room, limit)
	}
}

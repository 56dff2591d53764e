package threads

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
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

func TestReserveMakesThreadsThatStay(t *testing.T) {
	before := threadsNow(t)
	keep := before + 6
	Reserve(1, keep)
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS %d after Reserve(1, ...), want 1", got)
	}
	// The goroutines have ended; their threads must still be there, idle.
	if got := threadsNow(t); got < keep {
		t.Errorf("%d threads after Reserve(1, %d), want at least %d", got, keep, keep)
	}
}

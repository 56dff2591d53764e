package docker

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"
)

var (
	stormDone  = regexp.MustCompile(`^storm done orphans=(\d+)$`)
	reapedLine = regexp.MustCompile(`msg="reaped orphan"`)
)

// stormSize keeps the storm well inside the tier's time budget on two
// shared cores; the PID-namespace e2e tier runs the ten-thousand storms.
const stormSize = 3000

// settled waits until the container's PID namespace, seen from inside with
// `docker exec NAME /workload ps`, holds exactly want processes besides ps
// itself and no zombie, and pidone has logged exactly reaped orphans.
func settled(t *testing.T, name string, c *container, want, reaped int) {
	t.Helper()
	var last psReport
	eventually(t, settleLimit, func() (bool, string) {
		last = ps(t, name)
		got := c.stderr.Count(reapedLine)
		return len(last.procs)-1 == want && last.zombies == 0 && got == reaped,
			fmt.Sprintf("%d processes besides ps (want %d), %d zombies (want 0), %d reaped orphans logged (want %d):\n%s",
				len(last.procs)-1, want, last.zombies, got, reaped, last)
	})
	t.Logf("settled: %d orphans reaped, zombies=%d, %d processes left besides ps", reaped, last.zombies, len(last.procs)-1)
}

func testOrphanStorm(t *testing.T, s *suite) {
	c := runDetached(t, s.image, []string{"--entrypoint", "/pidone"},
		"-w", "--", "/workload", "storm", "-spawners", "4", "-orphans", strconv.Itoa(stormSize), "-hold")
	n := atoi(c.stdout.WaitFor(t, stormDone, 2*lineTimeout)[1])
	if n < stormSize {
		t.Fatalf("the storm orphaned %d processes, want at least %d", n, stormSize)
	}
	settled(t, c.name, c, 2, n) // pidone and the storm

	stopped := docker(t, "stop", c.name)
	if stopped.code != 0 {
		t.Fatal(stopped)
	}
	if got := exitCode(t, c.name); got != 0 {
		t.Errorf("exit code after docker stop: got %d, want 0 (storm -hold exits 0 on SIGTERM)", got)
	}
	t.Logf("docker stop took %v", stopped.elapsed.Round(time.Millisecond))
}

func testDaemons(t *testing.T, s *suite) {
	const daemons = 20
	c := runDetached(t, s.image, []string{"--entrypoint", "/pidone"},
		"-w", "--", "/workload", "daemons", strconv.Itoa(daemons), "-life", "500ms")
	c.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^daemons started n=%d$`, daemons)), lineTimeout)
	settled(t, c.name, c, 2, daemons) // pidone and the daemons' starter

	if r := docker(t, "stop", c.name); r.code != 0 {
		t.Fatal(r)
	}
	if got := exitCode(t, c.name); got != 0 {
		t.Errorf("exit code after docker stop: got %d, want 0", got)
	}
}

package docker

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
)

// testSidecar runs pidone where it is not PID 1: in a container that joins
// another container's PID namespace (docker run --pid container:NAME, the
// way Kubernetes' shareProcessNamespace shares one). The other container's
// PID 1 is `workload noreap`, which never waits for anything, so any orphan
// that reached it would stay a zombie. pidone, a child subreaper, adopts
// its own subtree's orphans and must reap every one of them itself.
func testSidecar(t *testing.T, s *suite) {
	app := runDetached(t, s.image, []string{"--entrypoint", "/workload"}, "noreap", "--", "/helper", "sleep")
	app.stderr.WaitFor(t, regexp.MustCompile(`^noreap child pid=\d+$`), lineTimeout)

	const orphans = 1000
	side := runDetached(t, s.image, []string{"--pid", "container:" + app.name, "--entrypoint", "/pidone"},
		"-w", "--", "/workload", "storm", "-spawners", "2", "-orphans", strconv.Itoa(orphans), "-hold")
	n := atoi(side.stdout.WaitFor(t, stormDone, 2*lineTimeout)[1])
	if n < orphans {
		t.Fatalf("the storm orphaned %d processes, want at least %d", n, orphans)
	}

	// Seen from the app container: its noreap (PID 1) and sleep, the
	// sidecar's pidone and storm; no zombie, and every orphan in the
	// sidecar's reaped count.
	var last psReport
	eventually(t, settleLimit, func() (bool, string) {
		last = ps(t, app.name)
		got := side.stderr.Count(reapedLine)
		return len(last.procs)-1 == 4 && last.zombies == 0 && got == n,
			fmt.Sprintf("%d processes besides ps (want 4), %d zombies (want 0), %d reaped orphans in the sidecar's log (want %d):\n%s",
				len(last.procs)-1, last.zombies, got, n, last)
	})
	var pid1, pidone string
	for _, p := range last.procs {
		if p.pid == 1 {
			pid1 = p.comm
		}
		if p.comm == "pidone" {
			pidone = strconv.Itoa(p.pid)
		}
	}
	if pid1 != "workload" || pidone == "" {
		t.Fatalf("want PID 1 to be the app's workload and pidone elsewhere, got:\n%s", last)
	}
	t.Logf("sidecar pidone (pid %s in the shared namespace, PID 1 is noreap) reaped %d orphans; zombies=%d", pidone, n, last.zombies)

	if r := docker(t, "stop", side.name); r.code != 0 {
		t.Fatal(r)
	}
	if got := exitCode(t, side.name); got != 0 {
		t.Errorf("sidecar exit code after docker stop: got %d, want 0", got)
	}
}

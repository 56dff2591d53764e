package docker

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// workersPidfile is where the master writes its pid; `pidone ctl VERB
// --pidfile PATH` finds it there. /run exists in the test image.
const workersPidfile = "/run/pidone.pid"

func ctl(verb string) []string {
	return []string{"/pidone", "ctl", verb, "--pidfile", workersPidfile}
}

var workerReady = regexp.MustCompile(`^worker (\d+) ready$`)

// testWorkers runs pidone's workers mode as a container's PID 1: two
// workers, `pidone ctl status` and `reload` through docker exec, a worker
// killed and respawned, and docker stop.
func testWorkers(t *testing.T, s *suite) {
	if !s.has("--workers") {
		t.Skip("pidone --help does not list --workers: workers mode is not in this pidone yet " +
			"(work in progress in workers/); this case runs once it lands")
	}
	c := runDetached(t, s.image, []string{"--entrypoint", "/pidone"},
		"--workers", "2", "--pidfile", workersPidfile, "--", "/helper", "worker")
	workers := []string{
		c.stdout.WaitForNth(t, workerReady, 1, lineTimeout)[1],
		c.stdout.WaitForNth(t, workerReady, 2, lineTimeout)[1],
	}

	r := docker(t, append([]string{"exec", c.name}, ctl("status")...)...)
	if r.code != 0 {
		t.Fatalf("pidone ctl status: %s", r)
	}
	t.Logf("pidone ctl status: %s", strings.TrimSpace(r.stdout))
	// The master is PID 1 of the container.
	if !strings.Contains(r.stdout, "running") || !slices.Contains(strings.FieldsFunc(r.stdout, notDigit), "1") {
		t.Errorf("pidone ctl status printed %q, want the master running as pid 1", r.stdout)
	}

	if r := docker(t, append([]string{"exec", c.name}, ctl("reload")...)...); r.code != 0 {
		t.Fatalf("pidone ctl reload: %s", r)
	}
	for _, w := range workers {
		// Whichever signal reload uses, each worker reports it.
		c.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^worker %s \d+$`, w)), lineTimeout)
	}

	// A worker killed from inside the container is replaced by a new one.
	if r := docker(t, "exec", c.name, "/helper", "kill", "KILL", workers[0]); r.code != 0 {
		t.Fatal(r)
	}
	respawned := c.stdout.WaitForNth(t, workerReady, 3, lineTimeout)[1]
	if slices.Contains(workers, respawned) {
		t.Errorf("respawned worker has pid %s, which is an old worker's", respawned)
	}
	var last psReport
	eventually(t, settleLimit, func() (bool, string) {
		last = ps(t, c.name)
		n := 0
		for _, p := range last.procs {
			if p.comm == "helper" {
				n++
			}
		}
		return n == 2 && last.zombies == 0,
			fmt.Sprintf("%d workers (want 2), %d zombies (want 0):\n%s", n, last.zombies, last)
	})

	stop := docker(t, "stop", c.name)
	if stop.code != 0 {
		t.Fatal(stop)
	}
	t.Logf("docker stop of workers mode: %v", stop.elapsed.Round(time.Millisecond))
	if stop.elapsed >= 2*time.Second {
		t.Errorf("docker stop took %v; the workers exit on SIGTERM, so want well under a second (asserted: < 2s)", stop.elapsed)
	}
	if got := exitCode(t, c.name); got != 0 {
		t.Errorf("exit code after docker stop: got %d, want 0 (a requested stop is a clean one)", got)
	}
}

func notDigit(r rune) bool { return r < '0' || r > '9' }

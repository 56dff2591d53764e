package docker

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
)

// testKillSignals: `docker kill -s SIG` signals the container's PID 1,
// pidone, which must pass the signal on to the main process. sigrecord
// prints one line per signal it gets; closing its stdin ends it with 0.
func testKillSignals(t *testing.T, s *suite) {
	c := runAttached(t, s.image, nil, "/workload", "sigrecord")
	pid := c.stdout.WaitFor(t, childReady, lineTimeout)[1]
	signals := []struct {
		name string
		num  int
	}{{"HUP", 1}, {"USR1", 10}, {"WINCH", 28}, {"USR2", 12}}
	var want []string
	for _, sig := range signals {
		if r := docker(t, "kill", "-s", sig.name, c.name); r.code != 0 {
			t.Fatal(r)
		}
		line := fmt.Sprintf("child %s %d", pid, sig.num)
		c.stdout.WaitFor(t, regexp.MustCompile("^"+regexp.QuoteMeta(line)+"$"), lineTimeout)
		want = append(want, line)
	}
	c.closeStdin(t)
	if c.code != 0 {
		t.Errorf("docker run exit status after stdin EOF: got %d, want 0\nstderr:\n%s", c.code, c.stderr.Tail(20))
	}
	if got := exitCode(t, c.name); got != 0 {
		t.Errorf("docker inspect .State.ExitCode: got %d, want 0", got)
	}
	// Exactly the signals sent, once each, and nothing nobody sent.
	var got []string
	for _, line := range c.stdout.Snapshot() {
		if !childReady.MatchString(line) {
			got = append(got, line)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("sigrecord saw %q, want exactly %q", got, want)
	}
}

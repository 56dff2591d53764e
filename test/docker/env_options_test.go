package docker

import (
	"encoding/json"
	"strings"
	"testing"
)

// testDockerInitEnvironment is issue 21's `docker run --init -e
// PIDONE_...`: dockerd runs pidone as /sbin/docker-init with tini's command
// line, which the user cannot change, so pidone's own options come from
// PIDONE_<NAME> variables. The engine here is shared and its --init-path
// cannot be pointed at pidone, so the container runs /docker-init (pidone
// under that name) as its entry point with the arguments dockerd gives it.
func testDockerInitEnvironment(t *testing.T, s *suite) {
	run := func(env ...string) result {
		name := containerName(t)
		removeOnCleanup(t, name)
		argv := append([]string{"run", "--name", name}, labels()...)
		for _, e := range env {
			argv = append(argv, "-e", e)
		}
		argv = append(argv, "--entrypoint", "/docker-init", s.image, "--", "/nonexistent")
		return docker(t, argv...)
	}

	// A start failure is logged in pidone's JSON, with tini's exit code.
	r := run("PIDONE_LOG_FORMAT=json")
	var rec map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stderr)), &rec); r.code != 127 || err != nil || rec["level"] != "ERROR" {
		t.Errorf("PIDONE_LOG_FORMAT=json: exit %d, stderr not one JSON ERROR record (%v); want 127\n%s", r.code, err, r)
	}
	// Without it, tini's line.
	if r := run(); r.code != 127 || !strings.Contains(r.stderr, "tini (1)]") {
		t.Errorf("no variable: exit %d; want 127 and tini's line\n%s", r.code, r)
	}
	// A bad value is tini's usage error (1), naming the variable.
	if r := run("PIDONE_GRACE=soon"); r.code != 1 || !strings.Contains(r.stderr, `/docker-init: PIDONE_GRACE: "soon" is not a duration`) {
		t.Errorf("PIDONE_GRACE=soon: exit %d; want 1 and a line naming PIDONE_GRACE\n%s", r.code, r)
	}
}

package docker

import (
	"regexp"
	"strings"
	"testing"
)

// dockerdInitVersion is what dockerd reads from `docker-init --version`
// for `docker info` (moby's parseInitVersion): "tini version V", then
// " - git.C" where C holds no dot, on one line. Without the git part dockerd
// still takes the version, but `docker info` then prints an empty
// "init version" (it shows the commit), as Debian's own tini does.
var dockerdInitVersion = regexp.MustCompile(`^tini version ([0-9]+\.[0-9]+\.[0-9]+) - git\.([^.\s]+)\n?$`)

// testDockerInit checks pidone installed under the name docker-init, the
// way dockerd's --init-path uses it: dockerd runs `docker-init --version`
// for docker info, and bind-mounts it as /sbin/docker-init to run
// `/sbin/docker-init -- CMD ARGS...` as the container's PID 1.
func testDockerInit(t *testing.T, s *suite) {
	version := docker(t, append(append([]string{"run", "--rm"}, labels()...), "--entrypoint", "/docker-init", s.image, "--version")...)
	if !strings.HasPrefix(version.stdout, "tini version") {
		t.Skipf("pidone run as docker-init printed %q for --version, not \"tini version X - git.SHA\": "+
			"the docker-init personality is not in this pidone yet (lifecycle work in progress); this case runs once it lands",
			strings.TrimSpace(version.stdout))
	}
	if version.code != 0 {
		t.Errorf("docker-init --version: exit %d, want 0", version.code)
	}
	m := dockerdInitVersion.FindStringSubmatch(version.stdout)
	if m == nil {
		t.Fatalf("docker-init --version printed %q, want \"tini version X.Y.Z - git.SHA\" (one line, no dot in SHA) as dockerd parses it", version.stdout)
	}
	t.Logf("docker-init --version: %q (docker info would show version %s, commit %s)", strings.TrimSpace(version.stdout), m[1], m[2])

	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--", "/workload", "exit", "3"}, 3},
		{[]string{"--", "/workload", "killself", "TERM"}, 128 + 15},
	} {
		name := containerName(t)
		removeOnCleanup(t, name)
		argv := append(append([]string{"run", "--name", name}, labels()...), "--entrypoint", "/docker-init", s.image)
		r := docker(t, append(argv, tc.args...)...)
		if r.code != tc.want {
			t.Errorf("docker-init %s: exit %d, want %d\n%s", strings.Join(tc.args, " "), r.code, tc.want, r)
		}
	}
}

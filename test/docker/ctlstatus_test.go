package docker

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// testCtlStatus is issue 21's live status as a user reaches it: `docker run
// --init -e PIDONE_CONTROL_SOCKET=...` (pidone as /docker-init with tini's
// command line, as in testDockerInitEnvironment), then `docker exec c
// /pidone ctl status`, which finds the socket through the same variable
// in the container's environment.
func testCtlStatus(t *testing.T, s *suite) {
	if !s.has("--control-socket") {
		t.Fatalf("the image's pidone has no --control-socket")
	}
	c := runDetached(t, s.image, []string{"-e", "PIDONE_CONTROL_SOCKET=/pidone.sock", "-e", "PIDONE_LOG_LEVEL=info", "--entrypoint", "/docker-init"},
		"--", "/workload", "sleep", "1h")
	c.stderr.WaitFor(t, regexp.MustCompile(`control socket: answering pidone ctl status`), lineTimeout)

	r := docker(t, "exec", c.name, "/pidone", "ctl", "status")
	for _, want := range []string{"running (pid 1, PID 1; pidone ", "personality docker-init", "main child: pid ",
		"/workload sleep 1h\n", "processes below pidone: 1\n"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("docker exec ctl status: want exit 0 and %q\n%s", want, r)
		}
	}
	r = docker(t, "exec", c.name, "/pidone", "ctl", "status", "--json")
	var st struct {
		Schema      int    `json:"schema"`
		Personality string `json:"personality"`
		PID1        bool   `json:"pid1"`
		MainChild   *struct {
			Pid  int      `json:"pid"`
			Argv []string `json:"argv"`
			End  struct {
				How string `json:"how"`
			} `json:"end"`
		} `json:"main_child"`
		ProcessesCount int `json:"processes_count"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); r.code != 0 || err != nil || st.Schema != 1 || st.Personality != "docker-init" ||
		!st.PID1 || st.MainChild == nil || st.MainChild.End.How != "running" || strings.Join(st.MainChild.Argv, " ") != "/workload sleep 1h" ||
		st.ProcessesCount != 1 {
		t.Errorf("docker exec ctl status --json: %+v, %v\n%s", st, err, r)
	}

	// A container without the variable: ctl says how to turn it on.
	plain := runDetached(t, s.image, []string{"--entrypoint", "/pidone"}, "-v", "--", "/workload", "sleep", "1h")
	plain.stderr.WaitFor(t, regexp.MustCompile(`msg=started`), lineTimeout)
	r = docker(t, "exec", plain.name, "/pidone", "ctl", "status")
	if r.code != 4 || !strings.Contains(r.stderr, "pidone is PID 1 here, started without a control socket") || !strings.Contains(r.stderr, "PIDONE_CONTROL_SOCKET=PATH") {
		t.Errorf("docker exec ctl status without a socket: want exit 4 and the hint\n%s", r)
	}
}

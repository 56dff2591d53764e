package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Issue 21 item 4: pidone's own options from PIDONE_<NAME> variables under
// every personality, so that `docker run --init -e PIDONE_...` (dockerd
// runs its --init-path as docker-init, with tini's flags) reaches them.

// envRun runs argv as PID 1 of a fresh PID namespace with our environment
// plus extra, and returns its exit code and stderr.
func envRun(t *testing.T, extra []string, argv ...string) (int, []string) {
	t.Helper()
	p := startInitEnv(t, append(os.Environ(), extra...), argv...)
	p.closeStdin()
	code := p.exitCode(30 * time.Second)
	p.stderr.WaitEOF(t, 10*time.Second)
	return code, p.stderr.Snapshot()
}

// orphanScript leaves an orphan for PID 1 to reap: the subshell exits
// before its sleep, which is re-parented to pidone.
const orphanScript = `(sleep 0.1 &); sleep 1`

// Under docker-init, PIDONE_LOG_FORMAT=json and PIDONE_WARN_ON_REAP=1 turn
// tini's reap warning into pidone's JSON record; without them the line is
// tini's. Before issue 21 the variables were ignored.
func TestEnvOptionsDockerInitLogFormat(t *testing.T) {
	pidone, _ := bins(t)
	init := linkAs(t, pidone, "docker-init")

	code, stderr := envRun(t, []string{"PIDONE_LOG_FORMAT=json", "PIDONE_WARN_ON_REAP=1"}, init, "--", "/bin/sh", "-c", orphanScript)
	if code != 0 {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, strings.Join(stderr, "\n"))
	}
	var warned bool
	for _, l := range stderr {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("not a JSON record: %q (%v)", l, err)
			continue
		}
		if rec["level"] == "WARN" {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no WARN record for the reaped orphan in:\n%s", strings.Join(stderr, "\n"))
	}

	// The same with tini's -w and no variables: tini's own line.
	code, stderr = envRun(t, nil, init, "-w", "--", "/bin/sh", "-c", orphanScript)
	if code != 0 || len(stderr) == 0 || strings.HasPrefix(stderr[0], "{") {
		t.Errorf("without the variables: exit %d, stderr %q; want 0 and tini's lines", code, stderr)
	}
}

// PIDONE_GRACE under docker-init: a leftover that stops cleanly on SIGTERM
// gets the chance (tini's default, grace 0, SIGKILLs it at once).
func TestEnvOptionsDockerInitGrace(t *testing.T) {
	pidone, _ := bins(t)
	init := linkAs(t, pidone, "docker-init")
	// The leftover says when it is ready and when it got SIGTERM, on
	// stderr (our pipe); the main child exits once it is ready.
	script := `fifo=$(mktemp -u); mkfifo "$fifo"
(trap 'echo leftover got TERM >&2; exit 0' TERM; echo ready > "$fifo"; while :; do sleep 0.05; done) &
read r < "$fifo"; rm -f "$fifo"; exit 3`
	for _, tc := range []struct {
		env      []string
		wantTerm bool
	}{
		{[]string{"PIDONE_GRACE=10s"}, true},
		{nil, false},
	} {
		code, stderr := envRun(t, tc.env, init, "--", "/bin/sh", "-c", script)
		got := strings.Contains(strings.Join(stderr, "\n"), "leftover got TERM")
		if code != 3 || got != tc.wantTerm {
			t.Errorf("%q: exit %d, leftover got TERM %v; want 3, %v; stderr:\n%s", tc.env, code, got, tc.wantTerm, strings.Join(stderr, "\n"))
		}
	}
}

// A bad or unknown variable is a usage error naming it, in each
// personality's usage status: 2 for pidone, 1 under a peer's name (the
// peers' own status for a mistake). The e2e environment itself holds
// PIDONE_BIN and the like, which are not mistakes (every other test runs
// with them).
func TestEnvOptionsMistakes(t *testing.T) {
	pidone, _ := bins(t)
	for _, tc := range []struct {
		peer string
		env  string
		code int
		want string
	}{
		{"pidone", "PIDONE_GRACE=soon", 2, `pidone: PIDONE_GRACE: "soon" is not a duration`},
		{"pidone", "PIDONE_LOG_FROMAT=json", 2, "did you mean PIDONE_LOG_FORMAT?"},
		{"docker-init", "PIDONE_GRACE=soon", 1, `docker-init: PIDONE_GRACE: "soon" is not a duration`},
		{"tini", "PIDONE_GRAEC=1s", 1, "did you mean PIDONE_GRACE?"},
		{"dumb-init", "PIDONE_WARN_ON_REAP=yes", 1, `dumb-init: PIDONE_WARN_ON_REAP: "yes" is not 1, true, 0 or false`},
		{"catatonit", "PIDONE_WORKERS=2", 1, "catatonit: PIDONE_WORKERS: --workers is pidone's own"},
	} {
		bin := linkAs(t, pidone, tc.peer)
		code, stderr := envRun(t, []string{tc.env}, bin, "--", "/bin/true")
		if all := strings.Join(stderr, "\n"); code != tc.code || !strings.Contains(all, tc.want) {
			t.Errorf("%s with %s: exit %d, stderr:\n%s\nwant exit %d and %q", tc.peer, tc.env, code, all, tc.code, tc.want)
		}
	}
}

// PIDONE_PIDFILE is the master's --pidfile in workers mode and pidone
// ctl's default; alone, with a single command, it asks for nothing (an
// image may set it for ctl).
func TestEnvOptionsPidfile(t *testing.T) {
	pidone, _ := bins(t)
	pidfile := t.TempDir() + "/master.pid"
	env := []string{"PIDONE_PIDFILE=" + pidfile}

	code, stderr := envRun(t, env, pidone, "--", "/bin/true")
	if code != 0 {
		t.Errorf("a single command with PIDONE_PIDFILE: exit %d, want 0; stderr:\n%s", code, strings.Join(stderr, "\n"))
	}

	p := startInitEnv(t, append(os.Environ(), env...), pidone, "--workers", "1", "--", "/bin/sleep", "60")
	eventually(t, 10*time.Second, func() (bool, string) {
		b, err := os.ReadFile(pidfile)
		return err == nil && strings.TrimSpace(string(b)) == "1", "the master's pidfile holds 1"
	})
	p.signal(unix.SIGTERM)
	if code := p.exitCode(30 * time.Second); code != 0 {
		t.Errorf("master: exit %d after SIGTERM, want 0", code)
	}
}

// What `docker run --init -e PIDONE_EXIT_REPORT=... -e
// PIDONE_FAIL_ON_LEFTOVERS=true` does: the verdict under docker-init, with
// tini's command line, the report naming the peer. Before, both variables
// were a usage error under a peer's name.
func TestEnvOptionsDockerInitExitReport(t *testing.T) {
	t.Parallel()
	pidone, workload := bins(t)
	init := linkAs(t, pidone, "docker-init")
	path := t.TempDir() + "/report.json"
	code, stderr := envRun(t, []string{"PIDONE_EXIT_REPORT=" + path, "PIDONE_FAIL_ON_LEFTOVERS=true"},
		workload, "withproc", init, "--", workload, "leave", "-group", "1", "-code", "3")
	if code != 122 {
		t.Errorf("exit %d, want 122 (leftovers); stderr:\n%s", code, strings.Join(stderr, "\n"))
	}
	r := readReport(t, path)
	if r.Personality != "docker-init" || r.ExitCode != 122 || r.ExitReason != "leftovers" || r.LeftoversCount != 1 {
		t.Errorf("report: personality %q, exit_code %d, exit_reason %q, leftovers_count %d; want docker-init, 122, leftovers, 1",
			r.Personality, r.ExitCode, r.ExitReason, r.LeftoversCount)
	}
	if r.MainChild == nil || r.MainChild.End.Code == nil || *r.MainChild.End.Code != 3 {
		t.Errorf("main_child %+v, want it to have exited 3", r.MainChild)
	}
}

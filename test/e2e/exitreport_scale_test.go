package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The exit report at scale and at its edges (issue 21): 10,000 leftovers,
// a daemon that keeps its own zombie, workers mode (a clean stop, a slot
// given up, a worker that ignores SIGTERM, an escapee below a worker) and
// a usage error once the report's path is known. pidone runs as PID 1 of a
// fresh PID namespace with its own /proc, and below another init as a
// subreaper where that differs.

// checkNoTemporary fails if anything but the report is in its directory:
// the report is written to a temporary file and renamed, never half
// written, and the temporary file never stays behind.
func checkNoTemporary(t *testing.T, path string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != filepath.Base(path) {
			t.Errorf("%s left beside the report", e.Name())
		}
	}
}

// TestExitReportTenThousandLeftovers: a main child (then a worker, given
// up at its first death) that leaves 10,000 sleepers (bare forks, cheap)
// that SIGTERM kills. The report lists the first 1,000 in full and counts
// the rest; the exit code is --fail-on-leftovers'.
func TestExitReportTenThousandLeftovers(t *testing.T) {
	stormSlot(t) // 10,000 processes keep both cores busy for seconds
	const n, listed = 10000, 1000
	if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		var max int
		fmt.Sscan(string(b), &max)
		if max < 3*n {
			t.Skipf("kernel.pid_max is %d: 10,000 leftovers need room beside the other tests", max)
		}
	}
	_, workload := bins(t)
	swarm := []string{"--", workload, "swarm", "-n", fmt.Sprint(n), "-code", "3"}
	for _, tc := range []struct {
		mode string
		args []string
		warn string
	}{
		{"single", swarm, "when the main child ended"},
		{"workers", append([]string{"--workers", "1", "--give-up", "1/1m"}, swarm...), "when the workers stopped"},
	} {
		path := filepath.Join(t.TempDir(), "report.json")
		p := startWithProc(t, append([]string{"--exit-report", path, "--fail-on-leftovers"}, tc.args...)...)
		p.stdout.WaitFor(t, regexp.MustCompile(`^swarm 10000 ready$`), 2*time.Minute)
		if code := p.exitCode(2 * time.Minute); code != 122 {
			t.Errorf("%s: exit code %d, want 122", tc.mode, code)
		}
		p.stderr.WaitEOF(t, exitTimeout)
		r := readReport(t, path)
		checkNoTemporary(t, path)
		if r.ExitCode != 122 || r.ExitReason != "leftovers" || r.Mode != tc.mode || !r.LeftoversKnown {
			t.Errorf("exit_code %d exit_reason %q mode %q known %v, want 122 leftovers %s true", r.ExitCode, r.ExitReason, r.Mode, r.LeftoversKnown, tc.mode)
		}
		if tc.mode == "single" {
			if r.MainChild == nil {
				t.Fatal("no main_child")
			}
			checkExited(t, "main child", r.MainChild.End, 3)
		} else {
			checkSlots(t, r, 1, 1, 1, true)
		}
		if r.LeftoversCount != n || len(r.Leftovers) != listed || r.LeftoversOmitted != n-listed {
			t.Fatalf("%s: leftovers count %d listed %d omitted %d, want %d %d %d", tc.mode, r.LeftoversCount, len(r.Leftovers), r.LeftoversOmitted, n, listed, n-listed)
		}
		seen := map[int]bool{}
		for i, l := range r.Leftovers {
			if seen[l.Pid] || l.Comm != "workload" || len(l.Argv) < 2 || l.Argv[1] != "swarm" || l.Starttime == 0 {
				t.Fatalf("%s: leftover %d: %+v, want a new pid, comm workload, argv [... swarm ...]", tc.mode, i, l)
			}
			seen[l.Pid] = true
			checkKilled(t, fmt.Sprintf("%s: leftover %d", tc.mode, i), l.End, syscall.SIGTERM, "pidone_stop")
		}
		if r.OrphansReapedAfterMain < n {
			t.Errorf("%s: orphans reaped after main %d, want at least %d", tc.mode, r.OrphansReapedAfterMain, n)
		}
		warn := regexp.MustCompile(`level=WARN msg="processes were left behind ` + tc.warn + `" count=10000 processes=".*and 9992 more"`)
		if c := countMatching(p.stderr.Snapshot(), warn); c != 1 {
			t.Errorf("%s: %d WARN lines naming 8 of the 10000, want 1", tc.mode, c)
		}
	}
}

// A daemon that leaves its own child unreaped: the daemon is a leftover,
// its zombie child is not (it is dead already); pidone's stop ends the
// daemon and reaps the zombie, which then comes to pidone.
func TestExitReportZombieDaemon(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	code, r, _ := runReport(t, "--fail-on-leftovers", "--", workload, "swarm", "-n", "1", "-zombie", "-code", "0")
	if code != 122 {
		t.Errorf("exit code %d, want 122", code)
	}
	checkCommon(t, r, true, 122, "leftovers")
	checkZombieDaemon(t, r)

	// A worker that does the same, given up at its first death.
	code, r, _ = runReport(t, "--workers", "1", "--give-up", "1/1m", "--", workload, "swarm", "-n", "1", "-zombie", "-code", "1")
	if code != 1 {
		t.Errorf("workers: exit code %d, want 1", code)
	}
	checkWorkers(t, r, true, 1, "gave_up")
	checkSlots(t, r, 1, 1, 1, true)
	checkZombieDaemon(t, r)
}

func checkZombieDaemon(t *testing.T, r report) {
	t.Helper()
	if r.LeftoversCount != 1 || len(r.Leftovers) != 1 || r.Leftovers[0].Argv[1] != "swarm" {
		t.Fatalf("leftovers %+v, want the daemon alone (its zombie child is no leftover)", r.Leftovers)
	}
	checkKilled(t, "the daemon", r.Leftovers[0].End, syscall.SIGTERM, "pidone_stop")
	// The daemon, then its zombie, re-parented to pidone when it died.
	if r.OrphansReapedAfterMain != 2 {
		t.Errorf("orphans reaped after main %d, want 2 (the daemon and its zombie)", r.OrphansReapedAfterMain)
	}
}

// The same below an init that never reaps, in a namespace with its own
// /proc, in single and in workers mode: once pidone has exited, no zombie
// is left but pidone's own.
func TestExitReportZombieDaemonSubreaper(t *testing.T) {
	t.Parallel()
	pidone, workload := bins(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skipf("unshare (util-linux) is needed to mount the namespace's own /proc: %v", err)
	}
	daemon := []string{"--", workload, "swarm", "-n", "1", "-zombie", "-code", "4"}
	for _, tc := range []struct {
		mode   string
		args   []string
		code   int
		reason string
	}{
		{"single", daemon, 4, "child_status"},
		{"workers", append([]string{"--workers", "1", "--give-up", "1/1m"}, daemon...), 1, "gave_up"},
	} {
		path := filepath.Join(t.TempDir(), "report.json")
		p := startInit(t, append([]string{unshare, "--mount", "--mount-proc", "--", workload, "noreap", "--",
			pidone, "--exit-report", path}, tc.args...)...)
		sub := noreapChild(t, p)
		if code := subreaperExit(t, sub); code != tc.code {
			t.Errorf("%s: exit code %d, want %d", tc.mode, code, tc.code)
		}
		r := readReport(t, path)
		if tc.mode == "single" {
			checkCommon(t, r, false, tc.code, tc.reason)
		} else {
			checkWorkers(t, r, false, tc.code, tc.reason)
			checkSlots(t, r, 1, 1, 1, true)
		}
		checkZombieDaemon(t, r)
		checkOnlyLeft(t, p, sub)
	}
}

// subreaperExit waits for pidone (host pid sub), below `workload noreap`,
// to exit, and returns its exit status.
func subreaperExit(t *testing.T, sub int) int {
	t.Helper()
	eventually(t, 2*exitTimeout, func() (bool, string) {
		pr, err := readProc(sub)
		return err == nil && pr.state == "Z", "pidone has not exited"
	})
	pr, _ := readProc(sub)
	ws := syscall.WaitStatus(pr.exitCode)
	if !ws.Exited() {
		t.Fatalf("pidone's wait status %#x, want an exit status", pr.exitCode)
	}
	return ws.ExitStatus()
}

// checkOnlyLeft fails if p's namespace holds anything but noreap and
// pidone's zombie (host pid sub).
func checkOnlyLeft(t *testing.T, p *nsInit, sub int) {
	t.Helper()
	var left []string
	for _, pr := range nsProcs(t, p.pid) {
		if pr.pid != p.pid && pr.pid != sub {
			left = append(left, fmt.Sprintf("pid %d (%s)", pr.pid, pr.state))
		}
	}
	if len(left) > 0 {
		t.Errorf("left behind pidone: %v", left)
	}
}

// checkWorkers checks a workers-mode report's common fields.
func checkWorkers(t *testing.T, r report, pid1 bool, code int, reason string) {
	t.Helper()
	if r.Schema != 1 || r.Mode != "workers" || r.Personality != "pidone" || r.Version == "" || r.PID1 != pid1 || r.MainChild != nil {
		t.Errorf("schema %d mode %q personality %q version %q pid1 %v main_child %+v, want 1 workers pidone, a version, pid1 %v, no main child",
			r.Schema, r.Mode, r.Personality, r.Version, r.PID1, r.MainChild, pid1)
	}
	start, err1 := time.Parse(time.RFC3339Nano, r.StartTime)
	end, err2 := time.Parse(time.RFC3339Nano, r.EndTime)
	if err1 != nil || err2 != nil || end.Before(start) || r.Duration < 0 {
		t.Errorf("start %q end %q duration %v", r.StartTime, r.EndTime, r.Duration)
	}
	if r.ExitCode != code || r.ExitReason != reason || r.Error != "" {
		t.Errorf("exit_code %d exit_reason %q error %q, want %d %q, no error", r.ExitCode, r.ExitReason, r.Error, code, reason)
	}
	if !r.LeftoversKnown || r.LeftoversCount != len(r.Leftovers) || r.LeftoversOmitted != 0 {
		t.Errorf("leftovers known %v count %d listed %d omitted %d", r.LeftoversKnown, r.LeftoversCount, len(r.Leftovers), r.LeftoversOmitted)
	}
}

// checkSlots checks each slot of group "main": starts, crashes, given up.
func checkSlots(t *testing.T, r report, n, starts, crashes int, givenUp bool) {
	t.Helper()
	if len(r.Workers) != n {
		t.Fatalf("workers %+v, want %d slots", r.Workers, n)
	}
	for i, w := range r.Workers {
		if w.Group != "main" || w.Slot != i || w.Generation != 1 || w.Starts != starts || w.Crashes != crashes || w.GivenUp != givenUp ||
			(w.Reason != "") != givenUp {
			t.Errorf("slot %d: %+v, want group main slot %d gen 1, %d starts, %d crashes, given up %v (with a reason)",
				i, w, i, starts, crashes, givenUp)
		}
	}
}

func checkStopRequest(t *testing.T, r report) {
	t.Helper()
	if r.StopRequest == nil || r.StopRequest.Name != "SIGTERM" || r.StopRequest.Number != 15 {
		t.Errorf("stop_request %+v, want SIGTERM 15", r.StopRequest)
	}
}

// runMasterReport starts workers mode as PID 1 with --exit-report.
func runMasterReport(t *testing.T, args ...string) (*nsInit, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.json")
	return startMaster(t, append([]string{"--exit-report", path}, args...)...), path
}

func TestExitReportWorkersCleanStop(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	for _, fail := range [][]string{nil, {"--fail-on-leftovers"}} {
		p, path := runMasterReport(t, append(fail, "--workers", "2", "--", workload, "worker")...)
		waitStarts(t, p, 2, nil)
		p.signal(syscall.SIGTERM)
		if code := p.exitCode(exitTimeout); code != 0 {
			t.Errorf("%v: exit code %d, want 0", fail, code)
		}
		r := readReport(t, path)
		checkWorkers(t, r, true, 0, "stop_request")
		checkStopRequest(t, r)
		checkSlots(t, r, 2, 1, 0, false)
		if r.LeftoversCount != 0 {
			t.Errorf("%v: leftovers %+v, want none", fail, r.Leftovers)
		}
	}
}

// A worker that crashes at once is given up after three deaths; the master
// exits 1. Each run leaves a sleeper in the worker's group that nothing
// stops while the master runs: those are the leftovers.
func TestExitReportWorkersGivenUp(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	for _, tc := range []struct {
		fail   []string
		code   int
		reason string
	}{
		{nil, 1, "gave_up"},
		{[]string{"--fail-on-leftovers=7"}, 7, "leftovers"},
	} {
		p, path := runMasterReport(t, append(tc.fail, "--workers", "1", "--give-up", "3/1m", "--backoff-min", "10ms",
			"--", workload, "swarm", "-n", "1", "-code", "1")...)
		if code := p.exitCode(workersTimeout); code != tc.code {
			t.Errorf("%v: exit code %d, want %d", tc.fail, code, tc.code)
		}
		p.stderr.WaitEOF(t, exitTimeout)
		r := readReport(t, path)
		checkWorkers(t, r, true, tc.code, tc.reason)
		checkSlots(t, r, 1, 3, 3, true)
		if r.StopRequest != nil {
			t.Errorf("stop_request %+v, want none", r.StopRequest)
		}
		if r.LeftoversCount != 3 {
			t.Fatalf("%v: leftovers %+v, want the 3 sleepers", tc.fail, r.Leftovers)
		}
		for _, l := range r.Leftovers {
			checkKilled(t, "sleeper", l.End, syscall.SIGTERM, "pidone_stop")
		}
		warn := regexp.MustCompile(`level=WARN msg="processes were left behind when the workers stopped" count=3 `)
		if c := countMatching(p.stderr.Snapshot(), warn); c != 1 {
			t.Errorf("%d WARN lines on the leftovers, want 1", c)
		}
	}
}

// A worker that ignores SIGTERM is killed after the grace period: a
// worker, not a leftover, and no crash.
func TestExitReportWorkersIgnoresTerm(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p, path := runMasterReport(t, "--fail-on-leftovers", "--workers", "1", "--grace", "300ms", "--", workload, "worker", "-ignore-term")
	waitStarts(t, p, 1, nil)
	p.signal(syscall.SIGTERM)
	p.stdout.WaitFor(t, workerSig, exitTimeout)
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	r := readReport(t, path)
	checkWorkers(t, r, true, 0, "stop_request")
	checkStopRequest(t, r)
	checkSlots(t, r, 1, 1, 0, false)
	if r.LeftoversCount != 0 {
		t.Errorf("leftovers %+v, want none: the worker is no leftover", r.Leftovers)
	}
}

// An escapee below a worker (a setsid daemon) is the leftover; the
// lingerer in the worker's own group is stopped with it and is not.
func TestExitReportWorkersEscapee(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	for _, tc := range []struct {
		fail   []string
		code   int
		reason string
	}{
		{nil, 0, "stop_request"},
		{[]string{"--fail-on-leftovers"}, 122, "leftovers"},
	} {
		p, path := runMasterReport(t, append(tc.fail, "--workers", "1", "--", workload, "lingerers")...)
		pids := lingerPids(t, p)
		p.signal(syscall.SIGTERM)
		if code := p.exitCode(exitTimeout); code != tc.code {
			t.Errorf("%v: exit code %d, want %d", tc.fail, code, tc.code)
		}
		r := readReport(t, path)
		checkWorkers(t, r, true, tc.code, tc.reason)
		checkStopRequest(t, r)
		checkSlots(t, r, 1, 1, 0, false)
		if r.LeftoversCount != 1 || r.Leftovers[0].Pid != pids["escapee"] {
			t.Fatalf("%v: leftovers %+v, want the escapee (pid %d) alone", tc.fail, r.Leftovers, pids["escapee"])
		}
		l := r.Leftovers[0]
		if l.Comm != "workload" || strings.Join(l.Argv[1:], " ") != "linger -role escapee -exit" || l.PPid != 1 {
			t.Errorf("leftover %+v, want the escapee, re-parented to pidone", l)
		}
		checkExited(t, "the escapee", l.End, 0) // its handler exits 0 on SIGTERM
	}
}

// Below an init that never reaps: the escapee ignores SIGTERM and gets
// SIGKILL after the grace period; nothing is left once the master exits.
func TestExitReportWorkersEscapeeSubreaper(t *testing.T) {
	t.Parallel()
	pidone, workload := bins(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skipf("unshare (util-linux) is needed to mount the namespace's own /proc: %v", err)
	}
	path := filepath.Join(t.TempDir(), "report.json")
	p := startInit(t, unshare, "--mount", "--mount-proc", "--", workload, "noreap", "--",
		pidone, "--exit-report", path, "--fail-on-leftovers", "--workers", "1", "--grace", "300ms", "--", workload, "lingerers", "-ignore")
	master := noreapChild(t, p)
	lingerPids(t, p)
	if err := unix.Kill(master, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := subreaperExit(t, master); code != 122 {
		t.Errorf("exit code %d, want 122", code)
	}
	r := readReport(t, path)
	checkWorkers(t, r, false, 122, "leftovers")
	checkStopRequest(t, r)
	checkSlots(t, r, 1, 1, 0, false)
	if r.LeftoversCount != 1 || !strings.Contains(strings.Join(r.Leftovers[0].Argv, " "), "-role escapee") {
		t.Fatalf("leftovers %+v, want the escapee alone", r.Leftovers)
	}
	checkKilled(t, "the escapee", r.Leftovers[0].End, syscall.SIGKILL, "pidone_kill")
	checkOnlyLeft(t, p, master)
}

// A usage error once the report's path is known leaves a report that says
// so; one before it (the path itself) leaves none.
func TestExitReportUsageError(t *testing.T) {
	t.Parallel()
	pidone, workload := bins(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		doc     string
		args    []string
		env     []string
		mode    string
		message string
	}{
		{"a bad value after --exit-report", []string{"--grace", "soon", "--", workload, "exit", "0"}, nil, "single", `--grace: "soon" is not a duration`},
		{"no command", nil, nil, "single", "no command given"},
		{"a bad variable", []string{"--", workload, "exit", "0"}, []string{"PIDONE_GRACE=soon"}, "single", `PIDONE_GRACE: "soon"`},
		{"workers mode's configuration", []string{"--workers", "1", "--config", filepath.Join(dir, "missing.json")}, nil, "workers", "missing.json"},
	} {
		path := filepath.Join(t.TempDir(), "report.json")
		args := append([]string{"--exit-report", path}, tc.args...)
		var env []string
		if tc.env != nil {
			// The report's path from the environment too, as docker
			// run -e would give it.
			args, env = tc.args, append(append(os.Environ(), "PIDONE_EXIT_REPORT="+path), tc.env...)
		}
		p := startInitEnv(t, env, append([]string{pidone}, args...)...)
		if code := p.exitCode(exitTimeout); code != 2 {
			t.Errorf("%s: exit code %d, want 2", tc.doc, code)
		}
		p.stderr.WaitEOF(t, exitTimeout)
		if !strings.Contains(strings.Join(p.stderr.Snapshot(), "\n"), tc.message) {
			t.Errorf("%s: stderr %q, want %q", tc.doc, p.stderr.Snapshot(), tc.message)
		}
		r := readReport(t, path)
		checkNoTemporary(t, path)
		if r.Schema != 1 || r.Mode != tc.mode || r.ExitCode != 2 || r.ExitReason != "usage_error" || !strings.Contains(r.Error, tc.message) ||
			r.MainChild != nil || !r.LeftoversKnown || r.LeftoversCount != 0 || r.Leftovers == nil {
			t.Errorf("%s: report %+v, want a %s usage_error with %q", tc.doc, r, tc.mode, tc.message)
		}
	}
	// docker run --init -e PIDONE_EXIT_REPORT=... -e PIDONE_GRACE=soon:
	// docker-init's usage code, 1, and a report naming the peer.
	link := filepath.Join(dir, "docker-init")
	if err := os.Symlink(pidone, link); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "report.json")
	p := startInitEnv(t, append(os.Environ(), "PIDONE_EXIT_REPORT="+path, "PIDONE_GRACE=soon"), link, "--", workload, "exit", "0")
	if code := p.exitCode(exitTimeout); code != 1 {
		t.Errorf("docker-init: exit code %d, want 1", code)
	}
	r := readReport(t, path)
	if r.Personality != "docker-init" || r.ExitCode != 1 || r.ExitReason != "usage_error" || !strings.Contains(r.Error, "PIDONE_GRACE") {
		t.Errorf("docker-init: report %+v, want its usage error naming PIDONE_GRACE", r)
	}

	// The path itself is the mistake: no report, anywhere.
	bad := filepath.Join(dir, "missing", "report.json")
	p = startInit(t, pidone, "--exit-report", bad, "--", workload, "exit", "0")
	if code := p.exitCode(exitTimeout); code != 2 {
		t.Errorf("a bad path: exit code %d, want 2", code)
	}
	if _, err := os.Stat(filepath.Dir(bad)); err == nil {
		t.Errorf("a report's directory appeared")
	}
}

// Every slot finished as its restart policy allows: exit 0, "finished";
// a failure under --restart never gives the slot up: exit 1, "gave_up".
func TestExitReportWorkersFinished(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	for _, tc := range []struct {
		restart string
		exit    string
		code    int
		reason  string
		crashes int
		givenUp bool
	}{
		{"on-failure", "0", 0, "finished", 0, false},
		{"never", "3", 1, "gave_up", 1, true},
	} {
		p, path := runMasterReport(t, "--workers", "2", "--restart", tc.restart, "--", workload, "exit", tc.exit)
		if code := p.exitCode(exitTimeout); code != tc.code {
			t.Errorf("--restart %s, exit %s: exit code %d, want %d", tc.restart, tc.exit, code, tc.code)
		}
		r := readReport(t, path)
		checkWorkers(t, r, true, tc.code, tc.reason)
		checkSlots(t, r, 2, 1, tc.crashes, tc.givenUp)
		if r.StopRequest != nil || r.LeftoversCount != 0 {
			t.Errorf("--restart %s: stop_request %+v leftovers %d, want none", tc.restart, r.StopRequest, r.LeftoversCount)
		}
	}
}

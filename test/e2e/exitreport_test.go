package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pidone/pidone/test/internal/reportdoc"
)

// The exit report and the leftovers policy (issue 21, docs/exit-report.md):
// pidone as PID 1 of a fresh PID namespace (and once as a subreaper) over
// the workloads, the report decoded strictly with the struct the docs
// describe, field by field.

// The report's types, as the docs list them (test/internal/reportdoc).
type (
	report     = reportdoc.Report
	workerRep  = reportdoc.Worker
	mainChild  = reportdoc.MainChild
	leftover   = reportdoc.Process
	procEnd    = reportdoc.End
	signalName = reportdoc.Signal
)

func readReport(t *testing.T, path string) report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no exit report: %v", err)
	}
	r, err := reportdoc.Decode(b)
	if err != nil {
		t.Fatalf("exit report %s: %v\n%s", path, err, b)
	}
	return r
}

// checkCommon checks the fields every report of pidone's own mode has.
func checkCommon(t *testing.T, r report, pid1 bool, code int, reason string) {
	t.Helper()
	if r.Schema != 1 || r.Mode != "single" || r.Personality != "pidone" || r.Version == "" || r.PID1 != pid1 {
		t.Errorf("schema %d mode %q personality %q version %q pid1 %v, want 1 single pidone, a version, pid1 %v",
			r.Schema, r.Mode, r.Personality, r.Version, r.PID1, pid1)
	}
	start, err1 := time.Parse(time.RFC3339Nano, r.StartTime)
	end, err2 := time.Parse(time.RFC3339Nano, r.EndTime)
	if err1 != nil || err2 != nil || !strings.HasSuffix(r.StartTime, "Z") || end.Before(start) || r.Duration < 0 ||
		time.Since(start) > time.Minute {
		t.Errorf("start %q end %q duration %v: want RFC 3339 UTC times, end after start", r.StartTime, r.EndTime, r.Duration)
	}
	if r.ExitCode != code || r.ExitReason != reason {
		t.Errorf("exit_code %d exit_reason %q, want %d %q", r.ExitCode, r.ExitReason, code, reason)
	}
	if !r.LeftoversKnown || r.LeftoversCount != len(r.Leftovers) || r.LeftoversOmitted != 0 {
		t.Errorf("leftovers known %v count %d listed %d omitted %d", r.LeftoversKnown, r.LeftoversCount, len(r.Leftovers), r.LeftoversOmitted)
	}
}

func checkExited(t *testing.T, what string, e procEnd, code int) {
	t.Helper()
	if e.How != "exited" || e.Code == nil || *e.Code != code || e.Signal != nil || e.AfterSeconds == nil {
		t.Errorf("%s ended %+v, want exited %d after some time", what, e, code)
	}
}

func checkKilled(t *testing.T, what string, e procEnd, sig syscall.Signal, by string) {
	t.Helper()
	if e.How != "killed" || e.Signal == nil || e.Signal.Number != int(sig) || e.Signal.Name != "SIG"+strings.ToUpper(strings.TrimPrefix(sigName(sig), "SIG")) ||
		e.By != by || e.Code != nil || e.AfterSeconds == nil {
		t.Errorf("%s ended %+v (signal %+v), want killed by %d by %q", what, e, e.Signal, sig, by)
	}
}

func sigName(sig syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGKILL: "SIGKILL", syscall.SIGSEGV: "SIGSEGV"}[sig]
}

// startWithProc starts pidone as PID 1 with a /proc of its own PID
// namespace, as in a container (workload withproc): without it pidone
// cannot tell what is left (leftovers_known false).
func startWithProc(t *testing.T, args ...string) *nsInit {
	t.Helper()
	pidone, workload := bins(t)
	return startInit(t, append([]string{workload, "withproc", pidone}, args...)...)
}

// runReport runs pidone with --exit-report and args as PID 1, closes its
// stdin, and returns its exit code, the report and stderr.
func runReport(t *testing.T, args ...string) (int, report, []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.json")
	p := startWithProc(t, append([]string{"--exit-report", path}, args...)...)
	p.closeStdin()
	code := p.exitCode(exitTimeout)
	p.stderr.WaitEOF(t, exitTimeout)
	return code, readReport(t, path), p.stderr.Snapshot()
}

func TestExitReportClean(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	for _, fail := range [][]string{nil, {"--fail-on-leftovers"}} {
		code, r, stderr := runReport(t, append(fail, "--", workload, "exit", "3")...)
		if code != 3 {
			t.Errorf("%v: exit code %d, want 3", fail, code)
		}
		checkCommon(t, r, true, 3, "child_status")
		if r.MainChild == nil || r.MainChild.Pid <= 1 || strings.Join(r.MainChild.Argv, " ") != workload+" exit 3" || r.MainChild.ArgvTruncated {
			t.Errorf("main_child %+v, want a pid, argv %q", r.MainChild, workload+" exit 3")
		} else {
			checkExited(t, "main child", r.MainChild.End, 3)
		}
		if r.LeftoversCount != 0 || r.StopRequest != nil || r.OrphansReapedAfterMain != 0 {
			t.Errorf("leftovers %d stop_request %+v orphans after %d, want none", r.LeftoversCount, r.StopRequest, r.OrphansReapedAfterMain)
		}
		if len(stderr) != 0 {
			t.Errorf("stderr %q, want nothing at the default log level", stderr)
		}
	}
}

func TestExitReportRemap(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	code, r, _ := runReport(t, "-e", "3", "--", workload, "exit", "3")
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	checkCommon(t, r, true, 0, "remap")
}

// leftoverArgs: a main child exiting 3 that leaves one process in its
// group and one setsid escapee.
func TestExitReportLeftoversDieOnTerm(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	for _, tc := range []struct {
		fail   []string
		code   int
		reason string
	}{
		{nil, 3, "child_status"},
		{[]string{"--fail-on-leftovers"}, 122, "leftovers"},
		{[]string{"--fail-on-leftovers=7"}, 7, "leftovers"},
	} {
		code, r, stderr := runReport(t, append(tc.fail, "--", workload, "leave", "-group", "1", "-escapees", "1", "-code", "3")...)
		if code != tc.code {
			t.Errorf("%v: exit code %d, want %d", tc.fail, code, tc.code)
		}
		checkCommon(t, r, true, tc.code, tc.reason)
		checkExited(t, "main child", r.MainChild.End, 3)
		if r.LeftoversCount != 2 {
			t.Fatalf("%v: %d leftovers, want 2: %+v", tc.fail, r.LeftoversCount, r.Leftovers)
		}
		for _, l := range r.Leftovers {
			if l.Comm != "workload" || len(l.Argv) < 2 || l.Argv[1] != "linger" || l.Starttime == 0 || l.Pid <= 2 || l.PPid < 1 {
				t.Errorf("leftover %+v, want comm workload, argv [... linger ...], a starttime", l)
			}
			// linger exits 0 on SIGTERM (its handler), pidone's stop.
			checkExited(t, "leftover", l.End, 0)
		}
		if r.OrphansReaped < 2 || r.OrphansReapedAfterMain < 2 {
			t.Errorf("orphans reaped %d, after main %d, want at least 2", r.OrphansReaped, r.OrphansReapedAfterMain)
		}
		warn := regexp.MustCompile(`level=WARN msg="processes were left behind when the main child ended" count=2 processes="\d+ \(workload\), \d+ \(workload\)"`)
		if n := countMatching(stderr, warn); n != 1 {
			t.Errorf("%d WARN lines on the leftovers, want 1; stderr %q", n, stderr)
		}
	}
}

func countMatching(lines []string, re *regexp.Regexp) int {
	n := 0
	for _, l := range lines {
		if re.MatchString(l) {
			n++
		}
	}
	return n
}

func TestExitReportLeftoverIgnoresTerm(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	for _, fail := range [][]string{nil, {"--fail-on-leftovers"}} {
		code, r, _ := runReport(t, append(fail, "--grace", "300ms", "--", workload, "leave", "-escapees", "1", "-ignore", "-code", "0")...)
		want, reason := 0, "child_status"
		if fail != nil {
			want, reason = 122, "leftovers"
		}
		if code != want {
			t.Errorf("%v: exit code %d, want %d", fail, code, want)
		}
		checkCommon(t, r, true, want, reason)
		if r.LeftoversCount != 1 {
			t.Fatalf("%d leftovers, want 1: %+v", r.LeftoversCount, r.Leftovers)
		}
		l := r.Leftovers[0]
		checkKilled(t, "the escapee", l.End, syscall.SIGKILL, "pidone_kill")
		if l.PPid != 1 {
			t.Errorf("the setsid escapee's ppid %d, want 1 (re-parented to pidone)", l.PPid)
		}
		if *l.End.AfterSeconds < 0.25 {
			t.Errorf("killed after %vs, want after the 300ms grace period", *l.End.AfterSeconds)
		}
	}
}

// A leftover that SIGTERM kills outright (no handler): pidone's stop.
func TestExitReportLeftoverKilledByTerm(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	code, r, _ := runReport(t, "--", workload, "leave", "-plain", "1", "-code", "0")
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	checkCommon(t, r, true, 0, "child_status")
	if r.LeftoversCount != 1 {
		t.Fatalf("%d leftovers, want 1: %+v", r.LeftoversCount, r.Leftovers)
	}
	if l := r.Leftovers[0]; strings.Join(l.Argv[1:], " ") != "sleep 1h" {
		t.Errorf("leftover argv %q, want [workload sleep 1h]", l.Argv)
	}
	checkKilled(t, "the sleeper", r.Leftovers[0].End, syscall.SIGTERM, "pidone_stop")
}

// A program that daemonizes (double fork) and exits: the daemon is a
// leftover, re-parented to pidone, ended by pidone's stop; and, with
// --wait-all, one that exits on its own.
func TestExitReportDoubleFork(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	code, r, _ := runReport(t, "--fail-on-leftovers", "--", workload, "forkexit", "-life", "1h", "-code", "0")
	if code != 122 {
		t.Errorf("exit code %d, want 122", code)
	}
	checkCommon(t, r, true, 122, "leftovers")
	if r.LeftoversCount != 1 || r.Leftovers[0].PPid != 1 || len(r.Leftovers[0].Argv) < 2 || r.Leftovers[0].Argv[1] != "daemon" {
		t.Fatalf("leftovers %+v, want the daemon, re-parented to pidone", r.Leftovers)
	}
	checkKilled(t, "the daemon", r.Leftovers[0].End, syscall.SIGTERM, "pidone_stop")

	code, r, _ = runReport(t, "--wait-all", "--", workload, "forkexit", "-life", "300ms", "-code", "4")
	if code != 4 {
		t.Errorf("--wait-all: exit code %d, want 4", code)
	}
	checkCommon(t, r, true, 4, "child_status")
	if r.LeftoversCount != 1 {
		t.Fatalf("--wait-all: leftovers %+v, want the daemon", r.Leftovers)
	}
	checkExited(t, "the daemon under --wait-all", r.Leftovers[0].End, 0)
	// It lived 300ms from its start, a little before the main child's
	// exit: it ended after the main child (how long after depends on the
	// machine's load, so no more is checked).
	if a := *r.Leftovers[0].End.AfterSeconds; a <= 0 {
		t.Errorf("the daemon ended %vs after the main child, want after it", a)
	}
}

func TestExitReportMainKilledBySignal(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	code, r, _ := runReport(t, "--fail-on-leftovers", "--", workload, "killself", "SEGV")
	if code != 139 {
		t.Errorf("exit code %d, want 139", code)
	}
	checkCommon(t, r, true, 139, "child_status")
	checkKilled(t, "main child", r.MainChild.End, syscall.SIGSEGV, "")
}

func TestExitReportStopRequest(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	for _, fail := range [][]string{nil, {"--fail-on-leftovers=9"}} {
		path := filepath.Join(t.TempDir(), "report.json")
		p := startWithProc(t, append(append([]string{"--exit-report", path, "--grace", "300ms"}, fail...), "--", workload, "lingerers", "-ignore", "-code", "5")...)
		lingerPids(t, p)
		p.signal(syscall.SIGTERM)
		code := p.exitCode(exitTimeout)
		want, reason := 5, "child_status"
		if fail != nil {
			want, reason = 9, "leftovers"
		}
		if code != want {
			t.Errorf("%v: exit code %d, want %d", fail, code, want)
		}
		r := readReport(t, path)
		checkCommon(t, r, true, want, reason)
		checkExited(t, "main child", r.MainChild.End, 5)
		if r.StopRequest == nil || r.StopRequest.Name != "SIGTERM" || r.StopRequest.Number != 15 {
			t.Errorf("stop_request %+v, want SIGTERM 15", r.StopRequest)
		}
		if r.LeftoversCount != 2 {
			t.Fatalf("%d leftovers, want the two that ignore SIGTERM: %+v", r.LeftoversCount, r.Leftovers)
		}
		for _, l := range r.Leftovers {
			checkKilled(t, "leftover", l.End, syscall.SIGKILL, "pidone_kill")
		}
	}
}

// Below another init, as a child subreaper: the leftovers are pidone's
// descendants.
func TestExitReportSubreaper(t *testing.T) {
	t.Parallel()
	pidone, workload := bins(t)
	path := filepath.Join(t.TempDir(), "report.json")
	argv := []string{pidone, "--exit-report", path, "--fail-on-leftovers", "--", workload, "leave", "-group", "1", "-code", "4"}
	p := startCmd(t, exec.Command(argv[0], argv[1:]...), argv)
	p.closeStdin()
	if code := p.exitCode(exitTimeout); code != 122 {
		t.Errorf("exit code %d, want 122", code)
	}
	r := readReport(t, path)
	checkCommon(t, r, false, 122, "leftovers")
	checkExited(t, "main child", r.MainChild.End, 4)
	if r.LeftoversCount != 1 || r.Leftovers[0].PPid != p.pid {
		t.Fatalf("leftovers %+v, want one, re-parented to pidone (pid %d)", r.Leftovers, p.pid)
	}
	checkExited(t, "leftover", r.Leftovers[0].End, 0)
}

func TestExitReportStartFailure(t *testing.T) {
	t.Parallel()
	code, r, _ := runReport(t, "--", "/no/such/command")
	if code != 127 {
		t.Errorf("exit code %d, want 127", code)
	}
	checkCommon(t, r, true, 127, "start_failure")
	if r.MainChild == nil || r.MainChild.Pid != 0 || r.MainChild.End.How != "not_started" || !strings.Contains(r.MainChild.End.Error, "/no/such/command") {
		t.Errorf("main_child %+v, want not_started naming the command", r.MainChild)
	}
}

func TestExitReportBadPath(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, want string
	}{
		{filepath.Join(dir, "adir"), "is a directory"},
		{filepath.Join(dir, "missing", "r.json"), "no such file or directory"},
		{filepath.Join(dir, "adir") + "/", "is a directory"},
	} {
		code, _, stderr := run(t, exitTimeout, "--exit-report", tc.path, "--", workload, "exit", "0")
		all := strings.Join(stderr, "\n")
		if code != 2 || !strings.Contains(all, "--exit-report") || !strings.Contains(all, tc.want) {
			t.Errorf("--exit-report %s: exit code %d, stderr %q; want 2 and a message with %q", tc.path, code, all, tc.want)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "adir")); len(entries) != 0 {
		t.Errorf("files left in the directory: %v", entries)
	}
}

// A dangling symbolic link at PATH is replaced, never written through.
func TestExitReportSymlink(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	dir := t.TempDir()
	path, target := filepath.Join(dir, "report.json"), filepath.Join(dir, "target")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	code, _, _ := run(t, exitTimeout, "--exit-report", path, "--", workload, "exit", "0")
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("the link's target was created (%v)", err)
	}
	if fi, err := os.Lstat(path); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("report path %v %v, want a regular file in the link's place", fi, err)
	}
	readReport(t, path)
}

// A report that cannot be written at the end changes nothing but a WARN:
// the exit code is the child's, and no temporary file is left.
func TestExitReportWriteFails(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := startPidone(t, "--exit-report", filepath.Join(dir, "r.json"), "--", workload, "lingerers", "-code", "6")
	lingerPids(t, p)
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(exitTimeout); code != 6 {
		t.Errorf("exit code %d, want 6", code)
	}
	warn := regexp.MustCompile(`level=WARN msg="cannot write the exit report; the exit code is unchanged" path=\S+/out/r.json error=".*no such file or directory"$`)
	p.stderr.WaitEOF(t, exitTimeout)
	if n := p.stderr.Count(warn); n != 1 {
		t.Errorf("want one WARN naming the report; stderr:\n%s", p.stderr.Tail(20))
	}
	if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// An unprivileged user cannot have pidone write where it may not.
func TestExitReportUnwritable(t *testing.T) {
	t.Parallel()
	needRoot(t, "runs pidone as nobody")
	pidone, workload := bins(t)
	dir := t.TempDir() // root's, 0700 or 0755
	cmd := exec.Command(pidone, "--exit-report", filepath.Join(dir, "r.json"), "--", workload, "exit", "0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "not writable") && !strings.Contains(string(out), "permission denied") {
		t.Errorf("as nobody: %v, output %q; want exit 2 saying the directory is not writable", err, out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// A read-only filesystem is refused before anything starts; a full one
// fails the write at the end, which leaves the exit code alone and no
// temporary file behind. Both in a mount namespace of their own
// (unshare --mount), so nothing reaches the host.
func TestExitReportFilesystems(t *testing.T) {
	t.Parallel()
	needRoot(t, "mounts a tmpfs")
	pidone, workload := bins(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skipf("unshare (util-linux) is needed for a mount namespace: %v", err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		doc, setup string
		code       int
		want       string
	}{
		{"read-only", `mount -t tmpfs -o ro,size=64k none "$D"`, 2, `--exit-report: directory .* is not writable: read-only file system`},
		{"full", `mount -t tmpfs -o size=4k none "$D" && (cat /dev/zero > "$D/fill" 2>/dev/null || true)`, 7,
			`level=WARN msg="cannot write the exit report; the exit code is unchanged" .*no space left on device`},
	} {
		script := "set -e; " + tc.setup + `; rc=0; "$P" --exit-report "$D/r.json" -- "$W" exit 7 || rc=$?; echo "files: $(ls -A "$D" | tr '\n' ' ')"; exit $rc`
		cmd := exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-c", script)
		cmd.Env = append(os.Environ(), "D="+dir, "P="+pidone, "W="+workload)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !regexp.MustCompile(tc.want).Match(out) {
			t.Errorf("%s: exit code %d, output %q; want %d and %q", tc.doc, code, out, tc.code, tc.want)
		}
		if m := regexp.MustCompile(`(?m)^files: (.*)$`).FindSubmatch(out); m == nil || strings.Contains(string(m[1]), "r.json") {
			t.Errorf("%s: files left: %q", tc.doc, out)
		}
	}
}

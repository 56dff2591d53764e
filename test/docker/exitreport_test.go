package docker

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pidone/pidone/test/internal/reportdoc"
)

// The exit report and the leftovers policy in real containers (issue 21,
// docs/exit-report.md): pidone as the image's ENTRYPOINT with its options,
// and as /docker-init (what `docker run --init` runs) with the same options
// as PIDONE_* variables, the report written to a bind-mounted directory and
// read from the host, field by field.

// The report's types, as the docs list them (test/internal/reportdoc).
type (
	xReport  = reportdoc.Report
	xMain    = reportdoc.MainChild
	xProcess = reportdoc.Process
	xEnd     = reportdoc.End
	xSignal  = reportdoc.Signal
)

// An entry is how the container starts pidone.
type entry struct {
	name        string // for the test's name
	personality string // the one the report must name
	// argv returns the docker run options before the image and the
	// arguments after it, for pidone's options opts (long options, with
	// their values as "--name=value" or "--name") over the command cmd.
	argv func(s *suite, opts []string, cmd []string) (before, after []string)
}

// entries: pidone as the ENTRYPOINT, options on its command line; pidone
// as /docker-init, which dockerd runs with tini's command line
// (`/sbin/docker-init -- CMD`), so the options are PIDONE_* variables:
// once as the image's /docker-init (a link to /pidone) made the entry
// point, as in env_options_test.go, and once as `docker run --init` itself
// with the host's pidone mounted over the engine's own init, as
// docs/testing.md shows (the engine here is shared: its --init-path cannot
// point at pidone).
var entries = []entry{
	{"pidone", "pidone", func(_ *suite, opts, cmd []string) ([]string, []string) {
		return []string{"--entrypoint", "/pidone"}, append(append(slices.Clone(opts), "--"), cmd...)
	}},
	{"docker-init", "docker-init", func(_ *suite, opts, cmd []string) ([]string, []string) {
		return append(envOptions(opts), "--entrypoint", "/docker-init"), append([]string{"--"}, cmd...)
	}},
	{"run-init", "docker-init", func(s *suite, opts, cmd []string) ([]string, []string) {
		// The image's ENTRYPOINT is pidone: the command replaces it,
		// or pidone would run below pidone.
		before := append(envOptions(opts), "--init", "-v", s.pidoneBin+":/sbin/docker-init:ro", "--entrypoint", cmd[0])
		return before, cmd[1:]
	}},
}

// envOptions turns long options into docker run's -e PIDONE_NAME=value
// (a flag without a value is "true").
func envOptions(opts []string) []string {
	var env []string
	for _, o := range opts {
		name, value, ok := strings.Cut(strings.TrimPrefix(o, "--"), "=")
		if !ok {
			value = "true"
		}
		env = append(env, "-e", "PIDONE_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))+"="+value)
	}
	return env
}

// reportRun is one container run with --exit-report.
type reportRun struct {
	dir  string // the host directory mounted at /out
	args []string
}

// startArgs returns the docker run arguments (without "run") for cmd under
// e with opts, the report going to /out/report.json, a bind mount of a
// fresh host directory.
func startArgs(t *testing.T, s *suite, e entry, name string, opts, cmd []string) ([]string, reportRun) {
	t.Helper()
	dir := t.TempDir()
	opts = append([]string{"--exit-report=/out/report.json"}, opts...)
	before, after := e.argv(s, opts, cmd)
	argv := append([]string{"--name", name}, labels()...)
	argv = append(append(append(argv, "-v", dir+":/out"), before...), s.image)
	return append(argv, after...), reportRun{dir: dir, args: append(before, after...)}
}

// runReport runs cmd to its end under e with opts and returns docker's
// exit status and the report.
func runReport(t *testing.T, s *suite, e entry, opts []string, cmd ...string) (int, xReport) {
	t.Helper()
	name := containerName(t)
	removeOnCleanup(t, name)
	argv, rr := startArgs(t, s, e, name, opts, cmd)
	r := docker(t, append([]string{"run"}, argv...)...)
	if r.code == -1 || r.code == 125 {
		t.Fatalf("the container did not run: %s", r)
	}
	return r.code, rr.read(t, r.stderr)
}

// read decodes the report strictly; stderr is the container's, for the
// failure message.
func (rr reportRun) read(t *testing.T, stderr string) xReport {
	t.Helper()
	path := filepath.Join(rr.dir, "report.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no exit report in the bind-mounted directory (%v); pidone's arguments %q; stderr:\n%s", err, rr.args, stderr)
	}
	x, err := reportdoc.Decode(b)
	if err != nil {
		t.Fatalf("exit report: %v\n%s", err, b)
	}
	if entries, _ := os.ReadDir(rr.dir); len(entries) != 1 {
		t.Errorf("the report's directory holds %d entries, want the report alone (no temporary file)", len(entries))
	}
	return x
}

// want is what one report must say beyond the fields every report has.
type want struct {
	entry     entry
	code      int
	reason    string
	main      []string // the main child's argv
	mainEnd   func(t *testing.T, e xEnd)
	stop      *xSignal
	leftovers []wantLeftover // in any order
	// orphans reaped in all and after the main child, or -1 for "at least
	// as many as there were leftovers" (each leftover is one).
	orphans, orphansAfter int
}

// check compares a report with w, field by field; code is what docker
// reported.
func check(t *testing.T, x xReport, code int, w want) {
	t.Helper()
	if code != w.code {
		t.Errorf("docker run exit status %d, want %d", code, w.code)
	}
	if x.Schema != 1 || x.Mode != "single" || x.Personality != w.entry.personality || !x.PID1 {
		t.Errorf("schema %d mode %q personality %q pid1 %v; want 1, single, %q, true", x.Schema, x.Mode, x.Personality, x.PID1, w.entry.personality)
	}
	if v := os.Getenv("PIDONE_VERSION"); x.Version == "" || v != "" && x.Version != v {
		t.Errorf("version %q, want %q (the version make stamped)", x.Version, v)
	}
	start, err1 := time.Parse(time.RFC3339Nano, x.StartTime)
	end, err2 := time.Parse(time.RFC3339Nano, x.EndTime)
	if err1 != nil || err2 != nil || !strings.HasSuffix(x.StartTime, "Z") || !strings.HasSuffix(x.EndTime, "Z") ||
		end.Before(start) || time.Since(start) > 10*time.Minute || start.After(time.Now().Add(time.Minute)) {
		t.Errorf("start_time %q end_time %q: want RFC 3339 in UTC, end after start, both just now (%v %v)", x.StartTime, x.EndTime, err1, err2)
	}
	if d := end.Sub(start).Seconds(); x.Duration < 0 || x.Duration < d-0.002 || x.Duration > d+0.002 {
		t.Errorf("duration_seconds %v, want end_time - start_time = %.3f", x.Duration, d)
	}
	if x.ExitCode != w.code || x.ExitReason != w.reason {
		t.Errorf("exit_code %d exit_reason %q, want %d %q", x.ExitCode, x.ExitReason, w.code, w.reason)
	}
	if m := x.MainChild; m == nil || m.Pid <= 1 || !slices.Equal(m.Argv, w.main) || m.ArgvTruncated {
		t.Errorf("main_child %+v, want a pid above 1 and argv %q, whole", m, w.main)
	} else {
		w.mainEnd(t, m.End)
	}
	if (x.StopRequest == nil) != (w.stop == nil) || x.StopRequest != nil && *x.StopRequest != *w.stop {
		t.Errorf("stop_request %+v, want %+v", x.StopRequest, w.stop)
	}
	if !x.LeftoversKnown || x.LeftoversOmitted != 0 || x.LeftoversCount != len(x.Leftovers) {
		t.Errorf("leftovers_known %v count %d omitted %d listed %d; want known, all listed", x.LeftoversKnown, x.LeftoversCount, x.LeftoversOmitted, len(x.Leftovers))
	}
	if len(x.Leftovers) != len(w.leftovers) {
		t.Errorf("%d leftovers, want %d: %+v", len(x.Leftovers), len(w.leftovers), x.Leftovers)
	} else {
		pids := map[int]bool{}
		for _, p := range x.Leftovers {
			if p.Pid <= 1 || x.MainChild != nil && p.Pid == x.MainChild.Pid || pids[p.Pid] || p.PPid != 1 || p.Starttime == 0 || p.ArgvTruncated {
				t.Errorf("leftover %+v: want a pid of its own, ppid 1 (re-parented to pidone), a starttime, argv whole", p)
			}
			pids[p.Pid] = true
		}
		for _, wl := range w.leftovers {
			i := slices.IndexFunc(x.Leftovers, func(p xProcess) bool { return slices.Equal(p.Argv, wl.argv) })
			if i < 0 {
				t.Errorf("no leftover with argv %q: %+v", wl.argv, x.Leftovers)
				continue
			}
			p := x.Leftovers[i]
			if p.Comm != wl.comm {
				t.Errorf("leftover %d %q: comm %q, want %q", p.Pid, p.Argv, p.Comm, wl.comm)
			}
			wl.end(t, p.End)
		}
	}
	orphans, after := w.orphans, w.orphansAfter
	if orphans < 0 {
		orphans, after = len(w.leftovers), len(w.leftovers)
	}
	if x.OrphansReaped != orphans || x.OrphansReapedAfterMain != after {
		t.Errorf("orphans_reaped %d, after the main child %d; want %d and %d", x.OrphansReaped, x.OrphansReapedAfterMain, orphans, after)
	}
}

func exited(code int) func(*testing.T, xEnd) {
	return func(t *testing.T, e xEnd) {
		t.Helper()
		if e.How != "exited" || e.Code == nil || *e.Code != code || e.Signal != nil || e.By != "" || e.AfterSeconds == nil || *e.AfterSeconds < 0 || e.Error != "" {
			t.Errorf("end %s, want exited %d and when", showEnd(e), code)
		}
	}
}

// killed wants the signal name and number, and by: "pidone_stop",
// "pidone_kill", or "" (not pidone's); minAfter bounds after_seconds from
// below.
func killed(name string, number int, by string, minAfter float64) func(*testing.T, xEnd) {
	return func(t *testing.T, e xEnd) {
		t.Helper()
		if e.How != "killed" || e.Signal == nil || e.Signal.Name != name || e.Signal.Number != number || e.By != by ||
			e.Code != nil || e.AfterSeconds == nil || *e.AfterSeconds < minAfter || e.Error != "" {
			t.Errorf("end %s, want killed by %s (%d), by %q, at least %vs after", showEnd(e), name, number, by, minAfter)
		}
	}
}

func showEnd(e xEnd) string {
	b, _ := json.Marshal(e)
	return string(b)
}

// wantLeftover is a leftover the report must list: its comm, argv and end.
type wantLeftover struct {
	comm string
	argv []string
	end  func(*testing.T, xEnd)
}

// failModes are the runs of each case: without the policy, with its
// default CODE and with a CODE of its own; code gives the exit status
// for a report that lists leftovers, given the child's status.
var failModes = []struct {
	name string
	opts []string
	code func(child int) (int, string)
}{
	{"policy_off", nil, func(child int) (int, string) { return child, "child_status" }},
	{"fail_on_leftovers", []string{"--fail-on-leftovers"}, func(int) (int, string) { return 122, "leftovers" }},
	{"fail_on_leftovers_7", []string{"--fail-on-leftovers=7"}, func(int) (int, string) { return 7, "leftovers" }},
}

// forEach runs body for every entry and the first modes fail modes (the
// CODE of its own only where it can change something), in parallel.
func forEach(t *testing.T, modes int, body func(t *testing.T, e entry, opts []string, leftCode func(int) (int, string))) {
	for _, e := range entries {
		for _, f := range failModes[:modes] {
			t.Run(e.name+"/"+f.name, func(t *testing.T) {
				t.Parallel()
				body(t, e, f.opts, f.code)
			})
		}
	}
}

// testExitReport is the Docker tier's half of issue 21's tests; the e2e
// tier (test/e2e/exitreport_test.go) covers the rest, as PID 1 of a fresh
// PID namespace and as a subreaper.
func testExitReport(t *testing.T, s *suite) {
	if !s.has("--exit-report") {
		t.Fatal("pidone --help does not list --exit-report")
	}
	t.Run("Clean", func(t *testing.T) { testReportClean(t, s) })
	t.Run("LeftoverDiesOnTerm", func(t *testing.T) { testReportDiesOnTerm(t, s) })
	t.Run("LeftoverIgnoresTerm", func(t *testing.T) { testReportIgnoresTerm(t, s) })
	t.Run("DoubleForkedDaemon", func(t *testing.T) { testReportDaemon(t, s) })
	t.Run("DaemonWithZombie", func(t *testing.T) { testReportZombie(t, s) })
	t.Run("MainKilledBySignal", func(t *testing.T) { testReportKilled(t, s) })
	t.Run("DockerStop", func(t *testing.T) { testReportStop(t, s) })
}

// A main child that exits 0 and leaves nothing: exit 0 whatever the
// policy.
func testReportClean(t *testing.T, s *suite) {
	forEach(t, 2, func(t *testing.T, e entry, opts []string, _ func(int) (int, string)) {
		cmd := []string{"/workload", "exit", "0"}
		code, x := runReport(t, s, e, opts, cmd...)
		check(t, x, code, want{entry: e, code: 0, reason: "child_status", main: cmd, mainEnd: exited(0)})
	})
}

// A process in the main child's group with SIGTERM at its default action:
// a leftover, killed by pidone's SIGTERM. Under docker-init pidone
// SIGKILLs what is left at once, as tini's exit would (docs/personalities.md),
// unless PIDONE_GRACE asks for SIGTERM first: both are checked.
func testReportDiesOnTerm(t *testing.T, s *suite) {
	forEach(t, 3, func(t *testing.T, e entry, opts []string, leftCode func(int) (int, string)) {
		cmd := []string{"/workload", "leave", "-plain", "1", "-code", "0"}
		code, reason := leftCode(0)
		sleeper := []string{"/workload", "sleep", "1h"}
		byTerm := wantLeftover{"workload", sleeper, killed("SIGTERM", 15, "pidone_stop", 0)}
		// A grace period far longer than the test: the sleeper dies of
		// the SIGTERM, or the test times out.
		c, x := runReport(t, s, e, append([]string{"--grace=5m"}, opts...), cmd...)
		check(t, x, c, want{entry: e, code: code, reason: reason, main: cmd, mainEnd: exited(0),
			leftovers: []wantLeftover{byTerm}, orphans: -1})
		if e.personality == "docker-init" {
			c, x := runReport(t, s, e, opts, cmd...)
			check(t, x, c, want{entry: e, code: code, reason: reason, main: cmd, mainEnd: exited(0),
				leftovers: []wantLeftover{{"workload", sleeper, killed("SIGKILL", 9, "pidone_kill", 0)}}, orphans: -1})
		}
	})
}

// A setsid escapee that survives SIGTERM: SIGKILL after --grace.
func testReportIgnoresTerm(t *testing.T, s *suite) {
	forEach(t, 2, func(t *testing.T, e entry, opts []string, leftCode func(int) (int, string)) {
		cmd := []string{"/workload", "leave", "-escapees", "1", "-ignore", "-code", "3"}
		code, reason := leftCode(3)
		c, x := runReport(t, s, e, append([]string{"--grace=300ms"}, opts...), cmd...)
		check(t, x, c, want{entry: e, code: code, reason: reason, main: cmd, mainEnd: exited(3),
			leftovers: []wantLeftover{{"workload", []string{"/workload", "linger", "-role", "left", "-ready-fd", "3", "-ignore"},
				killed("SIGKILL", 9, "pidone_kill", 0.29)}}, orphans: -1})
	})
}

// A program that daemonizes (fork, setsid, fork) and exits: the daemon.
func testReportDaemon(t *testing.T, s *suite) {
	forEach(t, 2, func(t *testing.T, e entry, opts []string, leftCode func(int) (int, string)) {
		cmd := []string{"/workload", "forkexit", "-life", "1h", "-code", "0"}
		code, reason := leftCode(0)
		c, x := runReport(t, s, e, append([]string{"--grace=5m"}, opts...), cmd...)
		check(t, x, c, want{entry: e, code: code, reason: reason, main: cmd, mainEnd: exited(0),
			leftovers: []wantLeftover{{"workload", []string{"/workload", "daemon", "-life", "1h0m0s"},
				killed("SIGTERM", 15, "pidone_stop", 0)}}, orphans: -1})
	})
}

// A daemon that leaves a child of its own unreaped (helper zombied): the
// daemon is the one leftover; its child, a zombie already when the main
// child ended, is not one (it is dead), but pidone reaps it once the
// daemon's death re-parents it: two orphans reaped after the main child,
// so no zombie outlives the daemon.
func testReportZombie(t *testing.T, s *suite) {
	forEach(t, 2, func(t *testing.T, e entry, opts []string, leftCode func(int) (int, string)) {
		cmd := []string{"/helper", "zombied"}
		code, reason := leftCode(0)
		c, x := runReport(t, s, e, append([]string{"--grace=5m"}, opts...), cmd...)
		check(t, x, c, want{entry: e, code: code, reason: reason, main: cmd, mainEnd: exited(0),
			leftovers: []wantLeftover{{"helper", []string{"/helper", "zombied-daemon"},
				killed("SIGTERM", 15, "pidone_stop", 0)}}, orphans: 2, orphansAfter: 2})
	})
}

// The main child killed by a signal: 128+N, and nothing left, so the
// policy changes nothing.
func testReportKilled(t *testing.T, s *suite) {
	forEach(t, 2, func(t *testing.T, e entry, opts []string, _ func(int) (int, string)) {
		cmd := []string{"/workload", "killself", "SEGV"}
		c, x := runReport(t, s, e, opts, cmd...)
		check(t, x, c, want{entry: e, code: 128 + 11, reason: "child_status", main: cmd, mainEnd: killed("SIGSEGV", 11, "", 0)})
	})
}

var lingerReady = regexp.MustCompile(`^(main|group|escapee) \d+ ready$`)

// `docker stop` during the run, over a main child that exits 5 on SIGTERM
// and two processes that survive it (one in its group, one setsid
// escapee). pidone's own personality takes the SIGTERM as a stop request
// (stop_request); docker-init forwards it to the main child as tini does,
// so there is none. Either way the two are SIGKILLed after --grace.
func testReportStop(t *testing.T, s *suite) {
	forEach(t, 2, func(t *testing.T, e entry, opts []string, leftCode func(int) (int, string)) {
		cmd := []string{"/workload", "lingerers", "-ignore", "-code", "5"}
		name := containerName(t)
		removeOnCleanup(t, name)
		argv, rr := startArgs(t, s, e, name, append([]string{"--grace=300ms"}, opts...), cmd)
		mustDocker(t, append([]string{"run", "-d", "-i"}, argv...)...)
		stdout, stderr := follow(t, "logs", "-f", name)
		stdout.WaitForNth(t, lingerReady, 3, lineTimeout)
		if r := docker(t, "stop", "-t", "60", name); r.code != 0 {
			t.Fatal(r)
		}
		c := exitCode(t, name)
		stderr.WaitEOF(t, lineTimeout)
		x := rr.read(t, strings.Join(stderr.Snapshot(), "\n"))
		code, reason := leftCode(5)
		var stop *xSignal
		if e.personality == "pidone" {
			stop = &xSignal{Name: "SIGTERM", Number: 15}
		}
		linger := func(role string) wantLeftover {
			return wantLeftover{"workload", []string{"/workload", "linger", "-role", role, "-ignore"}, killed("SIGKILL", 9, "pidone_kill", 0.29)}
		}
		check(t, x, c, want{entry: e, code: code, reason: reason, main: cmd, mainEnd: exited(5), stop: stop,
			leftovers: []wantLeftover{linger("group"), linger("escapee")}, orphans: -1})
	})
}

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Workers mode (docs/workers.md) as PID 1 of fresh PID namespaces. The
// master runs over `workload worker`, which reports its slot, environment,
// process group and every signal on stdout.

// workersTimeout bounds every wait in these tests: generous, because other
// suites load both cores at the same time.
const workersTimeout = 20 * time.Second

var (
	workerStart = regexp.MustCompile(`^worker start group=(\S*) index=(\d+) count=(\d+) gen=(\d+) pid=(\d+) pgid=(\d+)$`)
	workerSig   = regexp.MustCompile(`^worker sig index=(\d+) pid=(\d+) sig=(\d+)$`)
	workerExit  = regexp.MustCompile(`^worker exit index=(\d+) pid=(\d+) code=(\d+)$`)
)

// started is one "worker start" line.
type started struct {
	group             string
	index, count, gen int
	pid, pgid         int
}

func parseStarts(lines []string) []started {
	var out []started
	for _, l := range lines {
		if m := workerStart.FindStringSubmatch(l); m != nil {
			n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
			out = append(out, started{m[1], n(2), n(3), n(4), n(5), n(6)})
		}
	}
	return out
}

// startMaster starts pidone with args as PID 1 of a new PID namespace that
// has its own /proc (workload withproc), as in a container: pidone ctl
// identifies the master through /proc/PID/exe.
func startMaster(t *testing.T, args ...string) *nsInit {
	t.Helper()
	pidone, workload := bins(t)
	return startInit(t, append([]string{workload, "withproc", pidone}, args...)...)
}

// waitStarts waits until n "worker start" lines matching keep are in, and
// returns them.
func waitStarts(t *testing.T, p *nsInit, n int, keep func(started) bool) []started {
	t.Helper()
	var got []started
	eventually(t, workersTimeout, func() (bool, string) {
		got = got[:0]
		for _, s := range parseStarts(p.stdout.Snapshot()) {
			if keep == nil || keep(s) {
				got = append(got, s)
			}
		}
		return len(got) >= n, fmt.Sprintf("%d worker starts, want %d; stdout:\n%s", len(got), n, p.stdout.Tail(20))
	})
	return got
}

// stdoutCount counts stdout lines matching format's regexp.
func stdoutCount(p *nsInit, format string, a ...any) int {
	return p.stdout.Count(regexp.MustCompile(fmt.Sprintf(format, a...)))
}

// hostPid returns the host pid of the process that has pid nsPid in the
// namespace of p.
func hostPid(t *testing.T, p *nsInit, nsPid int) int {
	t.Helper()
	for _, pr := range nsProcs(t, p.pid) {
		if n, err := nsPidOf(pr.pid); err == nil && n == nsPid {
			return pr.pid
		}
	}
	t.Fatalf("no process with pid %d in the namespace of %d", nsPid, p.pid)
	return 0
}

// startOutside starts argv in the test's own namespaces (no new PID
// namespace, unlike startInit), with the same pipes and clean-up.
func startOutside(t *testing.T, argv ...string) *nsInit {
	t.Helper()
	return startCmd(t, exec.Command(argv[0], argv[1:]...), argv)
}

// ctlIn runs `pidone ctl args...` inside p's PID and mount namespaces
// (nsenter), as `docker exec` would, and returns its exit status and output.
func ctlIn(t *testing.T, p *nsInit, args ...string) (int, string) {
	t.Helper()
	pidone, _ := bins(t)
	argv := append(nsenterArgs(p.pid, "-p", "-m"), append([]string{pidone, "ctl"}, args...)...)
	return runCmd(t, "nsenter", argv...)
}

func runCmd(t *testing.T, name string, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errorAs(err, &ee) && ee.Exited():
		return ee.ExitCode(), string(out)
	case errorAs(err, &ee):
		return 128 + int(ee.Sys().(syscall.WaitStatus).Signal()), string(out)
	}
	t.Fatalf("%s %q: %v", name, args, err)
	return 0, ""
}

func errorAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	*target = e
	return ok
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWorkersStartWithTheirEnvironmentAndPidfile(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	pidfile := filepath.Join(t.TempDir(), "master.pid")
	p := startMaster(t, "-v", "--workers", "3", "--pidfile", pidfile, "--", workload, "worker")
	starts := waitStarts(t, p, 3, nil)
	p.stderr.WaitFor(t, regexp.MustCompile(`msg="worker started" group=main slot=2`), workersTimeout)

	slots, pgids := map[int]bool{}, map[int]bool{}
	for _, s := range starts {
		slots[s.index] = true
		pgids[s.pgid] = true
		if s.group != "main" || s.count != 3 || s.gen != 1 {
			t.Errorf("worker %+v: want group main, PIDONE_WORKER_COUNT 3, PIDONE_WORKER_GENERATION 1", s)
		}
		if s.pgid != s.pid {
			t.Errorf("worker %+v is not the leader of its own process group", s)
		}
	}
	if len(slots) != 3 || !slots[0] || !slots[1] || !slots[2] || len(pgids) != 3 {
		t.Errorf("slots %v, groups %v; want PIDONE_WORKER_INDEX 0, 1, 2 in three groups", slots, pgids)
	}
	eventually(t, workersTimeout, func() (bool, string) {
		b, err := os.ReadFile(pidfile)
		return err == nil && string(b) == "1\n", fmt.Sprintf("pidfile: %q, %v", b, err)
	})
	if _, err := os.Stat(pidfile + ".lock"); err != nil {
		t.Errorf("lock file: %v", err)
	}

	p.signal(syscall.SIGTERM)
	if code := p.exitCode(workersTimeout); code != 0 {
		t.Errorf("after SIGTERM: exit code %d, want 0", code)
	}
	p.stdout.WaitEOF(t, workersTimeout)
	if n := stdoutCount(p, `^worker exit index=\d+ pid=\d+ code=0$`); n != 3 {
		t.Errorf("%d workers exited on SIGTERM, want 3", n)
	}
	for _, f := range []string{pidfile, pidfile + ".lock"} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s left after exit: %v", f, err)
		}
	}
}

func TestKilledWorkerIsRespawnedAlone(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startMaster(t, "-v", "--workers", "2", "--", workload, "worker")
	starts := waitStarts(t, p, 2, nil)
	victim := starts[0]
	if err := unix.Kill(hostPid(t, p, victim.pid), unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	again := waitStarts(t, p, 1, func(s started) bool { return s.index == victim.index && s.pid != victim.pid })
	p.stderr.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`msg="worker exited" .*pid=%d status="killed by SIGKILL"`, victim.pid)), workersTimeout)
	if again[0].gen != 1 || again[0].count != 2 {
		t.Errorf("replacement %+v: want the same generation and count", again[0])
	}
	other := 1 - victim.index
	if n := len(waitStarts(t, p, 1, func(s started) bool { return s.index == other })); n != 1 {
		t.Errorf("slot %d was started %d times; the kill of slot %d must not touch it", other, n, victim.index)
	}
}

// respawnDelays returns the delays pidone logged for respawns, in order.
func respawnDelays(p *nsInit) []time.Duration {
	re := regexp.MustCompile(`msg="respawning worker" .* delay=(\S+)`)
	var ds []time.Duration
	for _, l := range p.stderr.Snapshot() {
		if m := re.FindStringSubmatch(l); m != nil {
			d, _ := time.ParseDuration(m[1])
			ds = append(ds, d)
		}
	}
	return ds
}

// checkDelay fails unless got is want shortened by at most a fifth (the
// jitter), give or take the millisecond the log rounds to.
func checkDelay(t *testing.T, i int, got, want time.Duration) {
	t.Helper()
	if got > want+time.Millisecond || got < want-want/5-time.Millisecond {
		t.Errorf("respawn %d: delay %v, want %v minus at most 20%%", i+1, got, want)
	}
}

func TestBackoffSequenceAndReset(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	crash := filepath.Join(t.TempDir(), "crash")
	writeFile(t, crash, "")
	p := startMaster(t, "-v", "--workers", "1", "--backoff-min", "50ms", "--backoff-max", "400ms",
		"--backoff-reset", "1s", "--", workload, "worker", "-crash-if", crash)

	want := []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 400 * time.Millisecond}
	eventually(t, workersTimeout, func() (bool, string) {
		return len(respawnDelays(p)) >= len(want), fmt.Sprintf("respawn delays %v", respawnDelays(p))
	})
	got := respawnDelays(p)
	for i := range want {
		checkDelay(t, i, got[i], want[i])
	}
	waitStarts(t, p, len(want)+1, nil)

	// Healthy for longer than --backoff-reset: the next death respawns at
	// once, and the sequence starts over. No respawn is more than 400ms
	// away, so a second after the crashes stop the last start is healthy.
	os.Remove(crash)
	time.Sleep(time.Second)
	all := parseStarts(p.stdout.Snapshot())
	healthy := all[len(all)-1]
	if n := stdoutCount(p, `^worker exit index=0 pid=%d `, healthy.pid); n != 0 {
		t.Fatalf("the last worker (pid %d) crashed after the crash file was gone", healthy.pid)
	}
	time.Sleep(1200 * time.Millisecond)
	writeFile(t, crash, "")
	before := len(respawnDelays(p))
	if err := unix.Kill(hostPid(t, p, healthy.pid), unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, workersTimeout, func() (bool, string) {
		return len(respawnDelays(p)) >= before+3, fmt.Sprintf("respawn delays %v", respawnDelays(p))
	})
	got = respawnDelays(p)[before:]
	for i, w := range []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond} {
		checkDelay(t, i, got[i], w)
	}
}

func TestHmainThrottleGivesUpAndExitsNonZero(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	pidfile := filepath.Join(t.TempDir(), "master.pid")
	p := startMaster(t, "-v", "--workers", "2", "--throttle", "hmain", "--pidfile", pidfile, "--", workload, "worker", "-exit", "-code", "1")
	p.closeStdin()
	code := p.exitCode(workersTimeout)
	p.stdout.WaitEOF(t, workersTimeout)
	p.stderr.WaitEOF(t, workersTimeout)
	if code == 0 {
		t.Errorf("exit code 0 after giving up every slot; hmain's defect, want non-zero")
	} else if code != 1 {
		t.Errorf("exit code %d, want 1 (every slot given up)", code)
	}
	per := map[int]int{}
	for _, s := range parseStarts(p.stdout.Snapshot()) {
		per[s.index]++
	}
	if per[0] != 3 || per[1] != 3 || len(per) != 2 {
		t.Errorf("spawns per slot %v; hmain spawns exactly 3 times per slot", per)
	}
	if n := p.stderr.Count(regexp.MustCompile(`msg="worker slot given up" .*hmain throttle`)); n != 2 {
		t.Errorf("%d give-up lines, want 2", n)
	}
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("pidfile left after giving up: %v", err)
	}
}

func TestFatalExitCodeGivesUpTheSlotAtOnce(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startMaster(t, "-v", "--workers", "2", "--fatal-exit", "78,3", "--", workload, "worker", "-crash-slots", "0", "-code", "3")
	p.stderr.WaitFor(t, regexp.MustCompile(`msg="worker slot given up" group=main slot=0 .*reason="exit code 3 is fatal"`), workersTimeout)
	waitStarts(t, p, 1, func(s started) bool { return s.index == 1 })
	// Slot 1 is still served, so the master stays up; slot 0 ran once.
	time.Sleep(300 * time.Millisecond)
	if n := stdoutCount(p, `^worker start .* index=0 `); n != 1 {
		t.Errorf("slot 0 started %d times, want once", n)
	}
	select {
	case <-p.done:
		t.Fatal("the master exited while slot 1 was still running")
	default:
	}
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(workersTimeout); code != 0 {
		t.Errorf("after SIGTERM: exit code %d, want 0", code)
	}
}

func TestMissingBinaryIsRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	dir := t.TempDir()
	prog := filepath.Join(dir, "server")
	p := startMaster(t, "-v", "--workers", "1", "--backoff-min", "50ms", "--backoff-max", "200ms", "--", prog, "worker")
	cannot := regexp.MustCompile(`msg="cannot start worker" group=main slot=0 .*no such file or directory`)
	eventually(t, workersTimeout, func() (bool, string) {
		return p.stderr.Count(cannot) >= 5, fmt.Sprintf("%d failed spawns logged", p.stderr.Count(cannot))
	})
	got := respawnDelays(p)
	for i, w := range []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond} {
		checkDelay(t, i, got[i], w)
	}
	select {
	case <-p.done:
		t.Fatal("the master exited over a missing binary")
	default:
	}
	// Once the binary exists, the next retry starts it.
	writeFile(t, prog+".tmp", "#!/bin/sh\nexec "+workload+" \"$@\"\n")
	os.Chmod(prog+".tmp", 0o755)
	os.Rename(prog+".tmp", prog)
	waitStarts(t, p, 1, nil)
}

func TestReloadReachesEveryLiveWorkerWhenSlot0IsGivenUp(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startMaster(t, "-v", "--workers", "4", "--fatal-exit", "1", "--", workload, "worker", "-crash-slots", "0")
	p.stderr.WaitFor(t, regexp.MustCompile(`msg="worker slot given up" group=main slot=0`), workersTimeout)
	live := waitStarts(t, p, 3, func(s started) bool { return s.index != 0 })

	p.signal(syscall.SIGHUP)
	for _, w := range live {
		p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^worker sig index=%d pid=%d sig=1$`, w.index, w.pid)), workersTimeout)
	}
	p.stderr.WaitFor(t, regexp.MustCompile(`msg="reload signal sent" signal=SIGHUP workers=3`), workersTimeout)
	// The given-up slot got a fresh start (and gave up again).
	waitStarts(t, p, 2, func(s started) bool { return s.index == 0 })
	if n := stdoutCount(p, `^worker sig index=\d+ pid=\d+ sig=1$`); n != 3 {
		t.Errorf("%d workers got SIGHUP, want exactly 3", n)
	}
}

// webConfig is a config file of one group "web" with count workers.
func webConfig(workload string, count int, extra ...string) string {
	args := append([]string{workload, "worker"}, extra...)
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return fmt.Sprintf(`{"groups": {"web": {"count": %d, "process": {"args": [%s]}}}}`, count, strings.Join(q, ", "))
}

func TestInvalidConfigOnReloadLeavesWorkersUntouched(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	config := filepath.Join(t.TempDir(), "workers.json")
	writeFile(t, config, webConfig(workload, 2))
	p := startMaster(t, "-v", "--config", config)
	first := waitStarts(t, p, 2, nil)

	writeFile(t, config, `{"groups": {"web": {"count": 3, "process": {"args": ["x"], "cwd": 7}}}}`)
	p.signal(syscall.SIGHUP)
	p.stderr.WaitFor(t, regexp.MustCompile(`configuration rejected.*groups\.web\.process\.cwd: want a string`), workersTimeout)
	time.Sleep(300 * time.Millisecond)
	if n := stdoutCount(p, `^worker (sig|exit|start) `); n != 2 {
		t.Errorf("after a rejected reload the workers saw something (%d lines):\n%s", n, p.stdout.Tail(10))
	}
	for _, w := range first {
		if err := unix.Kill(hostPid(t, p, w.pid), 0); err != nil {
			t.Errorf("worker %+v: %v", w, err)
		}
	}

	// Fixed, the same signal reloads: the new count applies.
	writeFile(t, config, webConfig(workload, 3))
	p.signal(syscall.SIGHUP)
	waitStarts(t, p, 1, func(s started) bool { return s.index == 2 && s.count == 3 })
	for _, w := range first {
		p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^worker sig index=%d pid=%d sig=1$`, w.index, w.pid)), workersTimeout)
	}
}

// The first reload signal is acted on at once; those that follow while
// its fan-out is under way, or within the hold after it, give one more
// reload, which reads the configuration as it stands after the last of
// them (docs/workers.md, Reload).
func TestReloadBurstGivesAtMostTwoReloadsAndTheLastReadsTheNewestConfig(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	config := filepath.Join(t.TempDir(), "workers.json")
	writeFile(t, config, webConfig(workload, 2))
	p := startMaster(t, "-v", "--config", config)
	two := waitStarts(t, p, 2, nil)

	start := time.Now()
	for range 5 {
		p.signal(syscall.SIGHUP)
	}
	writeFile(t, config, webConfig(workload, 3))
	p.signal(syscall.SIGHUP)
	burst := time.Since(start)

	// The last signal came after the configuration changed: a reload
	// reads the new count and starts slot 2.
	waitStarts(t, p, 1, func(s started) bool { return s.index == 2 && s.count == 3 })
	time.Sleep(500 * time.Millisecond) // past the hold: nothing more comes
	reloads := p.stderr.Count(regexp.MustCompile(`msg=reload `))
	if burst < 50*time.Millisecond && reloads > 2 {
		t.Errorf("a burst of 6 reload signals in %v gave %d reloads, want at most 2", burst, reloads)
	} else {
		t.Logf("6 reload signals in %v gave %d reloads", burst, reloads)
	}
	// Each reload signals every worker that was live, exactly once.
	for _, w := range two {
		if n := stdoutCount(p, `^worker sig index=%d pid=%d sig=1$`, w.index, w.pid); n != reloads {
			t.Errorf("worker %+v got SIGHUP %d times, want %d (once per reload)", w, n, reloads)
		}
	}
}

func TestReplaceKeepsTheOldGenerationWhenTheNewOneCrashes(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	config := filepath.Join(t.TempDir(), "workers.json")
	writeFile(t, config, webConfig(workload, 2))
	// The new generation's workers exit the moment they have started,
	// and readiness takes a full second: on a loaded machine a worker
	// meant to die after 50 ms was once seen to outlive a 300 ms
	// --ready-after, and its generation replaced the old one.
	p := startMaster(t, "-v", "--config", config, "--reload", "replace", "--ready-after", "1s")
	old := waitStarts(t, p, 2, nil)

	writeFile(t, config, webConfig(workload, 2, "-exit"))
	p.signal(syscall.SIGHUP)
	p.stderr.WaitFor(t, regexp.MustCompile(`msg="replacement abandoned; the serving generation keeps running"`), workersTimeout)
	time.Sleep(500 * time.Millisecond)
	for _, w := range old {
		if n := stdoutCount(p, `^worker (sig|exit) index=%d pid=%d `, w.index, w.pid); n != 0 {
			t.Errorf("old worker %+v was touched:\n%s", w, p.stdout.Tail(10))
		}
		if err := unix.Kill(hostPid(t, p, w.pid), 0); err != nil {
			t.Errorf("old worker %+v: %v", w, err)
		}
	}
	if n := len(parseStarts(p.stdout.Snapshot())); n > 4 {
		t.Errorf("%d starts: the failed generation was respawned instead of abandoned", n)
	}

	// A good configuration replaces the old generation once ready.
	writeFile(t, config, webConfig(workload, 2))
	p.signal(syscall.SIGHUP)
	fresh := waitStarts(t, p, 2, func(s started) bool { return s.gen == 3 })
	p.stderr.WaitFor(t, regexp.MustCompile(`msg="new generation ready; stopping the old one" gen=3`), workersTimeout)
	for _, w := range old {
		p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^worker exit index=%d pid=%d code=0$`, w.index, w.pid)), workersTimeout)
	}
	for _, w := range fresh {
		if n := stdoutCount(p, `^worker (sig|exit) index=%d pid=%d `, w.index, w.pid); n != 0 {
			t.Errorf("new worker %+v got a signal", w)
		}
	}
}

func TestCountChangesOnReload(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	config := filepath.Join(t.TempDir(), "workers.json")
	writeFile(t, config, webConfig(workload, 2))
	p := startMaster(t, "-v", "--config", config)
	two := waitStarts(t, p, 2, nil)

	writeFile(t, config, webConfig(workload, 4))
	p.signal(syscall.SIGHUP)
	added := waitStarts(t, p, 2, func(s started) bool { return s.count == 4 })
	if idx := []int{added[0].index, added[1].index}; !slices.Contains(idx, 2) || !slices.Contains(idx, 3) {
		t.Errorf("growing to 4 started slots %v, want 2 and 3", idx)
	}
	for _, w := range two {
		p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^worker sig index=%d pid=%d sig=1$`, w.index, w.pid)), workersTimeout)
	}

	writeFile(t, config, webConfig(workload, 1))
	p.signal(syscall.SIGHUP)
	stopped := append([]started{two[0], two[1]}, added...)
	for _, w := range stopped {
		want := fmt.Sprintf(`^worker exit index=%d pid=%d code=0$`, w.index, w.pid)
		if w.index == 0 {
			want = fmt.Sprintf(`^worker sig index=0 pid=%d sig=1$`, w.pid)
		}
		p.stdout.WaitFor(t, regexp.MustCompile(want), workersTimeout)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(parseStarts(p.stdout.Snapshot())); n != 4 {
		t.Errorf("%d starts in all, want 4 (shrinking starts nothing)", n)
	}
}

func TestTermToOneWorkerLeavesTheOthersAlone(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startMaster(t, "-v", "--workers", "3", "--", workload, "worker")
	starts := waitStarts(t, p, 3, nil)
	victim := starts[1]
	if err := unix.Kill(hostPid(t, p, victim.pid), unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^worker exit index=%d pid=%d code=0$`, victim.index, victim.pid)), workersTimeout)
	waitStarts(t, p, 1, func(s started) bool { return s.index == victim.index && s.pid != victim.pid })
	time.Sleep(200 * time.Millisecond)
	for _, w := range starts {
		if w == victim {
			continue
		}
		if n := stdoutCount(p, `^worker (sig|exit) index=%d pid=%d `, w.index, w.pid); n != 0 {
			t.Errorf("worker %+v was affected by SIGTERM to worker %d:\n%s", w, victim.pid, p.stdout.Tail(10))
		}
	}
	select {
	case <-p.done:
		t.Fatal("the master exited")
	default:
	}
}

func TestWorkerIgnoringTermIsKilledAfterTheGracePeriod(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	const grace = 500 * time.Millisecond
	p := startMaster(t, "-v", "--workers", "2", "--grace", grace.String(), "--", workload, "worker", "-ignore-term")
	waitStarts(t, p, 2, nil)
	start := time.Now()
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(workersTimeout); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	took := time.Since(start)
	if took < grace || took > grace+5*time.Second {
		t.Errorf("stopped after %v, want the grace period (%v) and little more", took, grace)
	}
	p.stderr.WaitEOF(t, workersTimeout)
	p.stdout.WaitEOF(t, workersTimeout)
	if n := stdoutCount(p, `^worker sig index=\d+ pid=\d+ sig=15$`); n != 2 {
		t.Errorf("%d workers got SIGTERM, want 2", n)
	}
	if n := p.stderr.Count(regexp.MustCompile(`did not stop within the grace period; killing it`)); n != 2 {
		t.Errorf("%d workers killed after the grace period, want 2", n)
	}
	if n := p.stderr.Count(regexp.MustCompile(`msg="worker exited" .*status="killed by SIGKILL"`)); n != 2 {
		t.Errorf("%d workers died of SIGKILL, want 2", n)
	}
}

func TestOrphansOfWorkersAreReapedWithoutTouchingAnySlot(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startMaster(t, "-v", "-w", "--workers", "2", "--", workload, "worker", "-orphans", "25")
	starts := waitStarts(t, p, 2, nil)
	for _, w := range starts {
		p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^worker orphans index=%d pid=%d n=25$`, w.index, w.pid)), workersTimeout)
	}
	eventually(t, workersTimeout, func() (bool, string) {
		procs := nsProcs(t, p.pid)
		n := p.stderr.Count(reapedText)
		// pidone and the two workers.
		return len(procs) == 3 && len(zombies(procs)) == 0 && n == 50,
			fmt.Sprintf("%d processes (want 3), %d zombies, %d orphans reaped (want 50)", len(procs), len(zombies(procs)), n)
	})
	if n := p.stderr.Count(regexp.MustCompile(`msg="worker (exited|started)"`)); n != 2 {
		t.Errorf("%d worker start/exit lines, want the 2 starts only", n)
	}
}

func TestSecondMasterWithTheSamePidfileRefuses(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	pidfile := filepath.Join(t.TempDir(), "master.pid")
	first := startMaster(t, "-v", "--workers", "1", "--pidfile", pidfile, "--", workload, "worker")
	waitStarts(t, first, 1, nil)
	eventually(t, workersTimeout, func() (bool, string) {
		_, err := os.Stat(pidfile)
		return err == nil, fmt.Sprint(err)
	})

	second := startMaster(t, "-v", "--workers", "1", "--pidfile", pidfile, "--", workload, "worker")
	second.closeStdin()
	if code := second.exitCode(workersTimeout); code != 3 {
		t.Errorf("second master: exit code %d, want 3 (already running)", code)
	}
	second.stderr.WaitEOF(t, workersTimeout)
	second.stdout.WaitEOF(t, workersTimeout)
	if second.stderr.Count(regexp.MustCompile(`another pidone master \(pid 1\) is running with pidfile`)) != 1 {
		t.Errorf("no clear message:\n%s", second.stderr.Tail(5))
	}
	if n := len(parseStarts(second.stdout.Snapshot())); n != 0 {
		t.Errorf("the refused master started %d workers", n)
	}
	if b, err := os.ReadFile(pidfile); err != nil || string(b) != "1\n" {
		t.Errorf("the first master's pidfile: %q, %v", b, err)
	}
	if code, out := ctlIn(t, first, "status", "--pidfile", pidfile); code != 0 {
		t.Errorf("ctl status of the first master: %d %s", code, out)
	}
}

func TestCtlSignalsNothingThroughAPidfileOfAnUnrelatedProcess(t *testing.T) {
	t.Parallel()
	pidone, _ := bins(t)
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "master.pid")
	// An unrelated live process that dies on SIGTERM, SIGHUP and SIGUSR2.
	victim := exec.Command("sleep", "60")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { victim.Wait(); close(exited) }()
	t.Cleanup(func() { victim.Process.Kill(); <-exited })
	writeFile(t, pidfile, strconv.Itoa(victim.Process.Pid)+"\n")
	alive := func(when string) {
		t.Helper()
		select {
		case <-exited:
			t.Fatalf("%s: the unrelated process was signalled (%v)", when, victim.ProcessState)
		case <-time.After(100 * time.Millisecond):
		}
	}

	// A stale pidfile: its lock is not held.
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"status"}, 1, "not running; stale pidfile"},
		{[]string{"stop"}, 0, "not running"},
		{[]string{"reload"}, 7, "not running"},
		{[]string{"restart"}, 7, "not running"},
	} {
		code, out := runCmd(t, pidone, append([]string{"ctl"}, append(tc.args, "--pidfile", pidfile)...)...)
		if code != tc.code || !strings.Contains(out, tc.out) {
			t.Errorf("ctl %v with a stale pidfile: %d %q; want %d %q", tc.args, code, out, tc.code, tc.out)
		}
		alive("ctl " + tc.args[0])
	}

	// The lock held (here by the test), but the pid runs sleep, not pidone.
	lock, err := os.OpenFile(pidfile+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"status"}, 4, "unknown: the lock is held by pid"},
		{[]string{"stop"}, 1, "refusing to signal"},
		{[]string{"reload"}, 1, "refusing to signal"},
		{[]string{"restart"}, 1, "refusing to signal"},
	} {
		code, out := runCmd(t, pidone, append([]string{"ctl"}, append(tc.args, "--pidfile", pidfile)...)...)
		if code != tc.code || !strings.Contains(out, tc.out) {
			t.Errorf("ctl %v with a locked pidfile naming sleep: %d %q; want %d %q", tc.args, code, out, tc.code, tc.out)
		}
		alive("ctl " + tc.args[0])
	}
	if code, out := runCmd(t, pidone, "ctl", "status", "--pidfile", filepath.Join(dir, "none.pid")); code != 3 || !strings.Contains(out, "not running") {
		t.Errorf("ctl status without a pidfile: %d %q; want 3", code, out)
	}
}

func TestCtlStopWaitsForTheMasterAndThePidfileIsGone(t *testing.T) {
	t.Parallel()
	needRoot(t, "nsenter cannot join the namespace's mount namespace")
	pidone, workload := bins(t)
	// PID 1 of the namespace is a plain pidone; the master is a second
	// pidone started inside it, so that ctl, also inside, outlives it.
	holder := startMaster(t, "--", workload, "sleep", "10m")
	pidfile := filepath.Join(t.TempDir(), "master.pid")
	const grace = 700 * time.Millisecond
	master := startOutside(t, append([]string{"nsenter"}, append(nsenterArgs(holder.pid, "-p", "-m"),
		pidone, "-v", "--workers", "2", "--grace", grace.String(), "--pidfile", pidfile, "--", workload, "worker", "-ignore-term")...)...)
	starts := waitStarts(t, master, 2, nil)
	eventually(t, workersTimeout, func() (bool, string) {
		code, out := ctlIn(t, holder, "status", "--pidfile", pidfile)
		return code == 0 && strings.HasPrefix(out, "running (pid "), fmt.Sprintf("ctl status: %d %q", code, out)
	})

	code, out := ctlIn(t, holder, "reload", "--pidfile", pidfile)
	if code != 0 {
		t.Fatalf("ctl reload: %d %s", code, out)
	}
	for _, w := range starts {
		master.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^worker sig index=%d pid=%d sig=1$`, w.index, w.pid)), workersTimeout)
	}
	// restart replaces every worker; the master stays.
	if code, out := ctlIn(t, holder, "restart", "--pidfile", pidfile); code != 0 {
		t.Fatalf("ctl restart: %d %s", code, out)
	}
	waitStarts(t, master, 2, func(s started) bool { return s.gen == 3 })
	master.stderr.WaitFor(t, regexp.MustCompile(`msg="new generation ready; stopping the old one"`), workersTimeout)
	// The old generation ignores SIGTERM too: killed after the grace period.
	killed := regexp.MustCompile(`did not stop within the grace period; killing it`)
	eventually(t, workersTimeout, func() (bool, string) {
		return master.stderr.Count(killed) == 2, fmt.Sprintf("%d old workers killed", master.stderr.Count(killed))
	})

	start := time.Now()
	code, out = ctlIn(t, holder, "stop", "--pidfile", pidfile)
	took := time.Since(start)
	if code != 0 || !strings.Contains(out, "stopped") {
		t.Fatalf("ctl stop: %d %q", code, out)
	}
	if took < grace {
		t.Errorf("ctl stop returned after %v, before the workers' grace period (%v) was over", took, grace)
	}
	// The master removes its pidfile just before it exits: ctl stop
	// returning before that would be returning early.
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Errorf("pidfile still there when ctl stop returned: %v", err)
	}
	if c := master.exitCode(workersTimeout); c != 0 {
		t.Errorf("master exit code %d, want 0", c)
	}
	if n := master.stderr.Count(killed); n != 4 {
		t.Errorf("%d workers killed after the grace period, want 4 (2 on restart, 2 on stop)", n)
	}
	if code, out := ctlIn(t, holder, "status", "--pidfile", pidfile); code != 3 {
		t.Errorf("ctl status after stop: %d %q, want 3", code, out)
	}
}

// procStatus returns the fields of /proc/PID/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			fields[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return fields
}

// procLimit returns the soft and hard columns of one line of /proc/PID/limits.
func procLimit(t *testing.T, pid int, name string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name) {
			f := strings.Fields(strings.TrimPrefix(l, name))
			return f[0] + " " + f[1]
		}
	}
	t.Fatalf("no %q in /proc/%d/limits", name, pid)
	return ""
}

func TestConfigGroupsApplyOCIUserAndRlimits(t *testing.T) {
	t.Parallel()
	needRoot(t, "the OCI user's setgroups is denied in an unprivileged user namespace")
	_, workload := bins(t)
	config := filepath.Join(t.TempDir(), "workers.json")
	writeFile(t, config, fmt.Sprintf(`{
	  "groups": {
	    "app": {
	      "count": 2,
	      "process": {
	        "args": [%q, "worker", "-print-env", "FOO,PIDONE_WORKER_GROUP"],
	        "env": ["FOO=bar", "PATH=/usr/bin:/bin"],
	        "cwd": "/",
	        "user": {"uid": 1234, "gid": 2345, "additionalGids": [3456, 4567], "umask": 18},
	        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 200, "hard": 200},
	                    {"type": "RLIMIT_SIGPENDING", "soft": 100, "hard": 150},
	                    {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}],
	        "noNewPrivileges": true
	      }
	    },
	    "plain": {"count": 1, "process": {"args": [%q, "worker"]}}
	  }
	}`, workload, workload))
	p := startMaster(t, "-v", "--config", config)
	app := waitStarts(t, p, 2, func(s started) bool { return s.group == "app" })
	plain := waitStarts(t, p, 1, func(s started) bool { return s.group == "plain" })
	for _, w := range app {
		if w.count != 2 {
			t.Errorf("app worker %+v: PIDONE_WORKER_COUNT want 2", w)
		}
		p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^worker env index=%d FOO=bar$`, w.index)), workersTimeout)
		pid := hostPid(t, p, w.pid)
		st := procStatus(t, pid)
		for k, want := range map[string]string{
			"Uid": "1234 1234 1234 1234", "Gid": "2345 2345 2345 2345",
			"Groups": "3456 4567", "NoNewPrivs": "1", "Umask": "0022",
		} {
			if st[k] != want {
				t.Errorf("app worker %d: %s %q, want %q", w.index, k, st[k], want)
			}
		}
		// The worker is a Go program, and the Go runtime raises its own
		// soft RLIMIT_NOFILE to the hard limit minus one at start-up
		// (syscall/rlimit.go) unless they are equal: hence 200/200 there,
		// and a soft limit below the hard one on a resource Go leaves alone.
		for name, want := range map[string]string{
			"Max open files": "200 200", "Max pending signals": "100 150", "Max core file size": "0 0",
		} {
			if got := procLimit(t, pid, name); got != want {
				t.Errorf("app worker %d: %s %q, want %q", w.index, name, got, want)
			}
		}
	}
	if n := stdoutCount(p, `^worker env index=\d+ PIDONE_WORKER_GROUP=app$`); n != 2 {
		t.Errorf("%d app workers saw PIDONE_WORKER_GROUP=app, want 2", n)
	}
	pid := hostPid(t, p, plain[0].pid)
	st := procStatus(t, pid)
	if st["Uid"] != "0 0 0 0" || st["NoNewPrivs"] != "0" {
		t.Errorf("plain worker: Uid %q NoNewPrivs %q; want pidone's own (root, 0)", st["Uid"], st["NoNewPrivs"])
	}
	if got := procLimit(t, pid, "Max pending signals"); got == "100 150" {
		t.Errorf("plain worker got app's limits")
	}
}

func TestSpecBundleRunsItsProcess(t *testing.T) {
	t.Parallel()
	needRoot(t, "the OCI user's setgroups is denied in an unprivileged user namespace")
	_, workload := bins(t)
	bundle := t.TempDir()
	writeFile(t, filepath.Join(bundle, "config.json"), fmt.Sprintf(`{
	  "ociVersion": "1.2.0",
	  "root": {"path": "rootfs"},
	  "process": {"args": [%q, "worker"], "cwd": "/", "user": {"uid": 0, "gid": 0},
	              "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 321}]}
	}`, workload))
	p := startMaster(t, "-v", "--spec", bundle, "--workers", "2")
	for _, w := range waitStarts(t, p, 2, nil) {
		if got := procLimit(t, hostPid(t, p, w.pid), "Max open files"); got != "321 321" {
			t.Errorf("worker %d: open files %q, want 321 321", w.index, got)
		}
	}
}

func TestWorkersAuto(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	p := startMaster(t, "-v", "--workers", "auto", "--", workload, "worker")
	first := waitStarts(t, p, 1, nil)[0]
	if first.count < 1 || first.count > set.Count() {
		t.Fatalf("auto gave %d workers; want 1 to %d (the CPUs we may run on)", first.count, set.Count())
	}
	waitStarts(t, p, first.count, nil)
	time.Sleep(200 * time.Millisecond)
	if n := len(parseStarts(p.stdout.Snapshot())); n != first.count {
		t.Errorf("%d workers started, PIDONE_WORKER_COUNT says %d", n, first.count)
	}
}

func TestWorkersUsageAndConfigErrors(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	bad := filepath.Join(t.TempDir(), "bad.json")
	writeFile(t, bad, `{"groups": {"web": {"count": 2, "proces": {}}}}`)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--restart", "never", "--", workload, "worker"}, 2, "need --workers, --config or --spec"},
		{[]string{"--workers", "0", "--", workload, "worker"}, 2, "not a positive number"},
		{[]string{"--workers", "2", "--restart", "sometimes", "--", workload, "worker"}, 2, "unknown restart policy"},
		{[]string{"--workers", "2"}, 2, "no command given"},
		{[]string{"--config", bad}, 2, "groups.web.proces: unknown field"},
		{[]string{"--workers", "2", "--reload-signal", "TERM", "--", workload, "worker"}, 2, "already the stop signal"},
		{[]string{"--workers", "2", "--pidfile", "/nonexistent/dir/pid", "--", workload, "worker"}, 2, "refusing pidfile /nonexistent/dir/pid"},
	} {
		code, _, stderr := run(t, workersTimeout, tc.args...)
		if code != tc.code || !strings.Contains(strings.Join(stderr, "\n"), tc.msg) {
			t.Errorf("pidone %q: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.msg)
		}
	}
}

func TestMasterExitCodeWhenEverySlotEndsOnItsOwn(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	for _, tc := range []struct {
		doc  string
		args []string
		want int
	}{
		{"on-failure: every worker exits 0, finished", []string{"--restart", "on-failure", "--", workload, "worker", "-exit", "-code", "0"}, 0},
		{"never: a worker exits 3, given up", []string{"--restart", "never", "--", workload, "worker", "-exit", "-code", "3"}, 1},
		{"give-up window: a crash loop", []string{"--give-up", "3/10s", "--backoff-min", "10ms", "--", workload, "worker", "-exit"}, 1},
	} {
		p := startMaster(t, append([]string{"-v", "--workers", "2"}, tc.args...)...)
		if code := p.exitCode(workersTimeout); code != tc.want {
			t.Errorf("%s: exit code %d, want %d", tc.doc, code, tc.want)
		}
	}
}

package e2e

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Exhaustion: pidone in a container whose limits the workload has used up
// (issue 10). A fork bomb under a pids limit, in both modes; a child the
// OOM killer takes in a memory-limited cgroup. pidone must keep reaping and
// forwarding, stop within --grace, log each failure at most once a second,
// report the child's status, and leave nothing behind. (Descriptor limits:
// nofile_test.go.)

// bombPids is the pids limit of the fork bomb tests: small, so that the
// bomb reaches it at once and spends little of the machine.
const bombPids = 64

// pidsLimit returns workload confine's arguments that hold every process
// of the test (pidone's threads included) to n: a child of our cgroup with
// pids.max where the machine has the pids controller, else RLIMIT_NPROC for
// a user of our own, which binds only a non-root user. Setting
// PIDONE_E2E_PIDS=nproc chooses the second where both work.
func pidsLimit(t *testing.T, n int) []string {
	t.Helper()
	needRoot(t, "a cgroup of our own, or a uid of our own for RLIMIT_NPROC")
	if os.Getenv("PIDONE_E2E_PIDS") != "nproc" {
		dir, err := newCgroup(t, "pids", [][2]string{{"pids.max", strconv.Itoa(n)}})
		if err == nil {
			t.Logf("pids limit: %s/pids.max = %d", dir, n)
			return []string{"-cgroup", dir}
		}
		t.Logf("no pids cgroup (%v): RLIMIT_NPROC instead", err)
	}
	// A uid nobody else runs as, one per test: RLIMIT_NPROC counts every
	// process of the uid on the machine.
	h := fnv.New32a()
	h.Write([]byte(t.Name()))
	uid := strconv.Itoa(200000 + int((uint32(os.Getpid())*31+h.Sum32())%1000000))
	t.Logf("pids limit: RLIMIT_NPROC = %d for uid %s", n, uid)
	return []string{"-nproc", fmt.Sprintf("%d:%d", n, n), "-uid", uid, "-gid", uid}
}

// newCgroup makes a child of our own cgroup in the hierarchy that has
// controller, writes settings in order (a setting whose file the kernel
// does not have, like a swap limit without swap accounting, is skipped),
// and removes it when the test ends, once every process has left it.
func newCgroup(t *testing.T, controller string, settings [][2]string) (string, error) {
	t.Helper()
	parent, err := cgroupDir(controller)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(parent, fmt.Sprintf("pidone-e2e-%s-%d", strings.ToLower(t.Name()), os.Getpid()))
	dir = strings.ReplaceAll(dir, "#", "-")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	t.Cleanup(func() {
		// The namespace dies with its PID 1; its last processes may take
		// a moment to leave the cgroup.
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if err = os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
				return
			}
		}
		t.Errorf("cannot remove cgroup %s: %v", dir, err)
	})
	for _, s := range settings {
		path := filepath.Join(dir, s[0])
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.WriteFile(path, []byte(s[1]), 0); err != nil {
			return "", fmt.Errorf("%s = %s: %w", path, s[1], err)
		}
	}
	return dir, nil
}

// cgroupDir finds our own cgroup in the hierarchy that has controller: a
// cgroup v1 hierarchy mounted with it, or the v2 hierarchy when our cgroup
// hands it down to children (cgroup.subtree_control).
func cgroupDir(controller string) (string, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	// mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPEROPTIONS
	mountOf := func(v2 bool) (root, point string, ok bool) {
		for _, line := range strings.Split(string(mounts), "\n") {
			pre, post, found := strings.Cut(line, " - ")
			f, g := strings.Fields(pre), strings.Fields(post)
			if !found || len(f) < 5 || len(g) < 3 {
				continue
			}
			switch {
			case v2 && g[0] == "cgroup2",
				!v2 && g[0] == "cgroup" && slices.Contains(strings.Split(g[2], ","), controller):
				return f[3], f[4], true
			}
		}
		return "", "", false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(self)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		v2 := f[0] == "0" && f[1] == ""
		if !v2 && !slices.Contains(strings.Split(f[1], ","), controller) {
			continue
		}
		root, point, ok := mountOf(v2)
		if !ok {
			continue
		}
		rel, err := filepath.Rel(root, f[2])
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		dir := filepath.Join(point, rel)
		if v2 {
			sub, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
			if err != nil || !slices.Contains(strings.Fields(string(sub)), controller) {
				continue
			}
		}
		return dir, nil
	}
	return "", fmt.Errorf("no cgroup hierarchy with the %s controller for us to use", controller)
}

// startConfined starts pidone args as PID 1 of a new PID namespace, through
// workload confine with confineArgs.
func startConfined(t *testing.T, confineArgs []string, args ...string) *nsInit {
	t.Helper()
	pidone, workload := bins(t)
	argv := append([]string{workload, "confine"}, confineArgs...)
	argv = append(append(argv, "--", pidone), args...)
	return startInit(t, argv...)
}

// failureLine picks the message and error of a failure in pidone's text
// log: a WARN or ERROR line with an error attribute.
var failureLine = regexp.MustCompile(`^time=(\S+) level=(?:WARN|ERROR) msg=("(?:[^"\\]|\\.)*"|\S+) .*\berror=("(?:[^"\\]|\\.)*"|\S+)`)

// checkNoFlood fails if one failure (the same message and error) was logged
// twice within a second: pidone must say it, not shout it.
func checkNoFlood(t *testing.T, lines []string) {
	t.Helper()
	last := map[string]time.Time{}
	// tooSoon holds, per failure, a line logged within a second of the
	// one before it: allowed only as that failure's last line, the one a
	// master about to exit writes of what it held (logging.FlushHeld).
	tooSoon := map[string]string{}
	n := 0
	for _, l := range lines {
		m := failureLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n++
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			t.Errorf("log line with an unreadable time: %q", l)
			continue
		}
		key := m[2] + " " + m[3]
		if early, ok := tooSoon[key]; ok {
			t.Errorf("the same failure logged again too soon: %s", early)
			delete(tooSoon, key)
		}
		// The log has millisecond times.
		if prev, ok := last[key]; ok && at.Sub(prev) < time.Second-time.Millisecond {
			tooSoon[key] = fmt.Sprintf("after %v: %s", at.Sub(prev), l)
		}
		last[key] = at
	}
	for _, early := range tooSoon {
		t.Logf("written at exit, within a second of the one before: %s", early)
	}
	t.Logf("%d failure lines, %d distinct failures", n, len(last))
}

// waitBombFull waits until the namespace runs nearly as many tasks
// (threads) as the pids limit allows: the bomb is at the limit, and forks
// fail.
func waitBombFull(t *testing.T, p *nsInit) {
	t.Helper()
	eventually(t, exitTimeout, func() (bool, string) {
		tasks := 0
		for _, pr := range nsProcs(t, p.pid) {
			tasks += threadCount(pr.pid)
		}
		return tasks >= bombPids-8, fmt.Sprintf("%d tasks in the namespace, want the bomb near its limit of %d", tasks, bombPids)
	})
}

// logPeakThreads samples pid's thread count every millisecond from now,
// with the bomb running, until the test ends, then logs the count it began
// with and the highest: a thread made under the bomb (the peak above the
// start) is what can be fatal, and what the reserve (threadsKept in
// cli/threads.go) is sized against (issue 19, item 5). Logged, not failed
// on: it depends on the machine's load. The start already counts one
// thread above the reserve on most runs: the runtime makes it while the
// reserve's goroutines hold every thread, before any child exists.
func logPeakThreads(t *testing.T, pid int) {
	t.Helper()
	start := threadCount(pid)
	stop, done := make(chan struct{}), make(chan int)
	go func() {
		peak := start
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, threadCount(pid))
			select {
			case <-stop:
				done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		t.Logf("pidone's threads under the bomb: %d at its start, %d at most", start, <-done)
	})
}

// TestForkBombUnderPidsLimit runs a fork bomb as the main child under a
// pids limit that counts pidone's own threads too: a thread the Go runtime
// cannot create is fatal (newosproc), so pidone must have made them before.
// It must keep reaping (the bomb's exits), keep forwarding (SIGUSR1 to the
// bomb's leader), stop it within --grace (the bomb blocks SIGTERM, so only
// SIGKILL ends it) and exit with the leader's status.
func TestForkBombUnderPidsLimit(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	const grace = time.Second
	p := startConfined(t, pidsLimit(t, bombPids), "-w", "-vv", "--grace", grace.String(), "--", workload, "forkbomb", "-code", "7")
	ns := pidNS(t, p.pid)
	logPeakThreads(t, p.pid)
	t.Cleanup(func() {
		// The harness shows the last lines, here all reaped orphans.
		if t.Failed() {
			for _, l := range p.stderr.Snapshot() {
				if !reapedText.MatchString(l) && !strings.Contains(l, "level=DEBUG") {
					t.Log(l)
				}
			}
		}
	})
	p.stdout.WaitFor(t, regexp.MustCompile(`^forkbomb ready pid=\d+$`), exitTimeout)
	logPeakThreads(t, p.pid)
	waitBombFull(t, p)

	// Reaping: the bomb's processes keep exiting, and pidone keeps
	// reaping them, for as long as the limit stays reached. Forwarding:
	// rounds of three signals at once, each waited for. With -vv every
	// signal goes through the event loop and is logged, which is what
	// once needed a thread more than pidone had (newosproc).
	before := p.stderr.Count(reapedText)
	sigs := []syscall.Signal{syscall.SIGUSR1, syscall.SIGWINCH, syscall.SIGUSR2}
	const rounds = 100
	for range rounds {
		for _, sig := range sigs {
			p.signal(sig)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Standard signals coalesce: each must arrive at least once after it
	// was last sent.
	mark := len(p.stdout.Snapshot())
	for _, sig := range sigs {
		p.signal(sig)
	}
	for _, sig := range sigs {
		re := regexp.MustCompile(fmt.Sprintf(`^forkbomb sig %d$`, sig))
		eventually(t, exitTimeout, func() (bool, string) {
			n := 0
			for _, l := range p.stdout.Snapshot()[mark:] {
				if re.MatchString(l) {
					n++
				}
			}
			return n > 0, fmt.Sprintf("the bomb's leader did not receive signal %d after it was last sent", sig)
		})
	}
	reaped := p.stderr.Count(reapedText) - before
	if reaped < 10 {
		t.Errorf("pidone reaped %d orphans of the bomb while forwarding, want it to keep reaping", reaped)
	}
	t.Logf("reaped %d of the bomb's processes while forwarding %d rounds of %d signals", reaped, rounds, len(sigs))

	start := time.Now()
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(grace + margin + exitTimeout); code != 7 {
		t.Errorf("after SIGTERM: exit code %d, want 7 (the leader's)", code)
	}
	if elapsed := time.Since(start); elapsed > grace+margin {
		t.Errorf("pidone exited %v after SIGTERM, want within --grace %v (+%v)", elapsed, grace, margin)
	} else {
		t.Logf("SIGTERM to exit under the bomb: %v (--grace %v)", elapsed.Round(time.Millisecond), grace)
	}
	p.stderr.WaitEOF(t, exitTimeout)
	checkNoFlood(t, p.stderr.Snapshot())
	checkNothingLeft(t, ns)
}

// TestReserveBeforeTheChildUnderALimit: under a pids limit pidone makes
// its thread reserve before it starts the child (cli/threads.go), so that a
// child that fork-bombs from its first instruction cannot take the threads
// pidone will need. The child's first act is to count its parent's
// threads.
func TestReserveBeforeTheChildUnderALimit(t *testing.T) {
	t.Parallel()
	// PPid in /proc/self/status is in the host's numbering, as this /proc
	// is the host's; the redirection makes the shell itself read it.
	script := `while read -r k v; do [ "$k" = PPid: ] && p=$v; done </proc/self/status; grep '^Threads:' /proc/$p/status`
	p := startConfined(t, pidsLimit(t, bombPids), "--", "/bin/sh", "-c", script)
	m := p.stdout.WaitFor(t, regexp.MustCompile(`^Threads:\s+(\d+)$`), exitTimeout)
	n, _ := strconv.Atoi(m[1])
	// 16 (threadsKept), or fewer if the limit left less room than that.
	t.Logf("pidone had %d threads when its child started", n)
	if n < 16 {
		t.Errorf("pidone had %d threads when its child started under a pids limit of %d, want its reserve of 16", n, bombPids)
	}
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

// TestReserveOnceTheChildRunsWithoutALimit: with no task limit in sight
// the reserve waits until the main child has run for a while
// (cli/threads.go, reserveAfter), so that a short command never pays for
// it; a child that runs on still gets a pidone with its 16 threads.
func TestReserveOnceTheChildRunsWithoutALimit(t *testing.T) {
	t.Parallel()
	p := startPidone(t, "--", "/bin/sh", "-c", "read -r line; exit 0")
	eventually(t, exitTimeout, func() (bool, string) {
		n := threadCount(p.pid)
		return n >= 16, fmt.Sprintf("pidone has %d threads while its child runs, want its reserve of 16", n)
	})
	p.closeStdin()
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

// TestForkBombInWorkersMode runs a fork bomb as one worker group beside
// workers that crash every 200ms: their respawns fail with EAGAIN while the
// limit is reached, and must be retried with backoff, logged at most once a
// second, and succeed once the bomb is over.
func TestForkBombInWorkersMode(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	// Readable by the uid RLIMIT_NPROC may run pidone as (TempDir makes
	// two levels, both private).
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	config := filepath.Join(dir, "workers.json")
	writeFile(t, config, fmt.Sprintf(`{"groups": {
		"bomb": {"count": 1, "restart": "never", "process": {"args": [%q, "forkbomb", "-for", "3s"]}},
		"web": {"count": 3, "backoffMin": "100ms", "backoffMax": "1s",
			"process": {"args": [%q, "worker", "-exit", "-after", "200ms", "-code", "1"]}}
	}}`, workload, workload))
	const grace = time.Second
	p := startConfined(t, pidsLimit(t, bombPids), "-v", "--grace", grace.String(), "--config", config)
	ns := pidNS(t, p.pid)
	logPeakThreads(t, p.pid)
	p.stdout.WaitFor(t, regexp.MustCompile(`^forkbomb ready pid=\d+$`), exitTimeout)
	logPeakThreads(t, p.pid)
	cannot := regexp.MustCompile(`msg="cannot start worker" group=web .*resource temporarily unavailable`)
	p.stderr.WaitFor(t, cannot, exitTimeout)

	// The bomb ends itself after 3s; every web slot must come back.
	p.stdout.WaitFor(t, regexp.MustCompile(`^forkbomb over$`), exitTimeout)
	mark := len(p.stdout.Snapshot())
	eventually(t, exitTimeout, func() (bool, string) {
		back := map[string]bool{}
		for _, l := range p.stdout.Snapshot()[mark:] {
			if m := workerStart.FindStringSubmatch(l); m != nil && m[1] == "web" {
				back[m[2]] = true
			}
		}
		return len(back) == 3, fmt.Sprintf("web slots started again after the bomb: %v, want 0, 1 and 2", back)
	})
	// Backoff: a failed spawn is never followed by two immediate ones.
	for slot, delays := range respawnDelaysBySlot(p, "web") {
		for i := 1; i < len(delays); i++ {
			if delays[i] == 0 && delays[i-1] == 0 {
				t.Errorf("web slot %s respawned twice in a row without delay: %v", slot, delays)
				break
			}
		}
	}

	start := time.Now()
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(grace + margin + exitTimeout); code != 0 {
		t.Errorf("after SIGTERM: exit code %d, want 0", code)
	}
	if elapsed := time.Since(start); elapsed > grace+margin {
		t.Errorf("the master exited %v after SIGTERM, want within --grace %v (+%v)", elapsed, grace, margin)
	}
	p.stderr.WaitEOF(t, exitTimeout)
	t.Logf("%d spawns refused with EAGAIN logged", p.stderr.Count(cannot))
	checkNoFlood(t, p.stderr.Snapshot())
	checkNothingLeft(t, ns)
}

// respawnDelaysBySlot returns the "respawning worker" delays of group, by
// slot, in order.
func respawnDelaysBySlot(p *nsInit, group string) map[string][]time.Duration {
	re := regexp.MustCompile(`msg="respawning worker" group=` + group + ` slot=(\d+) .* delay=(\S+)`)
	got := map[string][]time.Duration{}
	for _, l := range p.stderr.Snapshot() {
		if m := re.FindStringSubmatch(l); m != nil {
			d, _ := time.ParseDuration(m[2])
			got[m[1]] = append(got[m[1]], d)
		}
	}
	return got
}

// TestOOMKilledChild runs a child that allocates past the memory limit of
// its cgroup, which pidone shares, as in a container: the OOM killer takes
// the child (the largest process), and pidone reports 137, the status of a
// SIGKILL, and leaves nothing behind.
func TestOOMKilledChild(t *testing.T) {
	t.Parallel()
	needRoot(t, "a memory cgroup of our own")
	const limit = 64 << 20
	dir, err := newCgroup(t, "memory", [][2]string{
		{"memory.max", strconv.Itoa(limit)}, {"memory.swap.max", "0"}, // v2
		{"memory.limit_in_bytes", strconv.Itoa(limit)}, {"memory.memsw.limit_in_bytes", strconv.Itoa(limit)}, // v1
	})
	if err != nil {
		t.Skipf("no memory cgroup to use: %v", err)
	}
	_, workload := bins(t)
	p := startConfined(t, []string{"-cgroup", dir}, "-v", "--", workload, "hog", "-mib", "1024")
	ns := pidNS(t, p.pid)
	if code := p.exitCode(30 * time.Second); code != 137 {
		t.Errorf("exit code %d, want 137 (the child killed by SIGKILL)", code)
	}
	p.stderr.WaitEOF(t, exitTimeout)
	if p.stdout.Count(regexp.MustCompile(`^hog done`)) != 0 {
		t.Fatalf("the hog allocated everything: the memory limit of %s did not hold", dir)
	}
	if p.stderr.Count(regexp.MustCompile(`msg="main child exited" .*status="killed by SIGKILL"`)) != 1 {
		t.Errorf("pidone did not report the child killed by SIGKILL")
	}
	t.Logf("the hog got to %s before the OOM killer", p.stdout.Tail(1))
	if events, err := os.ReadFile(filepath.Join(dir, "memory.events")); err == nil {
		t.Logf("memory.events: %s", strings.Join(strings.Fields(string(events)), " "))
	} else if n, err := os.ReadFile(filepath.Join(dir, "memory.failcnt")); err == nil {
		t.Logf("memory.failcnt: %s", strings.TrimSpace(string(n)))
	}
	checkNothingLeft(t, ns)
}

// pidNS names the PID namespace of host pid, for checkNothingLeft. The
// link cannot be read while the process execs from a thread other than its
// first (workload confine does, then pidone), so it is read again then.
func pidNS(t *testing.T, pid int) string {
	t.Helper()
	var ns string
	eventually(t, exitTimeout, func() (bool, string) {
		var err error
		ns, err = os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
		return err == nil, fmt.Sprintf("pid namespace of %d: %v", pid, err)
	})
	return ns
}

// checkNothingLeft fails unless PID namespace ns, whose init has exited,
// is empty: no process and no zombie left. (The kernel kills what is left
// when the init exits, and its init's exit came after pidone had reaped
// everything, so this finds only what the kernel has yet to tear down.)
func checkNothingLeft(t *testing.T, ns string) {
	t.Helper()
	eventually(t, exitTimeout, func() (bool, string) {
		var left []string
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && link == ns {
				if pr, err := readProc(pid); err == nil {
					left = append(left, fmt.Sprintf("%d (%s)", pid, pr.state))
				}
			}
		}
		return len(left) == 0, fmt.Sprintf("left in pidone's PID namespace after it exited: %v", left)
	})
}

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Shutdown, --wait-all, rewrite and delay tables, pause mode and the
// termination log (docs/lifecycle.md), with pidone as PID 1 of a fresh PID
// namespace, or as a subreaper below one.

// margin is how much later than the grace period pidone may exit, and
// quick how soon "at once" must be: generous, since several test suites
// share two cores.
const (
	margin = 1500 * time.Millisecond
	quick  = time.Second
)

var lingerLine = regexp.MustCompile(`^(main|group|escapee) (\d+) (ready|TERM)$`)

// lingerPids waits for the three lingerers' ready lines and returns their
// pids (in the namespace) by role.
func lingerPids(t *testing.T, p *nsInit) map[string]int {
	t.Helper()
	pids := map[string]int{}
	for _, role := range []string{"main", "group", "escapee"} {
		m := p.stdout.WaitFor(t, regexp.MustCompile(`^`+role+` (\d+) ready$`), exitTimeout)
		pids[role], _ = strconv.Atoi(m[1])
	}
	return pids
}

// gotTerm waits until every role listed has reported a SIGTERM.
func gotTerm(t *testing.T, p *nsInit, roles ...string) {
	t.Helper()
	for _, role := range roles {
		p.stdout.WaitFor(t, regexp.MustCompile(`^`+role+` \d+ TERM$`), exitTimeout)
	}
}

// reapedAs checks that pidone's -w log has pid reaped with a status
// matching status.
func reapedAs(t *testing.T, p *nsInit, pid int, status string) {
	t.Helper()
	re := regexp.MustCompile(fmt.Sprintf(`msg="reaped orphan" pid=%d status="%s"`, pid, status))
	if p.stderr.Count(re) != 1 {
		t.Errorf("pidone's log has no line matching %q: pidone did not wait for pid %d", re, pid)
	}
}

func TestStopReachesEscapeesAndEndsAfterGrace(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	const grace = 2 * time.Second
	p := startPidone(t, "-w", "--grace", grace.String(), "--", workload, "lingerers", "-ignore", "-code", "7")
	pids := lingerPids(t, p)

	start := time.Now()
	p.signal(syscall.SIGTERM)
	// The stop signal reached the main child's group, and the setsid
	// escapee that no kill(-pgid) reaches.
	gotTerm(t, p, "main", "group", "escapee")
	code := p.exitCode(grace + 10*time.Second)
	elapsed := time.Since(start)
	t.Logf("SIGTERM to exit, two processes ignoring SIGTERM, --grace %v: %v", grace, elapsed.Round(time.Millisecond))
	if elapsed < grace-50*time.Millisecond || elapsed > grace+margin {
		t.Errorf("pidone exited %v after SIGTERM, want between the grace period %v and %v", elapsed, grace, grace+margin)
	}
	if code != 7 {
		t.Errorf("exit code %d, want 7 (the main child's status)", code)
	}
	p.stderr.WaitEOF(t, exitTimeout)
	// pidone exits only when nothing is left: it reaped both lingerers,
	// killed by its SIGKILL, before exiting (as PID 1 its own exit would
	// also kill them, but then it would not have logged them).
	reapedAs(t, p, pids["group"], "killed by SIGKILL")
	reapedAs(t, p, pids["escapee"], "killed by SIGKILL")
}

func TestStopIsImmediateWhenEverythingExits(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startPidone(t, "-w", "--grace", "30s", "--", workload, "lingerers", "-code", "5")
	pids := lingerPids(t, p)
	start := time.Now()
	p.signal(syscall.SIGTERM)
	code := p.exitCode(exitTimeout)
	elapsed := time.Since(start)
	t.Logf("SIGTERM to exit, everything exits on SIGTERM, --grace 30s: %v", elapsed.Round(time.Millisecond))
	if elapsed > quick {
		t.Errorf("pidone exited %v after SIGTERM, want at once (< %v): nothing was left to wait for", elapsed, quick)
	}
	if code != 5 {
		t.Errorf("exit code %d, want 5", code)
	}
	p.stderr.WaitEOF(t, exitTimeout)
	reapedAs(t, p, pids["group"], "exit status 0")
	reapedAs(t, p, pids["escapee"], "exit status 0")
}

func TestSecondTermSkipsTheGracePeriod(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startPidone(t, "-w", "-v", "--grace", "60s", "--", workload, "lingerers", "-ignore", "-code", "7")
	pids := lingerPids(t, p)
	p.signal(syscall.SIGTERM)
	gotTerm(t, p, "main", "group", "escapee")
	// The main child exits 7 on SIGTERM; wait for that, or the second
	// request's SIGKILL may catch it between its line and its exit.
	p.stderr.WaitFor(t, regexp.MustCompile(`msg="main child exited" pid=\d+ status="exit status 7"`), exitTimeout)
	start := time.Now()
	p.signal(syscall.SIGINT)
	code := p.exitCode(exitTimeout)
	elapsed := time.Since(start)
	t.Logf("second stop request (SIGINT) to exit, --grace 60s: %v", elapsed.Round(time.Millisecond))
	if elapsed > quick {
		t.Errorf("pidone exited %v after the second stop request, want at once (< %v)", elapsed, quick)
	}
	if code != 7 {
		t.Errorf("exit code %d, want 7", code)
	}
	p.stderr.WaitEOF(t, exitTimeout)
	reapedAs(t, p, pids["group"], "killed by SIGKILL")
	reapedAs(t, p, pids["escapee"], "killed by SIGKILL")
}

func TestGraceZeroKillsAtOnce(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startPidone(t, "-w", "--grace", "0", "--", workload, "lingerers", "-ignore")
	pids := lingerPids(t, p)
	start := time.Now()
	p.signal(syscall.SIGTERM)
	code := p.exitCode(exitTimeout)
	elapsed := time.Since(start)
	t.Logf("SIGTERM to exit with --grace 0: %v", elapsed.Round(time.Millisecond))
	if elapsed > quick {
		t.Errorf("pidone exited %v after SIGTERM, want at once (< %v)", elapsed, quick)
	}
	if code != 128+9 {
		t.Errorf("exit code %d, want 137 (the main child SIGKILLed)", code)
	}
	p.stdout.WaitEOF(t, exitTimeout)
	if n := p.stdout.Count(regexp.MustCompile(`TERM$`)); n != 0 {
		t.Errorf("%d processes got SIGTERM with --grace 0, want none (kill at once)", n)
	}
	reapedAs(t, p, pids["escapee"], "killed by SIGKILL")
}

// TestMainExitStopsTheRest: a program that daemonizes and exits. Without
// --wait-all the daemon gets SIGTERM (it dies of it) and pidone exits at
// once with the program's status.
func TestMainExitStopsTheRest(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startPidone(t, "-w", "--", workload, "forkexit", "-life", "60s", "-code", "3")
	p.stdout.WaitFor(t, regexp.MustCompile(`^daemon started$`), exitTimeout)
	start := time.Now()
	code := p.exitCode(exitTimeout)
	t.Logf("main child exited; pidone exited %v after its \"daemon started\" line", time.Since(start).Round(time.Millisecond))
	if code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	if time.Since(start) > quick {
		t.Errorf("pidone took %v, want at once: the daemon dies of SIGTERM", time.Since(start))
	}
	p.stderr.WaitEOF(t, exitTimeout)
	if p.stderr.Count(regexp.MustCompile(`msg="reaped orphan" pid=\d+ status="killed by SIGTERM"`)) != 1 {
		t.Errorf("no daemon reaped after dying of SIGTERM")
	}
}

func TestWaitAllWaitsForTheDaemon(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	const life = 1500 * time.Millisecond
	p := startPidone(t, "-w", "--wait-all", "--", workload, "forkexit", "-life", life.String(), "-code", "3")
	p.stdout.WaitFor(t, regexp.MustCompile(`^daemon started$`), exitTimeout)
	start := time.Now()
	code := p.exitCode(life + 10*time.Second)
	elapsed := time.Since(start)
	t.Logf("--wait-all: pidone exited %v after the main child (daemon lives %v)", elapsed.Round(time.Millisecond), life)
	if code != 3 {
		t.Errorf("exit code %d, want 3 (the main child's, not the daemon's)", code)
	}
	if elapsed < life-200*time.Millisecond || elapsed > life+margin {
		t.Errorf("pidone exited %v after the main child, want when the daemon exits (%v, at most %v)", elapsed, life, life+margin)
	}
	p.stderr.WaitEOF(t, exitTimeout)
	if p.stderr.Count(regexp.MustCompile(`msg="reaped orphan" pid=\d+ status="exit status 0"`)) != 1 {
		t.Errorf("the daemon was not reaped after exiting on its own")
	}
}

func TestRewriteTable(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startPidone(t, "-r", "USR1:USR2", "-r", "1:none", "--rewrite", "RTMIN+3:RTMIN+4", "-r", "SIGQUIT:0",
		"--", workload, "sigrecord", "-grandchild")
	p.stdout.WaitFor(t, regexp.MustCompile(`^child \d+ ready$`), exitTimeout)
	p.stdout.WaitFor(t, regexp.MustCompile(`^grandchild \d+ ready$`), exitTimeout)
	// One at a time, each awaited: pending signals are not delivered in
	// the order they were sent (the kernel and os/signal both go by number).
	for _, tc := range []struct{ send, want syscall.Signal }{{syscall.SIGUSR1, syscall.SIGUSR2}, {37, 38}} {
		p.signal(tc.send)
		for _, role := range []string{"child", "grandchild"} {
			p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^%s \d+ %d$`, role, int(tc.want))), exitTimeout)
		}
	}
	// The dropped ones, then SIGWINCH, which passes unchanged; then time
	// for a wrongly forwarded signal to show up.
	p.signal(syscall.SIGHUP)
	p.signal(syscall.SIGQUIT)
	sendEach(t, p, []syscall.Signal{syscall.SIGWINCH}, "child", "grandchild")
	time.Sleep(200 * time.Millisecond)
	p.closeStdin()
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	p.stdout.WaitEOF(t, exitTimeout)
	got := received(p.stdout.Snapshot())
	want := []syscall.Signal{syscall.SIGUSR2, 38, syscall.SIGWINCH}
	checkReceived(t, got, "child", want)
	checkReceived(t, got, "grandchild", want)
}

// TestRewriteOfTheStopSignal: -r TERM:QUIT. SIGTERM still asks pidone to
// stop, and everything gets SIGQUIT instead; sigrecord survives it, so the
// grace period runs out.
func TestRewriteOfTheStopSignal(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startPidone(t, "-r", "TERM:QUIT", "--grace", "1s", "--", workload, "sigrecord", "-grandchild")
	p.stdout.WaitFor(t, regexp.MustCompile(`^grandchild \d+ ready$`), exitTimeout)
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(exitTimeout); code != 128+9 {
		t.Errorf("exit code %d, want 137: sigrecord survives SIGQUIT and is killed after the grace period", code)
	}
	p.stdout.WaitEOF(t, exitTimeout)
	got := received(p.stdout.Snapshot())
	// SIGCONT follows every stop signal, so that stopped processes act on it.
	checkReceived(t, got, "child", []syscall.Signal{syscall.SIGQUIT, syscall.SIGCONT})
	checkReceived(t, got, "grandchild", []syscall.Signal{syscall.SIGQUIT, syscall.SIGCONT})
}

func TestDelayHoldsTermWhileReapingAndForwarding(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	const delay = 1500 * time.Millisecond
	p := startPidone(t, "-w", "--delay", "TERM:"+delay.String(), "--", workload, "sigtime")
	p.stdout.WaitFor(t, regexp.MustCompile(`^ready$`), exitTimeout)
	start := time.Now()
	p.signal(syscall.SIGTERM)
	p.signal(syscall.SIGUSR2)

	p.stdout.WaitFor(t, regexp.MustCompile(`^sig 12$`), exitTimeout)
	forwarded := time.Since(start)
	p.stdout.WaitFor(t, regexp.MustCompile(`^orphan started$`), exitTimeout)
	p.stderr.WaitFor(t, regexp.MustCompile(`msg="reaped orphan"`), exitTimeout)
	reaped := time.Since(start)
	p.stdout.WaitFor(t, regexp.MustCompile(`^sig 15$`), delay+exitTimeout)
	delivered := time.Since(start)
	t.Logf("--delay TERM:%v: SIGUSR2 forwarded after %v, orphan reaped after %v, SIGTERM delivered after %v",
		delay, forwarded.Round(time.Millisecond), reaped.Round(time.Millisecond), delivered.Round(time.Millisecond))
	if forwarded > quick {
		t.Errorf("SIGUSR2 reached the child after %v, want at once: the delay holds SIGTERM only", forwarded)
	}
	if reaped > delivered {
		t.Errorf("the orphan was reaped after SIGTERM was delivered, want during the delay")
	}
	if delivered < delay-50*time.Millisecond || delivered > delay+margin {
		t.Errorf("SIGTERM reached the child after %v, want after the delay %v (at most %v)", delivered, delay, delay+margin)
	}
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

func TestPauseReapsAndExitsZero(t *testing.T) {
	t.Parallel()
	stormSlot(t)
	_, workload := bins(t)
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		t.Skipf("nsenter (util-linux) is needed to run processes in pidone's PID namespace: %v", err)
	}
	p := startPidone(t, "--pause", "-w")
	// Another container's processes joining the pod's PID namespace: a
	// storm whose orphans are re-parented to the pause process.
	out, err := exec.Command(nsenter, append(nsenterArgs(p.pid, "-p"), workload, "storm", "-spawners", "2", "-orphans", "300")...).CombinedOutput()
	if err != nil {
		t.Fatalf("nsenter storm: %v\n%s", err, out)
	}
	m := stormDone.FindStringSubmatch(strings.TrimSpace(string(out)))
	if m == nil {
		t.Fatalf("no storm summary in %q", out)
	}
	n, _ := strconv.Atoi(m[1])
	settled(t, p, 1, n, func() int { return p.stderr.Count(reapedText) })

	start := time.Now()
	p.signal(syscall.SIGTERM)
	code := p.exitCode(exitTimeout)
	t.Logf("pause: reaped %d orphans; SIGTERM to exit: %v", n, time.Since(start).Round(time.Millisecond))
	if code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if time.Since(start) > quick {
		t.Errorf("pause took %v to exit, want at once", time.Since(start))
	}
}

func TestPauseExitsZeroOnInt(t *testing.T) {
	t.Parallel()
	p := startPidone(t, "--pause", "-v")
	// Only once pidone says it waits is its handler in place: a Go
	// program's own handlers are installed before main runs, and before
	// signal.Notify they make it exit 2, so /proc's SigCgt cannot tell.
	p.stderr.WaitFor(t, pauseReady, exitTimeout)
	p.signal(syscall.SIGINT)
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

func TestTerminationLog(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		doc  string
		args []string
		term bool // send SIGTERM once ready
		want string
	}{
		{"exit status", []string{"--", workload, "exit", "3"}, false, "clean: main child exited with status 3"},
		{"signal", []string{"--", workload, "killself", "SEGV"}, false, "clean: main child was killed by SIGSEGV (signal 11, exit code 139)"},
		{"pidone's SIGKILL", []string{"--grace", "500ms", "--", workload, "sigrecord"}, true,
			"clean: main child was killed by SIGKILL (signal 9, exit code 137): pidone's SIGKILL when the 500ms grace period ran out"},
		{"leftovers", []string{"--", workload, "leave", "-group", "1", "-escapees", "1", "-code", "3"}, false, "2 leftovers: main child exited with status 3"},
		{"start failure", []string{"--", "/no/such/command"}, false, `cannot run "/no/such/command"`},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.doc, " ", "-"))
			// Its own /proc, as in a container: the verdict (clean, N
			// leftovers) needs it (exitreport_test.go).
			p := startWithProc(t, append([]string{"--termination-log", path}, tc.args...)...)
			if tc.term {
				// sigrecord survives SIGTERM, and stdin stays open.
				p.stdout.WaitFor(t, regexp.MustCompile(`^child \d+ ready$`), exitTimeout)
				p.signal(syscall.SIGTERM)
			} else {
				p.closeStdin()
			}
			p.exitCode(exitTimeout)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); !strings.HasPrefix(got, tc.want) || !strings.HasSuffix(got, "\n") || strings.Count(got, "\n") != 1 {
				t.Errorf("termination log %q, want one line starting %q", got, tc.want)
			}
		})
	}
}

// TestStopAsSubreaper runs pidone below a PID 1 that never reaps, with a
// /proc of that namespace: pidone is a child subreaper and finds what is
// below it by walking /proc. After it exits, nothing of its subtree may be
// left: the namespace's init does not clean up.
func TestStopAsSubreaper(t *testing.T) {
	t.Parallel()
	pidone, workload := bins(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skipf("unshare (util-linux) is needed to mount the namespace's own /proc: %v", err)
	}
	const grace = 2 * time.Second
	p := startInit(t, unshare, "--mount", "--mount-proc", "--", workload, "noreap", "--",
		pidone, "-w", "--grace", grace.String(), "--", workload, "lingerers", "-ignore", "-code", "9")
	pidoneHost := noreapChild(t, p)
	pids := lingerPids(t, p)
	start := time.Now()
	if err := unix.Kill(pidoneHost, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	gotTerm(t, p, "main", "group", "escapee")
	eventually(t, grace+exitTimeout, func() (bool, string) {
		pr, err := readProc(pidoneHost)
		return err == nil && pr.state == "Z", "pidone has not exited"
	})
	elapsed := time.Since(start)
	t.Logf("subreaper: SIGTERM to exit, two processes ignoring SIGTERM, --grace %v: %v (observed by polling)", grace, elapsed.Round(time.Millisecond))
	if elapsed < grace-50*time.Millisecond || elapsed > grace+margin {
		t.Errorf("pidone exited %v after SIGTERM, want between %v and %v", elapsed, grace, grace+margin)
	}
	pr, _ := readProc(pidoneHost)
	if ws := syscall.WaitStatus(pr.exitCode); !ws.Exited() || ws.ExitStatus() != 9 {
		t.Errorf("pidone's wait status %#x, want exit status 9", pr.exitCode)
	}
	// noreap and pidone's zombie, nothing else.
	var left []string
	for _, pr := range nsProcs(t, p.pid) {
		if pr.pid != p.pid && pr.pid != pidoneHost {
			left = append(left, fmt.Sprintf("pid %d (%s)", pr.pid, pr.state))
		}
	}
	if len(left) > 0 {
		t.Errorf("left behind pidone: %v", left)
	}
	reapedAs(t, p, pids["group"], "killed by SIGKILL")
	reapedAs(t, p, pids["escapee"], "killed by SIGKILL")
}

// forwardedAsIs is forwardable() without SIGTERM and SIGINT: pidone
// forwards those too, but as requests to stop every process (the stop
// signal, then SIGCONT, then SIGKILL after the grace period), which the
// tests in this file check.
func forwardedAsIs() []syscall.Signal {
	var sigs []syscall.Signal
	for _, s := range forwardable() {
		if s != syscall.SIGTERM && s != syscall.SIGINT {
			sigs = append(sigs, s)
		}
	}
	return sigs
}

package e2e

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// signalLine matches sigrecord's report of one received signal.
var signalLine = regexp.MustCompile(`^(child|grandchild) (\d+) (\d+)$`)

// received tallies sigrecord's reports: role -> signal number -> count.
func received(lines []string) map[string]map[int]int {
	got := map[string]map[int]int{"child": {}, "grandchild": {}}
	for _, l := range lines {
		if m := signalLine.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[3])
			got[m[1]][n]++
		}
	}
	return got
}

// checkReceived fails unless role received each signal in want exactly
// once and nothing else.
func checkReceived(t *testing.T, got map[string]map[int]int, role string, want []syscall.Signal) {
	t.Helper()
	wanted := map[int]bool{}
	for _, sig := range want {
		wanted[int(sig)] = true
		if n := got[role][int(sig)]; n != 1 {
			t.Errorf("%s received signal %d (%v) %d times, want exactly once", role, int(sig), sig, n)
		}
	}
	for sig, n := range got[role] {
		if !wanted[sig] {
			t.Errorf("%s received signal %d (%v) %d times, want 0 times", role, sig, syscall.Signal(sig), n)
		}
	}
}

// sendEach sends every signal to PID 1 one at a time and waits until each
// of roles has reported it, so no two signals can coalesce.
func sendEach(t *testing.T, p *nsInit, sigs []syscall.Signal, roles ...string) {
	t.Helper()
	for _, sig := range sigs {
		p.signal(sig)
		for _, role := range roles {
			p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^%s \d+ %d$`, role, int(sig))), 5*time.Second)
		}
	}
}

func TestEverySignalReachesTheProcessGroupOnce(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startPidone(t, "--", workload, "sigrecord", "-grandchild")
	p.stdout.WaitFor(t, regexp.MustCompile(`^child \d+ ready$`), exitTimeout)
	p.stdout.WaitFor(t, regexp.MustCompile(`^grandchild \d+ ready$`), exitTimeout)
	sigs := forwardedAsIs() // TERM and INT stop everything: lifecycle_test.go
	sendEach(t, p, sigs, "child", "grandchild")

	p.closeStdin()
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("after stdin EOF: got exit code %d, want 0", code)
	}
	p.stdout.WaitEOF(t, exitTimeout)
	got := received(p.stdout.Snapshot())
	checkReceived(t, got, "child", sigs)
	checkReceived(t, got, "grandchild", sigs)
}

func TestSingleChildSignalsOnlyTheChild(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startPidone(t, "-c", "--", workload, "sigrecord", "-grandchild")
	p.stdout.WaitFor(t, regexp.MustCompile(`^child \d+ ready$`), exitTimeout)
	p.stdout.WaitFor(t, regexp.MustCompile(`^grandchild \d+ ready$`), exitTimeout)
	sigs := forwardedAsIs() // TERM and INT stop everything: lifecycle_test.go
	sendEach(t, p, sigs, "child")
	// Give a stray signal to the grandchild time to show up.
	time.Sleep(200 * time.Millisecond)

	p.closeStdin()
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("after stdin EOF: got exit code %d, want 0", code)
	}
	p.stdout.WaitEOF(t, exitTimeout)
	got := received(p.stdout.Snapshot())
	checkReceived(t, got, "child", sigs)
	checkReceived(t, got, "grandchild", nil)
}

// TestNoSignalNobodySent runs an orphan storm under pidone, which keeps its
// reaper and its Go runtime busy (the runtime's own preemption signal is
// SIGURG), and checks that the child received no signal at all.
func TestNoSignalNobodySent(t *testing.T) {
	t.Parallel()
	stormWithoutSignals(t, nil)
}

// TestNoSignalNobodySentWithPreemptionOn runs pidone with the runtime's
// asynchronous preemption turned back on through GODEBUG, so its runtime
// sends itself SIGURG while it is busy reaping: pidone must notice, say so,
// and not catch SIGURG at all rather than forward those to the child. (The
// workload turns preemption off for itself again, test/e2e/workload.)
func TestNoSignalNobodySentWithPreemptionOn(t *testing.T) {
	t.Parallel()
	p := stormWithoutSignals(t, append(os.Environ(), "GODEBUG=asyncpreemptoff=0"))
	p.stderr.WaitFor(t, regexp.MustCompile(`async preemption is on .*SIGURG is not forwarded`), exitTimeout)
}

// stormWithoutSignals runs an orphan storm beside a signal recorder under
// pidone (environment env, nil for ours), waits until everything is reaped,
// and checks that the recorder saw no signal at all: nobody sent one.
func stormWithoutSignals(t *testing.T, env []string) *nsInit {
	stormSlot(t)
	pidone, workload := bins(t)
	p := startInitEnv(t, env, pidone, "--", workload, "sigrecord", "-storm", strconv.Itoa(stormSize))
	p.stdout.WaitFor(t, regexp.MustCompile(`^child \d+ ready$`), exitTimeout)
	waitStorm(t, p, stormSize)
	eventually(t, 60*time.Second, func() (bool, string) {
		procs := nsProcs(t, p.pid)
		z := len(zombies(procs))
		return len(procs) == 2 && z == 0,
			fmt.Sprintf("%d processes (want 2: pidone and sigrecord), %d zombies (want 0)", len(procs), z)
	})

	p.closeStdin()
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("after stdin EOF: got exit code %d, want 0", code)
	}
	p.stdout.WaitEOF(t, exitTimeout)
	checkReceived(t, received(p.stdout.Snapshot()), "child", nil)
	return p
}

func TestTermEndsChildWithItsStatus(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	for _, code := range []int{0, 7} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			p := startPidone(t, "--", workload, "termexit", strconv.Itoa(code))
			p.stdout.WaitFor(t, regexp.MustCompile(`^ready$`), exitTimeout)
			p.signal(syscall.SIGTERM)
			if got := p.exitCode(exitTimeout); got != code {
				t.Errorf("termexit %d after SIGTERM: got exit code %d, want %d", code, got, code)
			}
		})
	}
}

// TestSurvivesStderrClosing closes the read end of pidone's stderr, then
// sends signals that pidone logs at debug level: its writes fail with EPIPE
// and raise SIGPIPE, which must neither kill pidone nor reach the child.
// A SIGWINCH before the close shows that a forwarded signal is logged.
func TestSurvivesStderrClosing(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startPidone(t, "-vv", "-w", "--", workload, "sigrecord")
	p.stdout.WaitFor(t, regexp.MustCompile(`^child \d+ ready$`), exitTimeout)
	// First make sure a forwarded signal does make pidone write to stderr,
	// else closing it would prove nothing.
	before := len(p.stderr.Snapshot())
	sendEach(t, p, []syscall.Signal{syscall.SIGWINCH}, "child")
	eventually(t, exitTimeout, func() (bool, string) {
		return len(p.stderr.Snapshot()) > before, "no stderr line from pidone -vv after forwarding SIGWINCH"
	})
	if err := p.stderr.Close(); err != nil {
		t.Fatal(err)
	}
	sendEach(t, p, []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGUSR2}, "child")
	sigs := []syscall.Signal{syscall.SIGWINCH, syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGUSR2}
	// Give a stray SIGPIPE time to show up.
	time.Sleep(200 * time.Millisecond)
	checkReceived(t, received(p.stdout.Snapshot()), "child", sigs)

	p.closeStdin()
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("after stdin EOF: got exit code %d, want 0", code)
	}
	p.stdout.WaitEOF(t, exitTimeout)
	checkReceived(t, received(p.stdout.Snapshot()), "child", sigs)
}

// TestBurstOfDistinctSignalsEachArrivesOnce sends every signal pidone
// forwards unchanged back to back, without waiting for any, so that some
// reach pidone while its main thread is still forwarding the one before
// (they take the os/signal path, the others the main thread's shortcut):
// each must still reach the child exactly once.
func TestBurstOfDistinctSignalsEachArrivesOnce(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startPidone(t, "--", workload, "sigrecord")
	p.stdout.WaitFor(t, regexp.MustCompile(`^child \d+ ready$`), exitTimeout)

	// The shortcut is in place: pidone's main thread sleeps in
	// rt_sigtimedwait, waiting for the signals it forwards.
	eventually(t, exitTimeout, func() (bool, string) {
		wchan, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/wchan", p.pid, p.pid))
		return err == nil && strings.HasPrefix(string(wchan), "do_sigtimedwait"),
			fmt.Sprintf("main thread waits in %q (%v), want do_sigtimedwait", wchan, err)
	})

	// Without SIGCONT and the stop signals: the kernel discards a pending
	// SIGCONT when a stop signal is sent, and pending stop signals when
	// SIGCONT is, whoever catches them (signal(7)). Back to back, the pair
	// would cancel before any init could take them.
	var sigs []syscall.Signal
	for _, sig := range forwardedAsIs() {
		switch sig {
		case syscall.SIGCONT, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU:
		default:
			sigs = append(sigs, sig)
		}
	}
	for round := range 5 {
		for _, sig := range sigs {
			p.signal(sig)
		}
		for _, sig := range sigs {
			p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^child \d+ %d$`, int(sig))), 5*time.Second)
		}
		// Settle, then check the counts so far: a duplicate would show.
		time.Sleep(50 * time.Millisecond)
		for sig, n := range received(p.stdout.Snapshot())["child"] {
			if n != round+1 {
				t.Fatalf("round %d: child received signal %d %d times, want %d", round, sig, n, round+1)
			}
		}
	}
	p.closeStdin()
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("after stdin EOF: got exit code %d, want 0", code)
	}
}

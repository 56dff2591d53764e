package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Storm regression tests (issue 10): many orphans, signal storms while
// reaping, and pid reuse in workers mode. Sized to keep the e2e tier well
// within its budget on two cores.

// TestHundredThousandOrphansInRounds reaps 100,000 orphans in four storms of
// 25,000, checking after each that no zombie is left, and then that the
// main child's exit status comes through intact.
func TestHundredThousandOrphansInRounds(t *testing.T) {
	t.Parallel()
	stormSlot(t)
	_, workload := bins(t)
	const rounds, perRound, code = 4, 25000, 42
	p := startPidone(t, "--", workload, "rounds", "-rounds", strconv.Itoa(rounds), "-orphans", strconv.Itoa(perRound), "-code", strconv.Itoa(code))
	ns := pidNS(t, p.pid)
	total, start := 0, time.Now()
	for r := 1; r <= rounds; r++ {
		m := p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^round %d orphans=(\d+)$`, r)), 90*time.Second)
		n, _ := strconv.Atoi(m[1])
		if n < perRound {
			t.Fatalf("round %d orphaned %d processes, want at least %d", r, n, perRound)
		}
		total += n
		// pidone and the rounds process, and no zombie.
		eventually(t, 60*time.Second, func() (bool, string) {
			procs := nsProcs(t, p.pid)
			z := len(zombies(procs))
			return len(procs) == 2 && z == 0, fmt.Sprintf("after round %d: %d processes (want 2), %d zombies (want 0)", r, len(procs), z)
		})
		t.Logf("round %d: %d orphans reaped, %v since the start", r, n, time.Since(start).Round(time.Millisecond))
		if _, err := p.stdin.Write([]byte("next\n")); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.exitCode(exitTimeout); got != code {
		t.Errorf("after %d orphans: exit code %d, want the main child's %d", total, got, code)
	}
	t.Logf("%d orphans in %d rounds reaped, exit status intact", total, rounds)
	checkNothingLeft(t, ns)
}

// TestSignalStormsWhileReaping sends rounds of signals to pidone while an
// orphan storm keeps its reaper busy, and stops and continues pidone itself
// in every other round (the signals then wait in the kernel). Realtime
// signals queue one by one: each, sent once a round, must reach the child
// exactly once a round. Standard signals coalesce: each must reach it at
// least once after it was last sent. And nothing that was not sent.
func TestSignalStormsWhileReaping(t *testing.T) {
	t.Parallel()
	stormSlot(t)
	_, workload := bins(t)
	// -c: signals go to the child alone. Sent to its group they would also
	// reach the storm's spawners, Go programs that die of a signal that
	// arrives while their runtime starts (a realtime signal's default
	// action) or of SIGHUP and SIGQUIT, failing the storm. Delivery to a
	// group: TestEverySignalReachesTheProcessGroupOnce.
	p := startPidone(t, "-c", "--", workload, "sigrecord", "-storm", strconv.Itoa(stormSize))
	p.stdout.WaitFor(t, regexp.MustCompile(`^child \d+ ready$`), exitTimeout)

	var realtime, standard []syscall.Signal
	for sig := syscall.Signal(35); sig <= 64; sig++ {
		realtime = append(realtime, sig)
	}
	// Not the stop signals: the SIGCONT that resumes pidone makes the
	// kernel discard them (signal(7)).
	standard = []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM,
		syscall.SIGWINCH, syscall.SIGURG, syscall.SIGVTALRM, syscall.SIGPIPE, syscall.SIGQUIT}
	sent := map[int]bool{int(syscall.SIGCONT): true} // pidone forwards the SIGCONT that resumes it
	const rounds = 16
	start := time.Now()
	for r := 1; r <= rounds; r++ {
		stop := r%2 == 1
		if stop {
			p.signal(syscall.SIGSTOP)
		}
		// Each realtime signal once, each standard one three times, in
		// a shuffled order.
		var batch []syscall.Signal
		batch = append(batch, realtime...)
		for range 3 {
			batch = append(batch, standard...)
		}
		rand.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		for _, sig := range batch {
			p.signal(sig)
			sent[int(sig)] = true
		}
		if stop {
			time.Sleep(20 * time.Millisecond)
			p.signal(syscall.SIGCONT)
		}
		// The last send of each standard signal, after a mark.
		mark := len(p.stdout.Snapshot())
		for _, sig := range standard {
			p.signal(sig)
		}
		eventually(t, exitTimeout, func() (bool, string) {
			got := received(p.stdout.Snapshot())["child"]
			for _, sig := range realtime {
				if got[int(sig)] < r {
					return false, fmt.Sprintf("round %d: signal %d received %d times", r, sig, got[int(sig)])
				}
			}
			after := received(p.stdout.Snapshot()[mark:])["child"]
			for _, sig := range standard {
				if after[int(sig)] == 0 {
					return false, fmt.Sprintf("round %d: signal %d (%v) not received after it was last sent", r, sig, sig)
				}
			}
			return true, ""
		})
		// A duplicate would come late: give it the time to.
		time.Sleep(20 * time.Millisecond)
		got := received(p.stdout.Snapshot())["child"]
		for _, sig := range realtime {
			if got[int(sig)] != r {
				t.Fatalf("round %d: realtime signal %d received %d times, want exactly %d (once a round)", r, sig, got[int(sig)], r)
			}
		}
	}
	t.Logf("%d rounds of signals in %v", rounds, time.Since(start).Round(time.Millisecond))
	waitStorm(t, p, stormSize)
	eventually(t, 60*time.Second, func() (bool, string) {
		procs := nsProcs(t, p.pid)
		z := len(zombies(procs))
		return len(procs) == 2 && z == 0, fmt.Sprintf("%d processes (want 2: pidone and sigrecord), %d zombies (want 0)", len(procs), z)
	})
	t.Logf("the storm reaped %v after the start", time.Since(start).Round(time.Millisecond))
	p.closeStdin()
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("after stdin EOF: exit code %d, want 0", code)
	}
	p.stdout.WaitEOF(t, exitTimeout)
	for sig, n := range received(p.stdout.Snapshot())["child"] {
		if !sent[sig] {
			t.Errorf("the child received signal %d (%v) %d times, but nobody sent it", sig, syscall.Signal(sig), n)
		}
	}
	t.Logf("%d rounds of %d realtime and %d standard signals (3 each), pidone stopped and continued in %d, during a storm of %d orphans",
		rounds, len(realtime), len(standard), (rounds+1)/2, stormSize)
}

// TestWorkersUnderPidReuse is defect 1's recycler: every fork in the
// namespace takes the lowest free pid above 50 (ns_last_pid kept there from
// a loop inside the namespace), so a worker that dies is replaced by one
// with its pid, while eight workers of /bin/false crash and respawn every
// millisecond or two. An exit charged to the wrong worker left a slot live
// for ever: after SIGTERM the master must still exit within the grace
// period and leave nothing behind.
func TestWorkersUnderPidReuse(t *testing.T) {
	t.Parallel()
	needRoot(t, "writing ns_last_pid needs CAP_SYS_ADMIN over the namespace")
	_, workload := bins(t)
	falseBin, err := exec.LookPath("false")
	if err != nil {
		t.Skipf("no false(1): %v", err)
	}
	const grace = time.Second
	p := startPidone(t, "-v", "--grace", grace.String(), "--workers", "8", "--backoff-min", "1ms", "--backoff-max", "2ms", "--", falseBin)
	ns := pidNS(t, p.pid)

	pin := exec.Command("nsenter", append(nsenterArgs(p.pid, "-p"), workload, "pinpid", "50")...)
	pinOut, err := pin.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	pin.Stderr = os.Stderr
	if err := pin.Start(); err != nil {
		t.Skipf("nsenter (util-linux) is needed to run the recycler in the namespace: %v", err)
	}
	t.Cleanup(func() {
		// It dies with the namespace; if pidone is stuck, it would not.
		_ = pin.Process.Kill()
		_ = pin.Wait()
	})
	ready := make([]byte, len("pinpid ready\n"))
	if _, err := pinOut.Read(ready); err != nil || string(ready) != "pinpid ready\n" {
		t.Fatalf("pinpid did not start: %q, %v", ready, err)
	}
	time.Sleep(3 * time.Second)
	spawns := p.stderr.Count(regexp.MustCompile(`msg="worker started"`))

	start := time.Now()
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace + margin):
		left := nsProcs(t, p.pid)
		t.Fatalf("the master has not exited %v after SIGTERM (--grace %v), %d processes in its namespace (%d zombies), after %d spawns",
			grace+margin, grace, len(left), len(zombies(left)), spawns)
	}
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("after SIGTERM: exit code %d, want 0", code)
	}
	t.Logf("%d workers spawned under pid reuse; SIGTERM to exit %v", spawns, time.Since(start).Round(time.Millisecond))
	checkNothingLeft(t, ns)
}

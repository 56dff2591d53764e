package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCtlRefusesAMasterInAnotherPIDNamespace is the attack of issue 18
// (item 3): containers A and B share the pidfile's directory (a volume).
// A's master is PID 1 of A and holds the lock; in B, whose PID 1 is a pidone
// master too, `pidone ctl --pidfile A's` found a held lock, a pidfile saying
// 1 and a /proc/1/exe that is pidone, and so stopped, reloaded and restarted
// B's own PID 1, and status showed A's workers as B's. Every verb must now
// refuse with exit 4 and say why, and neither PID 1 may see a signal.
func TestCtlRefusesAMasterInAnotherPIDNamespace(t *testing.T) {
	t.Parallel()
	needRoot(t, "nsenter cannot join the namespace's mount namespace")
	_, workload := bins(t)
	shared := t.TempDir()
	pidfileA := filepath.Join(shared, "a.pid")
	pidfileB := filepath.Join(shared, "b.pid")
	a := startMaster(t, "-v", "--workers", "1", "--pidfile", pidfileA, "--", workload, "worker")
	b := startMaster(t, "-v", "--workers", "1", "--pidfile", pidfileB, "--", workload, "worker")
	workerA := waitStarts(t, a, 1, nil)[0]
	workerB := waitStarts(t, b, 1, nil)[0]
	for _, p := range []struct {
		ns      *nsInit
		pidfile string
	}{{a, pidfileA}, {b, pidfileB}} {
		eventually(t, workersTimeout, func() (bool, string) {
			code, out := ctlIn(t, p.ns, "status", "--pidfile", p.pidfile)
			return code == 0 && strings.Contains(out, "GROUP"), fmt.Sprintf("ctl status in its own namespace: %d %q", code, out)
		})
	}

	// The attack, from B, on A's pidfile. stop comes last: before the fix
	// it ended B.
	for _, verb := range []string{"status", "reload", "restart", "stop"} {
		code, out := ctlIn(t, b, verb, "--pidfile", pidfileA, "--timeout", "3s")
		if code != 4 || !strings.Contains(out, "another PID namespace") {
			t.Errorf("ctl %s in B with A's pidfile: exit %d %q; want 4, refused: another PID namespace", verb, code, out)
		}
		if strings.Contains(out, "GROUP") || strings.Contains(out, "running (pid") {
			t.Errorf("ctl %s in B showed A's master as B's: %q", verb, out)
		}
	}

	// A barrier: B's own restart, through B's pidfile. Signals to one
	// process arrive in order of number, so a SIGHUP (reload) or SIGUSR2
	// (restart) the attack had sent would have been taken first; a SIGTERM
	// (stop) would have stopped B, and this restart would never finish.
	if code, out := ctlIn(t, b, "restart", "--pidfile", pidfileB); code != 0 {
		t.Fatalf("ctl restart in B of its own master: %d %q", code, out)
	}
	next := waitStarts(t, b, 1, func(s started) bool { return s.gen > 1 })
	b.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^worker sig index=0 pid=%d sig=15$`, workerB.pid)), workersTimeout)
	if next[0].gen != 2 {
		t.Errorf("B's generation after one restart of its own is %d, want 2: the attack restarted B", next[0].gen)
	}
	if n := stdoutCount(b, `^worker sig index=\d+ pid=%d sig=(1|12)$`, workerB.pid); n != 0 {
		t.Errorf("B's worker got %d SIGHUP/SIGUSR2 from ctl run against A's pidfile", n)
	}
	// A, whose pidfile the attack named, was not signalled either: from B
	// its pid means nothing.
	if n := stdoutCount(a, `^worker sig index=0 pid=%d `, workerA.pid); n != 0 {
		t.Errorf("A's worker got %d signals from ctl run in B", n)
	}
	if code, out := ctlIn(t, a, "status", "--pidfile", pidfileA); code != 0 || !strings.Contains(out, "running (pid 1)") {
		t.Errorf("A after the attack: %d %q; want running", code, out)
	}
}

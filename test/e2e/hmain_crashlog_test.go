package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Crash loops are visible at the default log level (issue 22): a worker
// that dies on its own is a WARN with its pid, slot, status and the delay
// before it comes back; a slot given up is an ERROR.

func TestDefaultLevelShowsACrashAndARespawn(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startMaster(t, "--workers", "2", "--", workload, "worker", "-crash-slots", "0", "-code", "3", "-after", "50ms")
	p.stderr.WaitFor(t, regexp.MustCompile(`level=WARN msg="worker exited" group=main slot=0 gen=1 pid=\d+ status="exit status 3" uptime=\S+ delay=0s restarts=0$`), workersTimeout)
	// The respawn it announced comes, and crashes again.
	waitStarts(t, p, 2, func(s started) bool { return s.index == 0 })
	p.stderr.WaitFor(t, regexp.MustCompile(`level=WARN msg="worker exited" group=main slot=0 gen=1 pid=\d+ status="exit status 3" uptime=\S+ delay=\S+ restarts=[1-9]`), workersTimeout)

	// A worker killed from outside is a crash too.
	victim := waitStarts(t, p, 1, func(s started) bool { return s.index == 1 })[0]
	if err := unix.Kill(hostPid(t, p, victim.pid), unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.stderr.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`level=WARN msg="worker exited" group=main slot=1 gen=1 pid=%d status="killed by SIGKILL" uptime=\S+ delay=0s restarts=0$`, victim.pid)), workersTimeout)
	waitStarts(t, p, 2, func(s started) bool { return s.index == 1 })
}

func TestDefaultLevelShowsAGiveUpAsAnError(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startMaster(t, "--workers", "1", "--fatal-exit", "3", "--", workload, "worker", "-exit", "-code", "3")
	p.closeStdin()
	if code := p.exitCode(workersTimeout); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	p.stderr.WaitEOF(t, workersTimeout)
	p.stderr.WaitFor(t, regexp.MustCompile(`level=WARN msg="worker exited" group=main slot=0 gen=1 pid=\d+ status="exit status 3"`), 0)
	p.stderr.WaitFor(t, regexp.MustCompile(`level=ERROR msg="worker slot given up" group=main slot=0 gen=1 reason="exit code 3 is fatal" status="exit status 3"$`), 0)
}

// A crash storm of many workers gives a bounded number of lines, and the
// lines say how many deaths they stand for: every one is counted.
func TestCrashStormIsBoundedAndCounted(t *testing.T) {
	t.Parallel()
	stormSlot(t)
	_, workload := bins(t)
	const workers = 20
	// hmain's throttle spawns every slot exactly 3 times, then gives up;
	// the master exits 1 when every slot is given up.
	start := time.Now()
	p := startMaster(t, "--workers", strconv.Itoa(workers), "--throttle", "hmain", "--", workload, "worker", "-exit", "-code", "1")
	p.closeStdin()
	if code := p.exitCode(3 * workersTimeout); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	// Per message: one line at once, then at most one a second (the
	// first after it, or the last held, written when its second is
	// over), and the one written at exit.
	most := 2*int(time.Since(start).Seconds()) + 3
	p.stderr.WaitEOF(t, workersTimeout)
	count := func(msg string) (lines, events int) {
		re := regexp.MustCompile(`msg="` + msg + `" .*status="exit status 1".*?(?: suppressed=(\d+))?$`)
		for _, l := range p.stderr.Snapshot() {
			if m := re.FindStringSubmatch(l); m != nil {
				n, _ := strconv.Atoi(m[1])
				lines, events = lines+1, events+1+n
			}
		}
		return lines, events
	}
	// Every spawn ran and exited 1: a spawn that failed (fork refused
	// under load) would be a death of another kind.
	if n := stdoutCount(p, `^worker exit index=\d+ pid=\d+ code=1$`); n != 3*workers {
		t.Fatalf("%d workers exited 1, want %d; stderr:\n%s", n, 3*workers, p.stderr.Tail(10))
	}
	for _, tt := range []struct {
		msg    string
		events int
	}{{"worker exited", 3 * workers}, {"worker slot given up", workers}} {
		lines, events := count(tt.msg)
		if events != tt.events {
			t.Errorf("%q: %d lines stand for %d events, want %d", tt.msg, lines, events, tt.events)
		}
		if lines > most || lines >= events {
			t.Errorf("%q: %d lines for %d events, want at most %d, and fewer than the events", tt.msg, lines, events, most)
		}
		t.Logf("%q: %d lines for %d events", tt.msg, lines, events)
	}
}

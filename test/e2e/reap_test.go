package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var stormDone = regexp.MustCompile(`^storm done orphans=(\d+)$`)

// stormSize is the orphan count of the big storms.
const stormSize = 10000

// waitStorm waits for the storm's summary line and returns its count.
func waitStorm(t *testing.T, p *nsInit, atLeast int) int {
	t.Helper()
	m := p.stdout.WaitFor(t, stormDone, 90*time.Second)
	n, _ := strconv.Atoi(m[1])
	if n < atLeast {
		t.Fatalf("storm orphaned %d processes, want at least %d", n, atLeast)
	}
	return n
}

// settled waits until the namespace holds exactly want processes and no
// zombie, and pidone has logged exactly n reaped orphans.
func settled(t *testing.T, p *nsInit, want, n int, reaped func() int) {
	t.Helper()
	eventually(t, 60*time.Second, func() (bool, string) {
		procs := nsProcs(t, p.pid)
		z := len(zombies(procs))
		got := reaped()
		return len(procs) == want && z == 0 && got == n,
			fmt.Sprintf("%d processes (want %d), %d zombies (want 0), %d reaped orphans logged (want %d)",
				len(procs), want, z, got, n)
	})
}

func TestOrphanStormIsReapedExactly(t *testing.T) {
	t.Parallel()
	stormSlot(t)
	_, workload := bins(t)
	p := startPidone(t, "-w", "--", workload, "storm", "-spawners", "4", "-orphans", strconv.Itoa(stormSize), "-hold")
	n := waitStorm(t, p, stormSize)
	// pidone and the storm itself.
	settled(t, p, 2, n, func() int { return p.stderr.Count(reapedText) })

	p.signal(syscall.SIGTERM)
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("after SIGTERM: got exit code %d, want 0", code)
	}
	p.stderr.WaitEOF(t, exitTimeout)
	if got := p.stderr.Count(reapedText); got != n {
		t.Errorf("after exit: got %d reaped-orphan lines, want exactly %d", got, n)
	}
}

func TestDoubleForkedDaemonsAreReaped(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	const daemons = 20
	p := startPidone(t, "-w", "--", workload, "daemons", strconv.Itoa(daemons))
	p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^daemons started n=%d$`, daemons)), 30*time.Second)
	settled(t, p, 2, daemons, func() int { return p.stderr.Count(reapedText) })

	p.signal(syscall.SIGTERM)
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("after SIGTERM: got exit code %d, want 0", code)
	}
	p.stderr.WaitEOF(t, exitTimeout)
	if got := p.stderr.Count(reapedText); got != daemons {
		t.Errorf("after exit: got %d reaped-orphan lines, want exactly %d", got, daemons)
	}
}

// TestSubreaperBelowNonReapingInit runs pidone below a PID 1 that never
// waits: as a child subreaper, pidone must still adopt and reap every orphan
// of its subtree.
func TestSubreaperBelowNonReapingInit(t *testing.T) {
	t.Parallel()
	stormSlot(t)
	pidone, workload := bins(t)
	p := startInit(t, workload, "noreap", "--",
		pidone, "-w", "--", workload, "storm", "-spawners", "4", "-orphans", strconv.Itoa(stormSize), "-hold")
	pidoneHost := noreapChild(t, p)
	n := waitStorm(t, p, stormSize)

	// pidone's host pid: the process of the namespace with that namespace pid.
	// noreap, pidone and the storm.
	settled(t, p, 3, n, func() int { return p.stderr.Count(reapedText) })

	if err := unix.Kill(pidoneHost, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// pidone exits and stays noreap's zombie: that is expected, noreap
	// never waits. Its exit status is in /proc/PID/stat until then.
	eventually(t, exitTimeout, func() (bool, string) {
		pr, err := readProc(pidoneHost)
		if err != nil {
			return false, fmt.Sprintf("reading pidone's /proc entry: %v", err)
		}
		return pr.state == "Z", fmt.Sprintf("pidone in state %s after SIGTERM, want Z (exited)", pr.state)
	})
	pr, err := readProc(pidoneHost)
	if err != nil {
		t.Fatal(err)
	}
	if ws := syscall.WaitStatus(pr.exitCode); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("pidone below noreap: got wait status %#x, want exit status 0", pr.exitCode)
	}
	// A zombie writes nothing more, so the count is final.
	if got := p.stderr.Count(reapedText); got != n {
		t.Errorf("after pidone exited: got %d reaped-orphan lines, want exactly %d", got, n)
	}
}

func TestJSONLogFormat(t *testing.T) {
	t.Parallel()
	stormSlot(t)
	_, workload := bins(t)
	p := startPidone(t, "--log-format", "json", "-w", "--", workload, "storm", "-spawners", "2", "-orphans", "200", "-hold")
	n := waitStorm(t, p, 200)
	reapedJSON := func() int {
		count := 0
		for _, line := range p.stderr.Snapshot() {
			var rec struct{ Msg string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "reaped orphan" {
				count++
			}
		}
		return count
	}
	settled(t, p, 2, n, reapedJSON)

	p.signal(syscall.SIGTERM)
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("after SIGTERM: got exit code %d, want 0", code)
	}
	p.stderr.WaitEOF(t, exitTimeout)
	for _, line := range p.stderr.Snapshot() {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("stderr line is not JSON (%v): %q", err, line)
		}
	}
	if got := reapedJSON(); got != n {
		t.Errorf("after exit: got %d reaped-orphan records, want exactly %d", got, n)
	}
}

package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Workers mode stops what left a worker's process group (a setsid daemon)
// the way single mode does: the stop signal, the grace period, SIGKILL,
// and the master exits as soon as nothing is left (issue 18, item 5).
// The worker is `workload lingerers`: it leaves one process in its own
// group and one escapee in a session of its own.

func TestWorkersStopEscapeesAsPID1(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startMaster(t, "-w", "--workers", "1", "--grace", "10s", "--", workload, "lingerers")
	pids := lingerPids(t, p)

	start := time.Now()
	p.signal(syscall.SIGTERM)
	// Before: the escapee got no SIGTERM; it died of the SIGKILL the
	// namespace's end sends, when the master had exited.
	gotTerm(t, p, "main", "group", "escapee")
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	// Everyone exits on SIGTERM: the master leaves at once, well before
	// the 10 s grace period.
	if elapsed := time.Since(start); elapsed > 10*time.Second-margin {
		t.Errorf("the master exited %v after SIGTERM, want well before the grace period", elapsed)
	}
	p.stderr.WaitEOF(t, exitTimeout) // every log line read
	reapedAs(t, p, pids["escapee"], "exit status 0")
}

// TestWorkersStopEscapeesAsSubreaper runs the master below a PID 1 that
// never reaps, in a namespace with its own /proc: before, the escapee was
// left running after the master exited 0. It ignores SIGTERM, so it must
// get SIGKILL at the end of the grace period.
func TestWorkersStopEscapeesAsSubreaper(t *testing.T) {
	t.Parallel()
	pidone, workload := bins(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skipf("unshare (util-linux) is needed to mount the namespace's own /proc: %v", err)
	}
	const grace = time.Second
	p := startInit(t, unshare, "--mount", "--mount-proc", "--", workload, "noreap", "--",
		pidone, "-w", "--workers", "1", "--grace", grace.String(), "--", workload, "lingerers", "-ignore")
	master := noreapChild(t, p)
	pids := lingerPids(t, p)
	if err := unix.Kill(master, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	gotTerm(t, p, "main", "group", "escapee")
	// The worker's group needs SIGKILL after one grace period, the escapee
	// after another.
	eventually(t, 2*grace+exitTimeout, func() (bool, string) {
		pr, err := readProc(master)
		return err == nil && pr.state == "Z", "the master has not exited"
	})
	pr, _ := readProc(master)
	if ws := syscall.WaitStatus(pr.exitCode); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Errorf("the master's wait status %#x, want exit status 0", pr.exitCode)
	}
	// noreap and the master's zombie, nothing else.
	var left []string
	for _, pr := range nsProcs(t, p.pid) {
		if pr.pid != p.pid && pr.pid != master {
			left = append(left, fmt.Sprintf("pid %d (%s)", pr.pid, pr.state))
		}
	}
	if len(left) > 0 {
		t.Errorf("left behind the master: %v", left)
	}
	// The master's stderr stays open in noreap: wait for the line.
	p.stderr.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`msg="reaped orphan" pid=%d status="killed by SIGKILL"`, pids["escapee"])), exitTimeout)
}

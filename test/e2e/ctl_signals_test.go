package e2e

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCtlEndsOnSIGINTAndSIGTERM (issue 18, item 8): pidone ctl is an
// ordinary command. It used to keep the signal handling of an init, so
// neither timeout(1) nor Ctrl-C (SIGINT in `docker exec -it`) could end a
// `ctl stop` waiting for a slow master. Each must now end it, by the signal,
// as they end any command.
func TestCtlEndsOnSIGINTAndSIGTERM(t *testing.T) {
	t.Parallel()
	pidone, workload := bins(t)
	pidfile := filepath.Join(t.TempDir(), "app.pid")
	// A master whose worker ignores SIGTERM, with a long grace period:
	// ctl stop waits for it. It runs in our PID namespace, like ctl, so
	// that timeout(1) signals ctl itself (nsenter would stand between).
	master := startOutside(t, pidone, "--workers", "1", "--grace", "10m", "--pidfile", pidfile, "--", workload, "worker", "-ignore-term")
	worker := waitStarts(t, master, 1, nil)[0]
	t.Cleanup(func() { unix.Kill(worker.pid, unix.SIGKILL) })
	eventually(t, workersTimeout, func() (bool, string) {
		code, out := runCmd(t, pidone, "ctl", "status", "--pidfile", pidfile)
		return code == 0, fmt.Sprintf("ctl status: %d %q", code, out)
	})
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		// timeout sends sig after 1s, and SIGKILL 10s later to a ctl
		// that ignored it; --preserve-status reports how ctl ended.
		code, out := runCmd(t, "timeout", "--preserve-status", "-k", "10", "-s", strconv.Itoa(int(sig)), "1",
			pidone, "ctl", "stop", "--timeout", "10m", "--pidfile", pidfile)
		if code != 128+int(sig) || strings.Contains(out, "stopped") {
			t.Errorf("ctl stop ended by timeout -s %v: exit %d %q; want %d (killed by %v)", sig, code, out, 128+int(sig), sig)
		}
	}
	if n := stdoutCount(master, `^worker sig index=0 pid=%d sig=15$`, worker.pid); n < 1 {
		t.Errorf("the worker got no SIGTERM: ctl stop did not reach the master")
	}
}

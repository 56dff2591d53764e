package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The descendant walk of a pidone that is not PID 1 (issue 19, item 2)
// must cost what pidone's own descendants cost, not what runs elsewhere on
// the host. Its cost is asserted as a count, the /proc files and
// directories one walk reads (pidone's debug line), never as a time.

// hostIdlers is how many unrelated processes the tests put on the host:
// a walk that reads every /proc entry reads more than that.
const hostIdlers = 300

// maxWalkReads bounds the reads of one walk here: pidone's task directory
// and its threads' children files (a dozen threads at most), then a few
// files per descendant (at most a handful here). Far below hostIdlers.
const maxWalkReads = 80

var walkLine = regexp.MustCompile(`msg="walked the processes below pidone" found=(\d+) signalled=\d+ proc_reads=(\d+)`)

// startIdlers starts n sleeping processes outside any pidone, in a process
// group of their own, and waits until they all exist.
func startIdlers(t *testing.T, n int) {
	t.Helper()
	sh := exec.Command("/bin/sh", "-c", fmt.Sprintf(`i=0; while [ $i -lt %d ]; do sleep 600 & i=$((i+1)); done; wait`, n))
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = unix.Kill(-sh.Process.Pid, unix.SIGKILL)
		_ = sh.Wait()
	})
	path := fmt.Sprintf("/proc/%d/task/%d/children", sh.Process.Pid, sh.Process.Pid)
	eventually(t, 30*time.Second, func() (bool, string) {
		b, err := os.ReadFile(path)
		got := len(strings.Fields(string(b)))
		return err == nil && got == n, fmt.Sprintf("%d of %d idle processes started (%v)", got, n, err)
	})
}

// walks returns (found, reads) of every walk line in a debug log.
func walks(t *testing.T, stderr string) (found, reads []int) {
	t.Helper()
	for _, m := range walkLine.FindAllStringSubmatch(stderr, -1) {
		f, _ := strconv.Atoi(m[1])
		r, _ := strconv.Atoi(m[2])
		found, reads = append(found, f), append(reads, r)
	}
	if len(reads) == 0 {
		t.Fatalf("no %q line in pidone's debug log:\n%s", walkLine, stderr)
	}
	return found, reads
}

func hostProcesses(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			n++
		}
	}
	return n
}

func TestWalkReadsOnlyPidonesDescendants(t *testing.T) {
	pidone, _ := bins(t)
	startIdlers(t, hostIdlers)
	if n := hostProcesses(t); n <= hostIdlers {
		t.Fatalf("%d processes on the host, want more than %d", n, hostIdlers)
	}

	t.Run("exit of /bin/true", func(t *testing.T) {
		// Not PID 1: a plain child of the test, so a child subreaper
		// that walks its descendants when the main child has exited.
		out, err := exec.Command(pidone, "--log-level", "debug", "--", "/bin/true").CombinedOutput()
		if err != nil {
			t.Fatalf("pidone -- /bin/true: %v\n%s", err, out)
		}
		// Nothing is left below pidone, and its reaper knows it: the
		// walk reads nothing at all.
		found, reads := walks(t, string(out))
		for i := range reads {
			if found[i] != 0 || reads[i] != 0 {
				t.Errorf("walk %d: found %d processes in %d /proc reads, want 0 in 0: pidone has no child (%d processes on the host)",
					i, found[i], reads[i], hostProcesses(t))
			}
		}
	})

	t.Run("stop with descendants", func(t *testing.T) {
		// Two processes below the main child, one of them in a session
		// of its own: the walk finds them, and still reads only them.
		cmd := exec.Command(pidone, "--log-level", "debug", "--grace", "10s", "--",
			"/bin/sh", "-c", `sleep 600 & setsid sleep 600 & echo ready; wait`)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		buf := make([]byte, 6)
		if _, err := stdout.Read(buf); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(exitTimeout):
			t.Fatalf("pidone did not exit within %v of SIGTERM:\n%s", exitTimeout, stderr.String())
		}
		found, reads := walks(t, stderr.String())
		if found[0] != 3 {
			t.Errorf("first walk found %d processes, want 3 (the shell and its two sleeps)", found[0])
		}
		for i := range reads {
			if reads[i] > maxWalkReads {
				t.Errorf("walk %d: %d /proc reads, want at most %d (%d processes on the host)", i, reads[i], maxWalkReads, hostProcesses(t))
			}
		}
	})
}

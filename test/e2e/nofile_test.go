package e2e

import (
	"bytes"
	"errors"
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

// RLIMIT_NOFILE (issue 10, defect 2): pidone counts the descriptors it
// needs in each mode before it opens any. At the lowest limit that works it
// works; one below it exits 125 with a message naming RLIMIT_NOFILE and the
// number it needs; never a runtime crash (it was "fatal error: runtime:
// eventfd failed" and a goroutine dump, exit 2). Its children get the limit
// pidone inherited, not the one it raised for itself.

// shortLine is pidone's message when the limit is too low.
var shortLine = regexp.MustCompile(`RLIMIT_NOFILE is too low: .* raise it to at least (\d+) `)

// nofileArgs are workload confine's arguments for RLIMIT_NOFILE limit:limit.
func nofileArgs(limit int) []string {
	return []string{"-nofile", fmt.Sprintf("%d:%d", limit, limit)}
}

// nofileRun runs one mode under a descriptor limit and says how it ended:
// ok when it did its job, else pidone's exit code and stderr.
type nofileRun func(t *testing.T, limit int) (ok bool, code int, stderr []string)

// runUntilUp starts pidone args under limit and waits until up() holds (then
// stops it with SIGTERM, wanting exit 0) or pidone exits on its own.
func runUntilUp(t *testing.T, limit int, up func(p *nsInit) bool, args ...string) (bool, int, []string) {
	t.Helper()
	p := startConfined(t, nofileArgs(limit), args...)
	exited := func() bool {
		select {
		case <-p.done:
			return true
		default:
			return false
		}
	}
	wasUp := false
	eventually(t, exitTimeout, func() (bool, string) {
		wasUp = wasUp || up(p)
		return wasUp || exited(), "pidone neither exited nor got going"
	})
	if wasUp {
		p.signal(syscall.SIGTERM)
	}
	code := p.exitCode(exitTimeout)
	p.stderr.WaitEOF(t, exitTimeout)
	return wasUp && code == 0, code, p.stderr.Snapshot()
}

// TestLowDescriptorLimit finds, in each mode, the lowest RLIMIT_NOFILE
// pidone works with, from what it says it needs, and checks both sides of
// it. Below it, in single-command mode, is where starting the main child
// used to fail with EMFILE, reported as 126 (the command's fault) although
// it is pidone's own failure: 125.
func TestLowDescriptorLimit(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	started := regexp.MustCompile(`^worker start `)
	workersUp := func(n int) func(p *nsInit) bool {
		return func(p *nsInit) bool { return p.stdout.Count(started) >= n }
	}
	modes := []struct {
		name string
		run  nofileRun
	}{
		{"command", func(t *testing.T, limit int) (bool, int, []string) {
			p := startConfined(t, nofileArgs(limit), "--", workload, "exit", "3")
			code := p.exitCode(exitTimeout)
			p.stderr.WaitEOF(t, exitTimeout)
			return code == 3, code, p.stderr.Snapshot()
		}},
		{"pause", func(t *testing.T, limit int) (bool, int, []string) {
			pausing := regexp.MustCompile(`msg="pause: reaping`)
			return runUntilUp(t, limit, func(p *nsInit) bool { return p.stderr.Count(pausing) > 0 }, "-v", "--pause")
		}},
		{"workers", func(t *testing.T, limit int) (bool, int, []string) {
			return runUntilUp(t, limit, workersUp(4), "--workers", "4", "--", workload, "worker")
		}},
		{"workers with a pidfile", func(t *testing.T, limit int) (bool, int, []string) {
			pidfile := filepath.Join(t.TempDir(), "master.pid")
			written := func(p *nsInit) bool {
				_, err := os.Stat(pidfile)
				return workersUp(2)(p) && err == nil
			}
			return runUntilUp(t, limit, written, "--workers", "2", "--pidfile", pidfile, "--", workload, "worker")
		}},
		{"ctl", func(t *testing.T, limit int) (bool, int, []string) {
			pidone, _ := bins(t)
			pidfile := filepath.Join(t.TempDir(), "master.pid")
			writeFile(t, pidfile, "1\n") // a stale pidfile: read, its lock tested
			cmd := exec.Command(workload, append(append([]string{"confine"}, nofileArgs(limit)...),
				"--", pidone, "ctl", "status", "--pidfile", pidfile)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			code := cmd.ProcessState.ExitCode()
			return code == 1, code, strings.Split(stderr.String(), "\n") // 1: stale pidfile
		}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			// Start far too low; each refusal says what is needed. (A
			// descriptor inherited at a high number counts only once the
			// limit is above it, so the answer may take a few rounds.)
			limit, lowest := 4, 0
			var tried []int
			for try := 0; try < 8 && lowest == 0; try++ {
				tried = append(tried, limit)
				ok, code, stderr := m.run(t, limit)
				checkNoCrash(t, limit, stderr)
				if ok {
					lowest = limit
					break
				}
				need := needed(t, limit, code, stderr)
				if need <= limit {
					t.Fatalf("RLIMIT_NOFILE %d: pidone asks for at least %d, which it has", limit, need)
				}
				limit = need
			}
			if lowest == 0 {
				t.Fatalf("pidone did not work at the limit it asked for last (%d)", limit)
			}
			// Just below: refused, with the same number.
			ok, code, stderr := m.run(t, lowest-1)
			checkNoCrash(t, lowest-1, stderr)
			if ok {
				t.Fatalf("RLIMIT_NOFILE %d: worked, although at %d pidone said it needs %d", lowest-1, lowest, lowest)
			}
			if need := needed(t, lowest-1, code, stderr); need != lowest {
				t.Errorf("RLIMIT_NOFILE %d: pidone asks for %d, but works with %d", lowest-1, need, lowest)
			}
			t.Logf("%s: works with RLIMIT_NOFILE %d, exits 125 naming it at %d (limits tried: %v, then %d)", m.name, lowest, lowest-1, tried, lowest-1)
		})
	}
}

// needed checks that a run under limit failed as pidone's own failure with
// the RLIMIT_NOFILE message, and returns the number it asks for.
func needed(t *testing.T, limit, code int, stderr []string) int {
	t.Helper()
	for _, l := range stderr {
		if m := shortLine.FindStringSubmatch(l); m != nil {
			if code != 125 {
				t.Errorf("RLIMIT_NOFILE %d: exit code %d with %q, want 125", limit, code, l)
			}
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	t.Fatalf("RLIMIT_NOFILE %d: exit code %d without the RLIMIT_NOFILE message; stderr:\n%s", limit, code, strings.Join(stderr, "\n"))
	return 0
}

// checkNoCrash fails on a Go runtime crash in stderr.
func checkNoCrash(t *testing.T, limit int, stderr []string) {
	t.Helper()
	for _, l := range stderr {
		if strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "goroutine ") {
			t.Errorf("RLIMIT_NOFILE %d: the runtime crashed: %s", limit, l)
			return
		}
	}
}

// TestChildGetsTheDescriptorLimitPidoneInherited runs pidone with a soft
// RLIMIT_NOFILE below its hard limit: pidone raises its own soft limit (the
// Go runtime does, for itself), but the main child and each worker must
// start with the limits pidone was given.
func TestChildGetsTheDescriptorLimitPidoneInherited(t *testing.T) {
	t.Parallel()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skipf("a command that is not a Go program (they raise their own limit) is needed: %v", err)
	}
	const soft, hard = 100, 200
	for _, mode := range [][]string{{"--"}, {"--workers", "1", "--"}} {
		t.Run(mode[0], func(t *testing.T) {
			t.Parallel()
			p := startConfined(t, []string{"-nofile", fmt.Sprintf("%d:%d", soft, hard)}, append(mode, sleep, "60")...)
			var child int
			eventually(t, exitTimeout, func() (bool, string) {
				for _, pr := range nsProcs(t, p.pid) {
					if pr.ppid == p.pid {
						if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pr.pid)); strings.HasSuffix(exe, "/sleep") {
							child = pr.pid
						}
					}
				}
				return child != 0, "no sleep below pidone yet"
			})
			// The Go runtime raises it to the hard limit minus one
			// (syscall/rlimit.go).
			if s, h := nofileLimits(t, p.pid); s < hard-1 || h != hard {
				t.Errorf("pidone's own RLIMIT_NOFILE: %d:%d, want %d:%d (raised for itself)", s, h, hard-1, hard)
			}
			if s, h := nofileLimits(t, child); s != soft || h != hard {
				t.Errorf("the child's RLIMIT_NOFILE: %d:%d, want %d:%d (what pidone inherited)", s, h, soft, hard)
			}
			p.signal(syscall.SIGTERM)
			if code := p.exitCode(exitTimeout); code != 0 && code != 128+int(syscall.SIGTERM) {
				t.Errorf("after SIGTERM: exit code %d, want 0 (workers) or 143 (sleep killed by SIGTERM)", code)
			}
		})
	}
}

// nofileLimits reads the "Max open files" line of /proc/PID/limits.
func nofileLimits(t *testing.T, pid int) (soft, hard uint64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			soft, _ = strconv.ParseUint(f[0], 10, 64)
			hard, _ = strconv.ParseUint(f[1], 10, 64)
			return soft, hard
		}
	}
	t.Fatalf("no Max open files line in /proc/%d/limits", pid)
	return 0, 0
}

// TestSubreaperStopsEveryoneWithFewDescriptors stops pidone as a subreaper
// over more daemons than it has descriptors left. Its walk of the processes
// below it pins each with a pidfd; out of descriptors it must go on with
// start times rather than skip the rest: a skipped daemon got no SIGTERM,
// only SIGKILL after the grace period, or nothing at all (then pidone
// waited for it for ever). Every daemon must die of the SIGTERM. The limit is lowered on
// the running pidone (prlimit), so that the daemons, started by a Go
// program that needs descriptors of its own, are not held to it.
func TestSubreaperStopsEveryoneWithFewDescriptors(t *testing.T) {
	t.Parallel()
	pidone, workload := bins(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skipf("unshare (util-linux) is needed to mount the namespace's own /proc: %v", err)
	}
	const daemons = 20
	p := startInit(t, unshare, "--mount", "--mount-proc", "--", workload, "noreap", "--",
		pidone, "-w", "--grace", "2s", "--", workload, "daemons", strconv.Itoa(daemons), "-life", "1h")
	pidoneHost := noreapChild(t, p)
	p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^daemons started n=%d$`, daemons)), exitTimeout)
	// One descriptor number free below the limit: the lowest limit with
	// exactly one number below it that pidone does not use.
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pidoneHost))
	if err != nil {
		t.Fatal(err)
	}
	inUse := map[uint64]bool{}
	for _, e := range entries {
		n, _ := strconv.ParseUint(e.Name(), 10, 64)
		inUse[n] = true
	}
	limit, free := uint64(0), 0
	for ; free < 1 || inUse[limit]; limit++ {
		if !inUse[limit] {
			free++
		}
	}
	if err := unix.Prlimit(pidoneHost, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: limit, Max: limit}, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := unix.Kill(pidoneHost, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The daemons exit on SIGTERM: pidone exits as soon as they are gone.
	eventually(t, 2*time.Second+exitTimeout, func() (bool, string) {
		pr, err := readProc(pidoneHost)
		return err == nil && pr.state == "Z", fmt.Sprintf("pidone still running %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	})
	t.Logf("RLIMIT_NOFILE %d, %d daemons: SIGTERM to exit %v", limit, daemons, time.Since(start).Round(time.Millisecond))
	if n := p.stderr.Count(regexp.MustCompile(`msg="reaped orphan" pid=\d+ status="killed by SIGTERM"`)); n != daemons {
		t.Errorf("%d daemons died of the SIGTERM, want all %d", n, daemons)
	}
	if left := len(nsProcs(t, p.pid)); left != 2 {
		t.Errorf("%d processes left in the namespace, want 2 (noreap and pidone's zombie)", left)
	}
}

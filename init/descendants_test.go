package supervisor

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseStat(t *testing.T) {
	// Fields 3 on, as the kernel writes them: state, ppid, pgrp, session,
	// tty_nr, tpgid, flags, minflt, cminflt, majflt, cmajflt, utime, stime,
	// cutime, cstime, priority, nice, num_threads, itrealvalue, starttime.
	tail := " S 7 9 9 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 8192 100"
	for _, tc := range []struct {
		doc  string
		stat string
		want procInfo
		ok   bool
	}{
		{"plain", "42 (sleep)" + tail, procInfo{pid: 42, ppid: 7, pgrp: 9, comm: "sleep", state: "S", start: 123456}, true},
		{"comm with spaces and parentheses", "42 (a) b (c))" + tail, procInfo{pid: 42, ppid: 7, pgrp: 9, comm: "a) b (c)", state: "S", start: 123456}, true},
		{"zombie", "42 (x) Z 1" + tail[4:], procInfo{pid: 42, ppid: 1, pgrp: 9, comm: "x", state: "Z", start: 123456}, true},
		{"no parenthesis", "42 sleep S 7", procInfo{}, false},
		{"short", "42 (x) S 7 9", procInfo{}, false},
	} {
		got, err := parseStat(42, tc.stat)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s: parseStat = %+v, %v; want %+v, ok=%v", tc.doc, got, err, tc.want, tc.ok)
		}
	}
}

func TestProcIsOursHere(t *testing.T) {
	if err := procIsOurs(os.Getpid()); err != nil {
		t.Fatalf("the test runs in the namespace of its /proc: %v", err)
	}
}

// The sweeper tests run in a child copy of the test binary that is a child
// subreaper, like pidone below another init, so that signals and reaping
// stay within it.
const sweepHelperEnv = "SUPERVISOR_SWEEP_TEST_HELPER"

func sweepHelper(t *testing.T, name string, env []string, scenario func() error) {
	t.Helper()
	if os.Getenv(sweepHelperEnv) == name {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			fmt.Println("FAIL:", err)
			os.Exit(1)
		}
		if err := scenario(); err != nil {
			fmt.Println("FAIL:", err)
			os.Exit(1)
		}
		fmt.Println("OK")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), sweepHelperEnv+"="+name), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("helper %s: %v\n%s", name, err, out)
	}
}

// startTree starts a shell that leaves a child in its group and a setsid
// grandchild, all sleeping, and returns the shell's pid once all three
// exist.
func startTree() (int, error) {
	cmd := exec.Command("/bin/sh", "-c", `sleep 60 & setsid sleep 60 & echo started; wait`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	buf := make([]byte, 8)
	if _, err := io.ReadAtLeast(out, buf, len("started")); err != nil {
		return 0, err
	}
	return cmd.Process.Pid, nil
}

// below lists the live processes whose parent chain reaches pid.
func below(pid int) map[int]procInfo {
	var reads int
	procs, _ := readProcs(&reads)
	parent := map[int]int{}
	for _, p := range procs {
		parent[p.pid] = p.ppid
	}
	found := map[int]procInfo{}
	for _, p := range procs {
		for q := p.ppid; q > 1; q = parent[q] {
			if q == pid && p.state != "Z" {
				found[p.pid] = p
				break
			}
		}
	}
	return found
}

func reapAll(deadline time.Duration) {
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); err == unix.ECHILD {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSweepKillsEveryDescendantAndNothingElse(t *testing.T) {
	outsider := exec.Command("sleep", "60")
	if os.Getenv(sweepHelperEnv) == "" {
		if err := outsider.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			outsider.Process.Kill()
			outsider.Wait()
		}()
	}
	env := []string{"OUTSIDER=" + strconv.Itoa(pidOf(outsider))}
	sweepHelper(t, "kill", env, func() error {
		if _, err := startTree(); err != nil {
			return err
		}
		if n := len(below(os.Getpid())); n != 3 {
			return fmt.Errorf("%d processes below the helper before the sweep, want 3", n)
		}
		s := newSweeper(slog.New(slog.DiscardHandler), false, 0)
		if s.procErr != nil {
			return s.procErr
		}
		s.killAll()
		reapAll(5 * time.Second)
		if left := below(os.Getpid()); len(left) != 0 {
			return fmt.Errorf("left after killAll: %v", left)
		}
		outsider, _ := strconv.Atoi(os.Getenv("OUTSIDER"))
		if err := unix.Kill(outsider, 0); err != nil {
			return fmt.Errorf("the process outside the helper's subtree is gone: %v", err)
		}
		return nil
	})
	if err := outsider.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the outsider (pid %d) was signalled to death: %v", outsider.Process.Pid, err)
	}
}

func pidOf(cmd *exec.Cmd) int {
	if cmd.Process == nil {
		return 0
	}
	return cmd.Process.Pid
}

func TestCatchUpSignalsOnlyWhatExistedWhenTheStopBegan(t *testing.T) {
	sweepHelper(t, "catchup", nil, func() error {
		// An old process that ignores TERM: it gets the stop signal once,
		// however often the sweeper catches up.
		old := exec.Command("/bin/sh", "-c", `trap 'echo TERM' TERM; echo ready; while :; do sleep 0.05; done`)
		out, _ := old.StdoutPipe()
		if err := old.Start(); err != nil {
			return err
		}
		defer old.Process.Kill()
		buf := make([]byte, 6)
		if _, err := io.ReadFull(out, buf); err != nil {
			return err
		}
		s := newSweeper(slog.New(slog.DiscardHandler), false, 0)
		s.stopAll(unix.SIGTERM)
		// A process started after the stop (a shutdown hook, say) is
		// left alone: only SIGKILL at the end of the grace reaches it.
		time.Sleep(30 * time.Millisecond) // past the 10 ms tick of starttime
		late := exec.Command("sleep", "60")
		if err := late.Start(); err != nil {
			return err
		}
		defer late.Process.Kill()
		s.catchUp(unix.SIGTERM)
		s.catchUp(unix.SIGTERM)
		time.Sleep(200 * time.Millisecond)
		if err := late.Process.Signal(syscall.Signal(0)); err != nil {
			return fmt.Errorf("the process started after the stop got the stop signal: %v", err)
		}
		got := make([]byte, 64)
		old.Process.Kill()
		n, _ := io.ReadAtLeast(out, got, 1)
		if c := strings.Count(string(got[:n]), "TERM"); c != 1 {
			return fmt.Errorf("the old process got SIGTERM %d times, want once (output %q)", c, got[:n])
		}
		return nil
	})
}

func TestWalkDownFindsWhatTheScanFinds(t *testing.T) {
	sweepHelper(t, "walkdown", nil, func() error {
		shell, err := startTree()
		if err != nil {
			return err
		}
		defer func() {
			s := newSweeper(slog.New(slog.DiscardHandler), false, 0)
			s.killAll()
			reapAll(5 * time.Second)
		}()
		s := newSweeper(slog.New(slog.DiscardHandler), false, 0)
		if s.procErr != nil {
			return s.procErr
		}
		down, err := s.listChildren()
		if err != nil {
			return fmt.Errorf("listChildren: %v (a kernel without CONFIG_PROC_CHILDREN?)", err)
		}
		downReads := s.reads
		scan, err := s.listScan()
		if err != nil {
			return err
		}
		pids := func(ps []procInfo) map[int]bool {
			m := map[int]bool{}
			for _, p := range ps {
				m[p.pid] = true
			}
			return m
		}
		got, want := pids(down), pids(scan)
		if len(got) != 3 || !got[shell] || fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("walk down found %v, the scan %v; want the same 3, the shell %d among them", got, want, shell)
		}
		// Parents before children: the shell comes first.
		if down[0].pid != shell {
			return fmt.Errorf("walk down listed %d first, want the shell %d", down[0].pid, shell)
		}
		if scanReads := s.reads - downReads; downReads >= scanReads {
			return fmt.Errorf("walk down read %d /proc files, the scan %d: want fewer", downReads, scanReads)
		}
		return nil
	})
}

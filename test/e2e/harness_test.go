// Package e2e runs the real static pidone binary as PID 1 of fresh PID
// namespaces over the workload programs in ./workload, and checks what users
// see: exit codes, what the workloads received, pidone's log, and /proc.
//
// Environment (set by `make e2e`):
//
//	PIDONE_BIN    absolute path of the pidone binary under test
//	WORKLOAD_BIN  absolute path of the workload binary (make workload)
package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pidone/pidone/test/internal/lines"
	"github.com/pidone/pidone/test/internal/poll"
	"golang.org/x/sys/unix"
)

// bins returns the binaries under test. A test run without them fails
// rather than skipping: a skipped e2e suite would read as a passing one.
func bins(t *testing.T) (pidone, workload string) {
	t.Helper()
	pidone, workload = os.Getenv("PIDONE_BIN"), os.Getenv("WORKLOAD_BIN")
	if pidone == "" || workload == "" {
		t.Fatal("PIDONE_BIN and WORKLOAD_BIN are not set: run through `make e2e`")
	}
	return pidone, workload
}

// stormSlots keeps at most two orphan storms running at once: each keeps
// both cores busy for seconds, and more would only make timeouts flaky.
var stormSlots = make(chan struct{}, 2)

func stormSlot(t *testing.T) {
	stormSlots <- struct{}{}
	t.Cleanup(func() { <-stormSlots })
}

// nsInit is a process started as PID 1 of a fresh PID namespace.
type nsInit struct {
	t      *testing.T
	cmd    *exec.Cmd
	pid    int      // host pid
	stdin  *os.File // write end of its stdin
	stdout *lines.Reader
	stderr *lines.Reader
	done   chan struct{} // closed once cmd.Wait has returned
}

// startInit starts argv as PID 1 of a new PID namespace (plus a user
// namespace mapping us to root when we are not root), with its stdin, stdout
// and stderr on pipes. Cleanup SIGKILLs it, which kills the whole namespace.
func startInit(t *testing.T, argv ...string) *nsInit {
	t.Helper()
	return startInitEnv(t, nil, argv...)
}

// startInitEnv is startInit with env as PID 1's environment (nil: ours).
func startInitEnv(t *testing.T, env []string, argv ...string) *nsInit {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if os.Geteuid() != 0 {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
	}
	return startCmd(t, cmd, argv)
}

// needRoot skips a test that cannot work in the user namespace a run
// without root uses, saying why. `make test` (and CI) runs as root, where
// nothing skips.
func needRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root, not uid %d in a user namespace: %s", os.Geteuid(), why)
	}
}

// nsenterArgs returns nsenter's arguments up to "--" for joining the
// namespaces of host pid (flags: -p, -m). Without root, the PID namespace
// belongs to the user namespace startInitEnv made, which must be joined
// first; --preserve-credentials keeps our own uid rather than root's.
func nsenterArgs(pid int, flags ...string) []string {
	args := []string{"-t", strconv.Itoa(pid)}
	if os.Geteuid() != 0 {
		args = append(args, "-U", "--preserve-credentials")
	}
	return append(append(args, flags...), "--")
}

// startCmd starts cmd (argv, for messages) with its stdin, stdout and stderr
// on pipes; clean-up SIGKILLs it if it still runs.
func startCmd(t *testing.T, cmd *exec.Cmd, argv []string) *nsInit {
	t.Helper()
	inR, inW := pipe(t)
	outR, outW := pipe(t)
	errR, errW := pipe(t)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %q: %v", argv, err)
	}
	// Only the child keeps these ends: EOF on stdout/stderr then means
	// every process in the namespace has closed them.
	inR.Close()
	outW.Close()
	errW.Close()
	p := &nsInit{
		t:      t,
		cmd:    cmd,
		pid:    cmd.Process.Pid,
		stdin:  inW,
		stdout: lines.New("stdout", outR),
		stderr: lines.New("stderr", errR),
		done:   make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = unix.Kill(p.pid, unix.SIGKILL)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("PID 1 (host pid %d) still running 10s after SIGKILL", p.pid)
			}
		}
		if t.Failed() {
			t.Logf("%q\nstdout:\n%s\nstderr:\n%s", argv, p.stdout.Tail(30), p.stderr.Tail(30))
		}
		inW.Close()
		p.stdout.Close()
		p.stderr.Close()
	})
	return p
}

func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	return r, w
}

// startPidone starts pidone with args as PID 1 of a new PID namespace.
func startPidone(t *testing.T, args ...string) *nsInit {
	t.Helper()
	pidone, _ := bins(t)
	return startInit(t, append([]string{pidone}, args...)...)
}

// signal sends sig to the namespace's PID 1 from outside.
func (p *nsInit) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := unix.Kill(p.pid, sig); err != nil {
		p.t.Fatalf("kill(%d, %v): %v", p.pid, sig, err)
	}
}

// closeStdin closes the write end of PID 1's stdin: the workloads take EOF
// as their cue to finish.
func (p *nsInit) closeStdin() {
	p.t.Helper()
	if err := p.stdin.Close(); err != nil {
		p.t.Fatalf("close stdin: %v", err)
	}
}

// exitCode waits for PID 1 to exit and returns its exit status. Dying from
// a signal fails the test: pidone must always exit with a status.
func (p *nsInit) exitCode(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("PID 1 did not exit within %v; stderr:\n%s", timeout, p.stderr.Tail(20))
	}
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		p.t.Fatalf("PID 1 died from signal %v (%d), want an exit status; stderr:\n%s",
			ws.Signal(), int(ws.Signal()), p.stderr.Tail(20))
	}
	return ws.ExitStatus()
}

// run starts pidone with args in a new PID namespace and returns its exit
// code and the complete stdout and stderr.
func run(t *testing.T, timeout time.Duration, args ...string) (code int, stdout, stderr []string) {
	t.Helper()
	p := startPidone(t, args...)
	p.closeStdin()
	code = p.exitCode(timeout)
	p.stdout.WaitEOF(t, timeout)
	p.stderr.WaitEOF(t, timeout)
	return code, p.stdout.Snapshot(), p.stderr.Snapshot()
}

// proc is one process seen in /proc from the host.
type proc struct {
	pid, ppid int
	state     string // proc(5): R, S, D, Z, ...
	exitCode  int    // the wait status, meaningful for a zombie
}

// readProc parses /proc/PID/stat.
func readProc(pid int) (proc, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return proc{}, err
	}
	// comm (field 2) may contain spaces and ')', so split after the last ')'.
	s := string(b)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return proc{}, fmt.Errorf("malformed /proc/%d/stat: %q", pid, s)
	}
	f := strings.Fields(s[end+1:]) // f[0] is field 3 (state)
	if len(f) < 50 {
		return proc{}, fmt.Errorf("short /proc/%d/stat: %q", pid, s)
	}
	p := proc{pid: pid, state: f[0]}
	p.ppid, _ = strconv.Atoi(f[1])
	p.exitCode, _ = strconv.Atoi(f[49]) // field 52, exit_code
	return p, nil
}

// nsProcs lists the processes (host pids) in the PID namespace whose init
// has host pid initPid, zombies included, by comparing /proc/PID/ns/pid.
func nsProcs(t *testing.T, initPid int) []proc {
	t.Helper()
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", initPid))
	if err != nil {
		t.Fatalf("pid namespace of %d: %v", initPid, err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var procs []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		// Processes come and go during the scan; skip those already gone.
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err != nil || link != ns {
			continue
		}
		if p, err := readProc(pid); err == nil {
			procs = append(procs, p)
		}
	}
	return procs
}

// zombies returns the zombies among procs.
func zombies(procs []proc) []proc {
	var z []proc
	for _, p := range procs {
		if p.state == "Z" {
			z = append(z, p)
		}
	}
	return z
}

// nsPidOf returns the pid of host pid within its own (innermost) PID
// namespace, from the NSpid line of /proc/PID/status.
func nsPidOf(hostPid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", hostPid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "NSpid:" {
			return strconv.Atoi(f[len(f)-1])
		}
	}
	return 0, errors.New("no NSpid line")
}

// eventually polls cond until it holds, failing the test with cond's last
// description after timeout. Every cond here reads /proc or lines already
// read, so polling often costs little and keeps the tests quick.
func eventually(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	poll.Until(t, timeout, 20*time.Millisecond, cond)
}

// forwardable lists the signals pidone promises to forward (the contract):
// 1..31 without SIGKILL, SIGSTOP (nobody can catch them), SIGCHLD (never
// forwarded) and SIGPROF (the Go runtime's profiler signal), plus the
// realtime signals 35..64 (32..34 are reserved by the Go runtime).
func forwardable() []syscall.Signal {
	var sigs []syscall.Signal
	for n := syscall.Signal(1); n <= 64; n++ {
		switch n {
		case unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD, unix.SIGPROF, 32, 33, 34:
			continue
		}
		sigs = append(sigs, n)
	}
	return sigs
}

// reapedText matches pidone's text log line for one reaped orphan.
var reapedText = regexp.MustCompile(`msg="reaped orphan"`)

// Command helper is the Docker tier's own small static program, for what
// the e2e workload (test/e2e/workload) does not do. Subcommands:
//
//	sleep           put SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2
//	                back to SIG_DFL, print "ready", sleep until a signal kills it
//	worker          print "worker <pid> ready", then "worker <pid> <signum>"
//	                for every SIGHUP, SIGUSR1 or SIGUSR2; exit 0 on SIGTERM or SIGINT
//	kill SIG PID... send SIG (a number or a name such as KILL) to each PID
//	zombied         start a daemon (double fork, setsid) that leaves a child
//	                of its own unreaped, and exit 0 once that child is a
//	                zombie; the daemon then sleeps until a signal kills it
//
// sleep is the service that never installs a handler, like a shell script
// or most C programs: as the main child of an init it dies on SIGTERM, but
// as PID 1 of a container the kernel drops every signal whose disposition
// is SIG_DFL (pid_namespaces(7)), so `docker stop` waits for its timeout and
// then SIGKILLs it. A plain Go program cannot show that: the runtime
// installs a SIGTERM handler of its own and exits 2 (golang/go#13484).
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "sleep":
		err = sleep()
	case "worker":
		err = worker()
	case "kill":
		err = kill(os.Args[2:])
	case "zombied":
		err = zombied()
	case "zombied-middle":
		err = zombiedMiddle()
	case "zombied-daemon":
		err = zombiedDaemon()
	case "zombied-child":
		// The daemon's child: exit at once, to be left a zombie.
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "helper %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: helper sleep | worker | kill SIG PID... | zombied")
	os.Exit(2)
}

// defaultSignals are the signals sleep puts back to SIG_DFL.
var defaultSignals = []syscall.Signal{
	syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP,
	syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
}

func sleep() error {
	// The thread that unblocks the signals is the one that stays in pause.
	runtime.LockOSThread()
	// A zeroed kernel struct sigaction (handler, flags, restorer, mask: 32
	// bytes on amd64 and arm64) is SIG_DFL. signal.Reset would only give the
	// runtime's own handler back, which is not the same thing.
	var dfl [4]uint64
	var set unix.Sigset_t
	for _, sig := range defaultSignals {
		if _, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig),
			uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0); errno != 0 {
			return fmt.Errorf("rt_sigaction(%d): %w", sig, errno)
		}
		set.Val[(sig-1)/64] |= 1 << ((uint(sig) - 1) % 64)
	}
	if err := unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil); err != nil {
		return fmt.Errorf("rt_sigprocmask: %w", err)
	}
	fmt.Println("ready")
	for {
		// pause(2) keeps this goroutine in a system call, so the runtime
		// never reports a deadlock.
		_ = unix.Pause()
	}
}

func worker() error {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT)
	pid := os.Getpid()
	fmt.Printf("worker %d ready\n", pid)
	for s := range sigs {
		sig := s.(syscall.Signal)
		if sig == syscall.SIGTERM || sig == syscall.SIGINT {
			fmt.Printf("worker %d exit %d\n", pid, sig)
			return nil
		}
		fmt.Printf("worker %d %d\n", pid, sig)
	}
	return nil
}

func kill(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: kill SIG PID...")
	}
	sig, err := parseSignal(args[0])
	if err != nil {
		return err
	}
	for _, a := range args[1:] {
		pid, err := strconv.Atoi(a)
		if err != nil || pid <= 0 {
			return fmt.Errorf("pid %q is not a positive number", a)
		}
		if err := unix.Kill(pid, sig); err != nil {
			return fmt.Errorf("kill %d: %w", pid, err)
		}
	}
	return nil
}

func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	if sig := unix.SignalNum("SIG" + s); sig != 0 {
		return sig, nil
	}
	if sig := unix.SignalNum(s); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// zombied is the careless daemon of the exit report's tests (issue 21): it
// double-forks (zombied-middle calls setsid and starts zombied-daemon:
// the helper re-executed by its own path, so its comm stays "helper"), so
// the daemon is re-parented to the init once the middle exits, and the
// daemon starts a child it never waits for. zombied exits 0 only after the
// daemon has said, on the pipe at descriptor 3, that its child is a zombie:
// when the main child ends, the init finds the daemon alive and its child
// already dead, never a process half started.
func zombied() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	middle := exec.Command(self, "zombied-middle")
	middle.Stderr, middle.ExtraFiles = os.Stderr, []*os.File{w}
	if err := middle.Run(); err != nil {
		return fmt.Errorf("zombied-middle: %w", err)
	}
	w.Close()
	line, err := bufio.NewReader(r).ReadString('\n')
	if line != "ready\n" {
		return fmt.Errorf("the daemon did not get ready: %q %v", line, err)
	}
	fmt.Println("zombied: daemon started")
	return nil
}

// zombiedMiddle is the first fork: a new session, the daemon started in
// it, and an exit that orphans the daemon.
func zombiedMiddle() error {
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	daemon := exec.Command(self, "zombied-daemon")
	daemon.Stderr, daemon.ExtraFiles = os.Stderr, []*os.File{os.NewFile(3, "ready")}
	return daemon.Start()
}

// zombiedDaemon starts its child, waits until the kernel has made it a
// zombie (waitid with WNOWAIT: the event, without reaping it), says ready,
// and sleeps. SIGTERM is the Go runtime's default, which kills it.
func zombiedDaemon() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, "zombied-child")
	if err := child.Start(); err != nil {
		return err
	}
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, child.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil {
		return fmt.Errorf("waitid: %w", err)
	}
	ready := os.NewFile(3, "ready")
	fmt.Fprintln(ready, "ready")
	ready.Close()
	for {
		_ = unix.Pause()
	}
}

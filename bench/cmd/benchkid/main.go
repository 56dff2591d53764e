// Command benchkid is the child process the benchmark runs under each init
// (pidone, tini, dumb-init, catatonit). One static binary, the role in
// os.Args[1]:
//
//	gate CMD [ARGS...]  write "R\n" to stdout, wait for one byte on stdin, then
//	                    exec CMD: lets the harness read the init's CPU time
//	                    after the init has finished starting and before the
//	                    workload begins
//	echo                write "R\n", then answer every SIGUSR1 with one byte
//	                    "x" on stdout (the signal round-trip probe)
//	idle                echo, and for every SIGUSR2 make one orphan (a child
//	                    that forks a grandchild and exits, the grandchild
//	                    exiting at once: the init adopts and reaps it), then
//	                    write "o" (the idle-cost child: it never wakes up
//	                    on its own)
//	hang                write "R\n", then sleep in pause(2) forever without
//	                    waking up (the idle-cost child)
//	procns CMD [ARGS]   as PID 1 of new PID and mount namespaces: mount a
//	                    fresh /proc (as a container has) and exec CMD, which
//	                    keeps PID 1; the harness starts every init this way
//	worker              a worker for pidone --workers: write "W" on start and
//	                    "H" for every SIGHUP (taken as echo takes SIGUSR1),
//	                    one line each, on stdout
//	mininit CMD [ARGS]  the least a Go init can be: start CMD with
//	                    syscall.ForkExec, wait for it, exit with its status;
//	                    no signals, no logging (the start-up floor of the Go
//	                    runtime, for comparison only)
//	minfwd CMD [ARGS]   mininit plus the least forwarding a Go init can do
//	                    without losing a signal: every signal pidone
//	                    forwards registered with os/signal before the
//	                    child starts, the child in its own process group,
//	                    the main thread waiting in rt_sigtimedwait and
//	                    sending to the group, os/signal for a signal that
//	                    arrives while it is busy (the start-up and latency
//	                    floors of a Go init built like pidone, for
//	                    comparison only)
//	minreg, minfork, minexact CMD [ARGS]
//	                    mininit with parts of issue 14's design added, run
//	                    under those names only (floors.go)
//	noterm              like hang, but with SIGTERM at its default action, as
//	                    a C program that never installs a handler has it: as
//	                    PID 1 of a container the kernel ignores SIGTERM for
//	                    such a process; under an init it dies of it
//
// Every role writes its line "R" only once it is ready, so the harness never
// measures a child that is still starting.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maskedEnv marks the second stage of echo: the re-executed copy that
// starts with SIGUSR1 already blocked on every thread.
const maskedEnv = "BENCHKID_MASKED"

func main() {
	switch name := filepath.Base(os.Args[0]); name {
	case "minreg", "minfork", "minexact":
		// The floors of floors.go, installed under their names.
		if err := floorInit(name, os.Args[1:]); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(1)
		}
	case "mininit", "minfwd":
		// Installed under that name, it takes the init's place in the
		// harness (pidbench -variant floor=PATH-TO-mininit).
		os.Args = append([]string{os.Args[0], name}, os.Args[1:]...)
	}
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "gate":
		err = gate(os.Args[2:])
	case "echo":
		err = echo(false)
	case "idle":
		err = echo(true)
	case "hang":
		ready()
		hang()
	case "procns":
		err = procNS(os.Args[2:])
	case "worker":
		err = worker()
	case "mininit":
		err = minInit(os.Args[2:], false)
	case "minfwd":
		err = minInit(os.Args[2:], true)
	case "noterm":
		err = defaultTerm()
		if err == nil {
			ready()
			hang()
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchkid %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchkid gate CMD [ARGS...] | echo | idle | hang | noterm | procns CMD | worker | mininit CMD | minfwd CMD")
	os.Exit(2)
}

// ready tells the harness, on stdout, that this child is set up.
func ready() {
	if _, err := unix.Write(1, []byte("R\n")); err != nil {
		os.Exit(1)
	}
}

// hang sleeps until a signal kills the process. pause(2) never returns for
// a signal the Go runtime merely records, so it loops.
func hang() {
	for {
		unix.Pause()
	}
}

func gate(argv []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("gate needs a command")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	ready()
	var b [1]byte
	for {
		n, err := unix.Read(0, b[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || n != 1 {
			return fmt.Errorf("gate: no start byte on stdin (n=%d, err=%v)", n, err)
		}
		break
	}
	return syscall.Exec(path, argv, os.Environ())
}

// echo answers each SIGUSR1 with one byte on stdout, and with orphans
// each SIGUSR2 with an orphan for the init to reap.
//
// A Go program that catches a signal with os/signal hands it from the
// runtime's handler to a goroutine over two thread wake-ups, which would add
// its own noise to every round trip. So the probe takes SIGUSR1
// synchronously with rt_sigtimedwait on one thread, which only works if
// every thread of the process blocks SIGUSR1. The runtime starts each new
// thread with the signal mask the process was exec'd with, so the first
// stage blocks SIGUSR1 and re-executes itself; the second stage then has it
// blocked everywhere.
func echo(orphans bool) error {
	var set unix.Sigset_t
	set.Val[0] = 1 << (unix.SIGUSR1 - 1)
	if orphans {
		set.Val[0] |= 1 << (unix.SIGUSR2 - 1)
	}
	if err := blockEverywhere(&set); err != nil {
		return err
	}
	ready()
	answer := []byte{'x'}
	for {
		sig, err := takeSignal(&set)
		if err != nil {
			return err
		}
		if sig == unix.SIGUSR2 {
			if err := orphan(); err != nil {
				return err
			}
			continue
		}
		if _, err := unix.Write(1, answer); err != nil {
			return err
		}
	}
}

// blockEverywhere returns once every thread of this process blocks set:
// the first stage blocks it on its thread and re-executes itself (execve
// keeps the mask), and the Go runtime starts every thread of the second
// stage with the mask the process was exec'd with. It returns the second
// stage, with its thread locked, for takeSignal.
func blockEverywhere(set *unix.Sigset_t) error {
	runtime.LockOSThread()
	if os.Getenv(maskedEnv) != "" {
		return nil
	}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, set, nil); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(self, os.Args, append(os.Environ(), maskedEnv+"=1"))
}

// takeSignal sleeps until a signal in set is pending and takes it.
func takeSignal(set *unix.Sigset_t) (unix.Signal, error) {
	for {
		sig, _, errno := unix.Syscall6(unix.SYS_RT_SIGTIMEDWAIT, uintptr(unsafe.Pointer(set)),
			0, 0, kernelSigsetSize, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, os.NewSyscallError("rt_sigtimedwait", errno)
		}
		return unix.Signal(sig), nil
	}
}

// orphan makes one orphan for the init: a child that forks a grandchild
// and exits at once, so that the grandchild (which exits at once too) is
// re-parented to the init. Once the child is reaped, the grandchild is the
// init's, and "o" tells the harness to watch the init reap it.
func orphan() error {
	pid, errno := forkOrphan()
	if errno != 0 {
		return os.NewSyscallError("clone", errno)
	}
	if _, err := wait4(pid); err != nil {
		return err
	}
	_, err := unix.Write(1, []byte{'o'})
	return err
}

// forkOrphan forks a child that forks a grandchild, and both exit at once.
// A forked copy of a Go program may run no Go code (no runtime threads), so
// the child runs only raw system calls from this nosplit function. Every
// signal the harness sends is blocked in this process, and stays blocked
// in both.
//
//go:nosplit
func forkOrphan() (int, syscall.Errno) {
	pid, _, errno := syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	if pid == 0 {
		syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
	return int(pid), 0
}

// wait4 waits for pid, retrying on EINTR.
func wait4(pid int) (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err != unix.EINTR {
			return ws, err
		}
	}
}

// kernelSigsetSize is _NSIG/8, the sigset size every rt_sig* call takes.
const kernelSigsetSize = 8

// kernelSigaction is struct sigaction as rt_sigaction(2) takes it on Linux
// (handler, flags, restorer, mask).
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// defaultTerm puts SIGTERM back to SIG_DFL behind the Go runtime's back: the
// runtime installs its own handler for every signal, and a Go program that
// gets an unhandled SIGTERM as PID 1 still exits (golang/go#13484), unlike a
// C program.
func defaultTerm() error {
	sa := kernelSigaction{} // SIG_DFL
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGTERM),
		uintptr(unsafe.Pointer(&sa)), 0, kernelSigsetSize, 0, 0)
	if errno != 0 {
		return os.NewSyscallError("rt_sigaction", errno)
	}
	return nil
}

// initCommand takes an init's command line apart: an optional "--", then
// the command, looked up in PATH.
func initCommand(name string, argv []string) (path string, args []string, err error) {
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return "", nil, fmt.Errorf("%s needs a command", name)
	}
	path, err = exec.LookPath(argv[0])
	return path, argv, err
}

func minInit(argv []string, forward bool) error {
	path, argv, err := initCommand("mininit", argv)
	if err != nil {
		return err
	}
	var busy chan os.Signal
	var set unix.Sigset_t
	if forward {
		runtime.LockOSThread()
		busy = make(chan os.Signal, 64)
		for sig := unix.Signal(1); sig <= 64; sig++ {
			switch {
			case sig == unix.SIGKILL, sig == unix.SIGSTOP, sig == unix.SIGCHLD, sig == unix.SIGPROF, sig >= 32 && sig <= 34:
				continue // what pidone cannot catch or does not forward
			}
			signal.Notify(busy, sig)
			switch sig {
			case unix.SIGILL, unix.SIGTRAP, unix.SIGBUS, unix.SIGFPE, unix.SIGSEGV, unix.SIGSYS, unix.SIGPIPE:
			default:
				set.Val[0] |= 1 << (sig - 1)
			}
		}
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{Setpgid: forward}})
	if err != nil {
		return err
	}
	if forward {
		go waitFor(pid)
		go func() {
			for sig := range busy {
				_ = unix.Kill(-pid, sig.(unix.Signal))
			}
		}()
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
			return err
		}
		for {
			sig, _, errno := unix.Syscall6(unix.SYS_RT_SIGTIMEDWAIT, uintptr(unsafe.Pointer(&set)),
				0, 0, kernelSigsetSize, 0, 0)
			if errno == 0 {
				_ = unix.Kill(-pid, unix.Signal(sig))
			}
		}
	}
	waitFor(pid)
	return nil
}

// waitFor reaps every child until pid exits, then exits with its status.
func waitFor(pid int) {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchkid: wait4: %v\n", err)
			os.Exit(1)
		}
		if got == pid {
			os.Exit(ws.ExitStatus())
		}
	}
}

func procNS(argv []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("procns needs a command")
	}
	// Private, so that the new /proc does not propagate to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return os.NewSyscallError("mount(MS_PRIVATE)", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return os.NewSyscallError("mount(proc)", err)
	}
	return syscall.Exec(argv[0], argv, os.Environ())
}

// worker writes "W" as soon as it runs (the first stage: a respawned
// worker is running), then answers each SIGHUP with "H", taken
// synchronously as echo takes SIGUSR1, so that the reload fan-out measures
// the master and the kernel, not the Go runtime's signal hand-offs in 256
// workers.
func worker() error {
	if os.Getenv(maskedEnv) == "" {
		if _, err := unix.Write(1, []byte("W\n")); err != nil {
			return err
		}
	}
	var set unix.Sigset_t
	set.Val[0] = 1 << (unix.SIGHUP - 1)
	if err := blockEverywhere(&set); err != nil {
		return err
	}
	for {
		if _, err := takeSignal(&set); err != nil {
			return err
		}
		if _, err := unix.Write(1, []byte("H\n")); err != nil {
			return err
		}
	}
}

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
//	hang                write "R\n", then sleep in pause(2) forever without
//	                    waking up (the idle-cost child)
//	procns CMD [ARGS]   as PID 1 of new PID and mount namespaces: mount a
//	                    fresh /proc (as a container has) and exec CMD, which
//	                    keeps PID 1; the harness starts every init this way
//	worker              a worker for pidone --workers: write "W" on start and
//	                    "H" for every SIGHUP, one line each, on stdout
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
	if name := filepath.Base(os.Args[0]); name == "mininit" || name == "minfwd" {
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
		err = echo()
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
	fmt.Fprintln(os.Stderr, "usage: benchkid gate CMD [ARGS...] | echo | hang | noterm")
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

// echo answers each SIGUSR1 with one byte on stdout.
//
// A Go program that catches a signal with os/signal hands it from the
// runtime's handler to a goroutine over two thread wake-ups, which would add
// its own noise to every round trip. So the probe takes SIGUSR1
// synchronously with rt_sigtimedwait on one thread, which only works if
// every thread of the process blocks SIGUSR1. The runtime starts each new
// thread with the signal mask the process was exec'd with, so the first
// stage blocks SIGUSR1 and re-executes itself; the second stage then has it
// blocked everywhere.
func echo() error {
	runtime.LockOSThread()
	var set unix.Sigset_t
	set.Val[0] = 1 << (unix.SIGUSR1 - 1)
	if os.Getenv(maskedEnv) == "" {
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
			return err
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		return syscall.Exec(self, os.Args, append(os.Environ(), maskedEnv+"=1"))
	}
	ready()
	answer := []byte{'x'}
	for {
		_, _, errno := unix.Syscall6(unix.SYS_RT_SIGTIMEDWAIT, uintptr(unsafe.Pointer(&set)),
			0, 0, kernelSigsetSize, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return os.NewSyscallError("rt_sigtimedwait", errno)
		}
		if _, err := unix.Write(1, answer); err != nil {
			return err
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

func minInit(argv []string, forward bool) error {
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return fmt.Errorf("mininit needs a command")
	}
	path, err := exec.LookPath(argv[0])
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

func worker() error {
	hup := make(chan os.Signal, 16)
	signal.Notify(hup, syscall.SIGHUP)
	if _, err := unix.Write(1, []byte("W\n")); err != nil {
		return err
	}
	for range hup {
		if _, err := unix.Write(1, []byte("H\n")); err != nil {
			return err
		}
	}
	return nil
}

package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The parts of issue 14's design, each added alone to mininit, so that
// the start-up table can say what each costs a Go init (docs/performance.md):
//
//	minreg    mininit, plus the signals a Go init with pidone's entry point
//	          must still register with os/signal before its child starts
//	          (the ones the runtime unblocks on every thread)
//	minfork   mininit, but the child comes from a plain fork (clone with
//	          SIGCHLD only, so that it cannot write the parent's memory),
//	          not from syscall.ForkExec's CLONE_VM|CLONE_VFORK
//	minexact  both: the least a Go init built as issue 14 asks can cost
func floorInit(name string, argv []string) error {
	path, argv, err := initCommand(name, argv)
	if err != nil {
		return err
	}
	if name == "minreg" || name == "minexact" {
		caught := make(chan os.Signal, 64)
		signal.Notify(caught, unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGILL, unix.SIGTRAP, unix.SIGABRT,
			unix.SIGBUS, unix.SIGFPE, unix.SIGSEGV, unix.SIGPIPE, unix.SIGTERM, unix.SIGSTKFLT, unix.SIGSYS)
	}
	var pid int
	if name == "minfork" || name == "minexact" {
		pid, err = plainForkExec(path, argv, os.Environ())
	} else {
		pid, err = syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}})
	}
	if err != nil {
		return err
	}
	waitFor(pid)
	return nil
}

// plainForkExec starts path with a plain fork and returns once the child
// has exec'd (its end of a close-on-exec pipe is closed), as pidone's spawn
// does, with none of its set-up.
func plainForkExec(path string, argv, env []string) (int, error) {
	p := &forkPlan{}
	var err error
	if p.path, err = syscall.BytePtrFromString(path); err != nil {
		return 0, err
	}
	if p.argv, err = syscall.SlicePtrFromStrings(argv); err != nil {
		return 0, err
	}
	if p.env, err = syscall.SlicePtrFromStrings(env); err != nil {
		return 0, err
	}
	var pipe [2]int
	syscall.ForkLock.Lock()
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		syscall.ForkLock.Unlock()
		return 0, err
	}
	pid, errno := plainFork(p)
	syscall.ForkLock.Unlock()
	unix.Close(pipe[1])
	defer unix.Close(pipe[0])
	if errno != 0 {
		return 0, errno
	}
	var b [1]byte
	if n, _ := unix.Read(pipe[0], b[:]); n != 0 {
		return 0, fmt.Errorf("exec %s failed", path)
	}
	return int(pid), nil
}

type forkPlan struct {
	path      *byte
	argv, env []*byte
}

// plainFork forks; the child execs p or exits 127 (writing a byte to the
// pipe is left out: a failed exec shows as the exit status).
//
//go:noinline
//go:nosplit
//go:norace
func plainFork(p *forkPlan) (uintptr, syscall.Errno) {
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 || pid != 0 {
		return pid, errno
	}
	syscall.RawSyscall6(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(p.path)),
		uintptr(unsafe.Pointer(&p.argv[0])), uintptr(unsafe.Pointer(&p.env[0])), 0, 0, 0)
	for {
		syscall.RawSyscall6(syscall.SYS_EXIT_GROUP, 127, 0, 0, 0, 0, 0)
	}
}

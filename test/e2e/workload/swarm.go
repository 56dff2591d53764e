package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// runSwarm is a main child that leaves -n sleepers behind it as cheaply as
// the machine allows (the exit report's 10,000 leftovers, issue 21): each
// is a bare fork of this process (fork_linux.go's discipline: raw system
// calls only) that puts SIGTERM back to its default action, unblocks it
// and sleeps, so pidone's stop kills it. With -zombie each sleeper first
// forks a child that exits at once and is never reaped: a daemon that
// leaves its own zombie. It prints "swarm N ready" and exits -code once
// every sleeper is in place (with -zombie: once each one's child is a
// zombie); with -stamp the line ends with the monotonic clock's reading
// just before the exit, for make bench to time the init's exit from.
func runSwarm(args []string) error {
	fs := flag.NewFlagSet("swarm", flag.ContinueOnError)
	n := fs.Int("n", 1, "sleepers")
	zombie := fs.Bool("zombie", false, "each sleeper keeps an unreaped zombie child")
	code := fs.Int("code", 0, "exit status")
	stamp := fs.Bool("stamp", false, "end the ready line with mono=NS, CLOCK_MONOTONIC just before the exit (make bench's report group)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	err = withSignalsBlocked(func() error {
		for i := 0; i < *n; i++ {
			if _, errno := forkSleeper(*zombie, int(w.Fd())); errno != 0 {
				return fmt.Errorf("fork %d of %d: %w", i+1, *n, errno)
			}
		}
		return nil
	})
	w.Close()
	if err != nil {
		return err
	}
	if *zombie {
		// One byte from each sleeper once its child is a zombie.
		b := make([]byte, *n)
		if _, err := io.ReadFull(r, b); err != nil {
			return fmt.Errorf("sleepers' zombies: %w", err)
		}
	}
	if !*stamp {
		fmt.Printf("swarm %d ready\n", *n)
		os.Exit(*code)
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return err
	}
	fmt.Printf("swarm %d ready mono=%d\n", *n, ts.Nano())
	os.Exit(*code)
	return nil
}

// What the forked sleepers read: package variables, as a forked child may
// not allocate.
var (
	swarmDefault [4]uint64 // a kernel struct sigaction, all zero: SIG_DFL
	swarmTerm    = uint64(1) << (unix.SIGTERM - 1)
	swarmNap     = syscall.Timespec{Sec: 3600}
	swarmInfo    [128]byte // a siginfo_t
	swarmReady   = [1]byte{'z'}
)

// forkSleeper forks one sleeper (see runSwarm). The child never returns.
//
//go:nosplit
func forkSleeper(zombie bool, readyFD int) (int, syscall.Errno) {
	pid, _, errno := syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	if pid != 0 {
		return int(pid), 0
	}
	// Go's handler for SIGTERM must never run here: back to SIG_DFL first,
	// then unblock (a SIGTERM already pending then kills at once).
	syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(syscall.SIGTERM), uintptr(unsafe.Pointer(&swarmDefault)), 0, 8, 0, 0)
	if zombie {
		gpid, _, errno := syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
		if errno != 0 {
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 1, 0, 0)
		}
		if gpid == 0 {
			syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
		}
		// WNOWAIT: wait until it is a zombie, and leave it one.
		syscall.RawSyscall6(syscall.SYS_WAITID, unix.P_PID, gpid, uintptr(unsafe.Pointer(&swarmInfo)), unix.WEXITED|unix.WNOWAIT, 0, 0)
		syscall.RawSyscall(syscall.SYS_WRITE, uintptr(readyFD), uintptr(unsafe.Pointer(&swarmReady)), 1)
	}
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(readyFD), 0, 0)
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, unix.SIG_UNBLOCK, uintptr(unsafe.Pointer(&swarmTerm)), 0, 8, 0, 0)
	for {
		syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&swarmNap)), 0, 0)
	}
}

package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
	"unsafe"

	"github.com/pidone/pidone/internal/threads"
	"golang.org/x/sys/unix"
)

// runForkbomb is a fork bomb under a leader that reports signals. The leader
// prints "forkbomb ready pid=P", starts the bomb, then prints "forkbomb sig
// N" for every standard signal it receives and exits -code on SIGTERM.
//
// The first bomb process forks for ever, so that the bomb never dies out,
// and reaps its own children (else they would fill the limit as its
// zombies); theirs are orphans for the init. Each other bomb process forks -fanout children and then exits, and every
// child does the same: the population grows until fork fails (EAGAIN, a pids
// limit), and from then on stays at the limit, each exit (an orphan for the
// init to reap) making room for the next fork. A failed fork is retried
// after a millisecond, ten times; then the process exits all the same, so
// that a full limit never freezes the churn. The bomb processes run raw system calls
// only (fork_linux.go's discipline) with every signal blocked, so only
// SIGKILL ends them.
func runForkbomb(args []string) error {
	fs := flag.NewFlagSet("forkbomb", flag.ContinueOnError)
	fanout := fs.Int("fanout", 2, "children each bomb process forks before it exits")
	code := fs.Int("code", 0, "exit status on SIGTERM")
	life := fs.Duration("for", 0, "end the bomb after this long (0: never)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sigs := make(chan os.Signal, 64)
	var standard []os.Signal
	for _, s := range forwardable() {
		if s.(syscall.Signal) < rtFirst {
			standard = append(standard, s)
		}
	}
	signal.Notify(sigs, standard...)
	// The leader is a Go program under the bomb's pids limit too: it needs
	// its threads before the bomb takes every one (as pidone does).
	threads.Reserve(2, 16)
	fmt.Printf("forkbomb ready pid=%d\n", os.Getpid())

	bombFanout = *fanout
	var seed int
	err := withSignalsBlocked(func() error {
		pid, errno := forkBomb()
		if errno != 0 {
			return fmt.Errorf("clone: %w", errno)
		}
		seed = pid
		return nil
	})
	if err != nil {
		return err
	}
	// The seed is ours: reap it, so that it is not a zombie for the
	// whole test. Its children are the init's.
	go func() {
		var ws unix.WaitStatus
		for {
			if _, err := unix.Wait4(seed, &ws, 0, nil); err != unix.EINTR {
				return
			}
		}
	}()
	var over <-chan time.Time
	if *life > 0 {
		over = time.After(*life)
	}
	for {
		select {
		case s := <-sigs:
			fmt.Printf("forkbomb sig %d\n", s.(syscall.Signal))
			if s == syscall.SIGTERM {
				os.Exit(*code)
			}
		case <-over:
			fmt.Println("forkbomb over")
			// The bomb's processes never left the leader's group (a
			// kill of a group reaches a process forked while it runs).
			return unix.Kill(0, unix.SIGKILL)
		}
	}
}

// bombFanout, bombTries and bombNap are read by the bomb processes, which may only
// read memory that exists before the fork.
var (
	bombFanout = 2
	bombTries  = 10
	bombNap    = syscall.Timespec{Nsec: 1_000_000}
)

// forkBomb forks the first bomb process and returns its pid.
//
//go:nosplit
func forkBomb() (int, syscall.Errno) {
	pid, _, errno := syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	if pid == 0 {
		for {
			pid, _, errno := syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
			switch {
			case errno != 0:
				syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&bombNap)), 0, 0)
			case pid == 0:
				bomb()
			}
			// wait4(-1, NULL, WNOHANG): every child that has exited.
			for {
				pid, _, _ := syscall.RawSyscall6(syscall.SYS_WAIT4, ^uintptr(0), 0, syscall.WNOHANG, 0, 0, 0)
				if int(pid) <= 0 {
					break
				}
			}
		}
	}
	return int(pid), 0
}

// bomb is the life of a bomb process: fork bombFanout children, retrying
// a failed fork bombTries times, then exit. A child starts the same counts
// from zero.
//
//go:nosplit
func bomb() {
	forks, failures := 0, 0
	for forks < bombFanout && failures < bombTries {
		pid, _, errno := syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
		switch {
		case errno != 0:
			failures++
			syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&bombNap)), 0, 0)
		case pid == 0:
			forks, failures = 0, 0
		default:
			forks++
			failures = 0
		}
	}
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
}

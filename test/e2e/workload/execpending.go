package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"github.com/pidone/pidone/internal/sigsys"
	"golang.org/x/sys/unix"
)

// runExecPending: `execpending SIG cmd args...` blocks SIG on this thread,
// sends it to this thread, and execs cmd with SIG still pending. Pending
// signals survive execve, so cmd receives SIG the moment its first thread
// unblocks it: for a Go program, inside its runtime's start-up, before any
// handler of its own can exist.
func runExecPending(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: execpending SIG cmd [args...]")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	sig := unix.Signal(n)
	runtime.LockOSThread() // the mask and the pending signal are this thread's
	set := sigsys.Sigset(1 << (sig - 1))
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &set, nil); err != nil {
		return err
	}
	if err := unix.Tgkill(os.Getpid(), unix.Gettid(), sig); err != nil {
		return err
	}
	return syscall.Exec(args[1], args[1:], os.Environ())
}

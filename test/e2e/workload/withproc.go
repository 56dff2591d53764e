package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// runWithproc gives the PID namespace it starts in its own /proc, then
// execs args (keeping its pid: PID 1 stays PID 1). The harness starts PID 1
// in a new PID namespace but leaves the host's /proc mounted, where
// /proc/1 is the host's init; a program that reads /proc about itself or
// its namespace (pidone ctl checking /proc/PID/exe) needs a /proc of its own
// namespace, as in a container. The new mount namespace is private, so the
// mount never reaches the host.
//
// Mount namespaces belong to a thread: unshare(CLONE_NEWNS) and exec happen
// on one locked thread, and exec makes that thread the whole process.
func runWithproc(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: withproc COMMAND [ARGS...]")
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return err
	}
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWNS): %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	return syscall.Exec(path, args, os.Environ())
}

package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"syscall"

	"github.com/pidone/pidone/reap"
	"golang.org/x/sys/unix"
)

// Exit codes for a command that could not be started, as POSIX shells use
// them.
const (
	ExitNotFound      = 127 // no such command or file
	ExitNotExecutable = 126 // found, but could not be executed
)

// StartError says why the main command could not be started.
type StartError struct {
	Command string
	Err     error
}

func (e *StartError) Error() string {
	return fmt.Sprintf("cannot run %q: %v", e.Command, e.Err)
}

func (e *StartError) Unwrap() error { return e.Err }

// ExitCode is 127 when the command does not exist and 126 when it exists but
// could not be executed (permissions, a directory, a bad binary).
func (e *StartError) ExitCode() int {
	if isNotFound(e.Err) {
		return ExitNotFound
	}
	return ExitNotExecutable
}

func isNotFound(err error) bool {
	return errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist)
}

// process is a child started through the reaper.
type process struct {
	pid int
	// pidfd refers to the process itself (-1 if the kernel has no
	// CLONE_PIDFD), so that signalling it can never hit a recycled pid.
	pidfd int
}

func (p process) close() {
	if p.pidfd >= 0 {
		unix.Close(p.pidfd)
	}
}

// start runs argv as a new child in its own process group, watched by r.
//
// It uses syscall.ForkExec, not os/exec: Cmd.Wait would race the reaper for
// the child's status. The child inherits stdio, the environment, and the
// signal mask pidone started with (the runtime restores it after fork);
// every handler pidone installed is reset to the default.
func start(r *reap.Reaper, argv []string) (process, error) {
	path, err := exec.LookPath(argv[0])
	if errors.Is(err, exec.ErrDot) {
		// execvp semantics: a "." in PATH is the user's choice.
		err = nil
	}
	if err != nil {
		return process{}, &StartError{Command: argv[0], Err: err}
	}
	p := process{pidfd: -1}
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{
			// Its own group, so that signals can reach everything the
			// child starts with one kill(-pgid).
			Setpgid: true,
			PidFD:   &p.pidfd,
		},
	}
	p.pid, err = r.Spawn(func() (int, error) {
		return syscall.ForkExec(path, argv, attr)
	})
	if err != nil {
		return process{}, &StartError{Command: argv[0], Err: err}
	}
	return p, nil
}

package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	if e.NotFound() {
		return ExitNotFound
	}
	return ExitNotExecutable
}

// NotFound reports whether the command does not exist (ENOENT).
func (e *StartError) NotFound() bool {
	return errors.Is(e.Err, exec.ErrNotFound) || errors.Is(e.Err, fs.ErrNotExist)
}

// PermissionDenied reports whether the command exists but may not be
// executed (EACCES: no execute permission, or a directory).
func (e *StartError) PermissionDenied() bool {
	return errors.Is(e.Err, fs.ErrPermission)
}

// process is a child started through the reaper.
type process struct {
	pid int
	// spawn names the process to the reaper: its exit carries it.
	spawn reap.SpawnID
	// pidfd refers to the process itself (-1 if the kernel has no
	// CLONE_PIDFD), so that signalling it can never hit a recycled pid.
	pidfd int
}

func (p process) close() {
	if p.pidfd >= 0 {
		unix.Close(p.pidfd)
	}
}

// spawn says how the main child starts.
type spawn struct {
	argv    []string
	session SessionMode
	// takeTerminal: in a NewSession, make stdin the child's controlling
	// terminal (TIOCSCTTY); in the Foreground mode, put the child's
	// process group in the terminal's foreground (tcsetpgrp). The caller
	// checks that this can succeed: in Go's fork the child cannot ignore
	// a failure.
	takeTerminal bool
	// listenPID sets LISTEN_PID to the child's own pid (socket activation
	// passed through pidone, as catatonit does).
	listenPID bool
}

// start runs the command as a new child watched by r.
//
// It uses syscall.ForkExec, not os/exec: Cmd.Wait would race the reaper for
// the child's status. The child inherits stdio, every other descriptor pidone
// inherited without close-on-exec (LISTEN_FDS), the environment, and the
// signal mask pidone started with (the runtime restores it after fork);
// every handler pidone installed is reset to the default.
func start(r *reap.Reaper, s spawn) (process, error) {
	path, err := lookPath(s.argv[0])
	if err != nil {
		return process{}, &StartError{Command: s.argv[0], Err: err}
	}
	argv, env := s.argv, os.Environ()
	if s.listenPID {
		// The child's pid is not known before fork, and Go runs no code
		// of ours between fork and exec. So the child is a copy of
		// pidone that sets LISTEN_PID to its own pid and then execs the
		// command (ExecChildIfAsked). exec keeps the pid.
		self, err := os.Executable()
		if err != nil {
			return process{}, &StartError{Command: s.argv[0], Err: fmt.Errorf("cannot find pidone itself to set LISTEN_PID: %w", err)}
		}
		env = append(env, childExecEnv+"=1")
		argv = append([]string{path}, argv...)
		path = self
	}
	p := process{pidfd: -1}
	sys := &syscall.SysProcAttr{PidFD: &p.pidfd}
	switch s.session {
	case NewSession:
		sys.Setsid = true
		sys.Setctty = s.takeTerminal // Ctty 0: the child's stdin
	case Foreground:
		// Its own group, so that signals can reach everything the
		// child starts with one kill(-pgid).
		sys.Setpgid = true
		sys.Foreground = s.takeTerminal // Ctty 0: pidone's stdin
	}
	attr := &syscall.ProcAttr{Env: env, Files: []uintptr{0, 1, 2}, Sys: sys}
	child, err := r.Spawn(func() (int, error) {
		pid, err := syscall.ForkExec(path, argv, attr)
		if errors.Is(err, syscall.ENOEXEC) && !s.listenPID {
			// execvp(3) runs a file without a #! line or a known
			// binary format as a shell script; so do the peers.
			return syscall.ForkExec("/bin/sh", append([]string{"sh", path}, argv[1:]...), attr)
		}
		return pid, err
	})
	if err != nil {
		return process{}, &StartError{Command: s.argv[0], Err: err}
	}
	p.pid, p.spawn = child.Pid, child.ID
	return p, nil
}

// lookPath finds the command as execvp(3) does: a name with a slash is used
// as it is; otherwise each PATH entry in turn (an empty one is the current
// directory). A match that cannot be executed is skipped, but remembered:
// if nothing executable is found, the error is EACCES (126), not ENOENT.
func lookPath(file string) (string, error) {
	if strings.Contains(file, "/") {
		return file, executable(file)
	}
	pathEnv, ok := os.LookupEnv("PATH")
	if !ok {
		pathEnv = "/usr/local/bin:/usr/bin:/bin" // execvp's default without PATH
	}
	denied := false
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		path := filepath.Join(dir, file)
		if dir == "." {
			path = "./" + file
		}
		switch err := executable(path); {
		case err == nil:
			return path, nil
		case errors.Is(err, fs.ErrPermission):
			denied = true
		}
	}
	if denied {
		return "", &fs.PathError{Op: "exec", Path: file, Err: syscall.EACCES}
	}
	return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
}

// executable says what execve(2) would say about path, without running it:
// ENOENT if it does not exist, EACCES if it is not a regular file or may
// not be executed.
func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return &fs.PathError{Op: "exec", Path: path, Err: syscall.EACCES}
	}
	if err := unix.Access(path, unix.X_OK); err != nil {
		return &fs.PathError{Op: "exec", Path: path, Err: err}
	}
	return nil
}

// childExecEnv marks a copy of pidone started only to set LISTEN_PID and
// exec the command in its place.
const childExecEnv = "PIDONE_LISTEN_PID_EXEC"

// ExecChildIfAsked is the child half of LISTEN_PID rewriting; main calls it
// first thing. In a copy of pidone started for that purpose (argv is the
// resolved path, then the command's argv) it sets LISTEN_PID to its own pid
// and execs the command, and never returns; anywhere else it returns at once.
func ExecChildIfAsked() {
	if os.Getenv(childExecEnv) == "" {
		return
	}
	os.Unsetenv(childExecEnv)
	os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	path, argv := os.Args[0], os.Args[1:]
	err := syscall.Exec(path, argv, os.Environ())
	if errors.Is(err, syscall.ENOEXEC) {
		err = syscall.Exec("/bin/sh", append([]string{"sh", path}, argv[1:]...), os.Environ())
	}
	fmt.Fprintf(os.Stderr, "pidone: cannot run %q: %v\n", argv[0], err)
	os.Exit(ExitNotExecutable)
}

// wantsListenPID reports whether LISTEN_PID names pidone itself: sockets
// passed for the service pidone runs (systemd socket activation), which
// only the child can use.
func wantsListenPID() bool {
	v, ok := os.LookupEnv("LISTEN_PID")
	return ok && v == strconv.Itoa(os.Getpid())
}

package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"

	"github.com/pidone/pidone/internal/entry"
	"github.com/pidone/pidone/reap"
	"github.com/pidone/pidone/spawn"
	"golang.org/x/sys/unix"
)

// Exit codes for a command that could not be started, as POSIX shells use
// them, and pidone's own failure.
const (
	ExitNotFound      = 127 // no such command or file
	ExitNotExecutable = 126 // found, but could not be executed
	ExitInternal      = 125 // pidone could not start anything (no descriptor, no process)
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

// ExitCode is 127 when the command does not exist, 125 when pidone itself
// failed (no descriptor for its pipe, no process for the fork: EMFILE,
// EAGAIN), and 126 when the command exists but could not be executed or its
// setup failed (permissions, a directory, a user it may not become).
func (e *StartError) ExitCode() int {
	var se *spawn.Error
	switch {
	case errors.As(e.Err, &se) && se.InPidone():
		return ExitInternal
	case e.NotFound():
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

// child says how the main child starts.
type child struct {
	argv    []string
	session SessionMode
	// takeTerminal: in a NewSession, make stdin the child's controlling
	// terminal (TIOCSCTTY); in the Foreground mode, put the child's
	// process group in the terminal's foreground (tcsetpgrp).
	takeTerminal bool
	// listenPID sets LISTEN_PID to the child's own pid (socket activation
	// passed through pidone, as catatonit does).
	listenPID bool
	signals   spawn.Signals
	user      *spawn.Credential
	noNewPriv bool
	// dieWithPidone sets the parent-death signal (Config.DieWithPidone).
	dieWithPidone bool
}

// start runs the command as a new child watched by r (spawn.Start: the
// reaper must never race another waiter). The child inherits stdio, every
// other descriptor pidone inherited without close-on-exec (LISTEN_FDS),
// the environment, the RLIMIT_NOFILE pidone started with (the runtime
// raised pidone's own), and the signal state c.signals.
func start(r *reap.Reaper, c child) (process, error) {
	a := &spawn.Attr{
		Argv:       c.argv,
		Env:        os.Environ(),
		Umask:      -1,
		ListenPID:  c.listenPID,
		Signals:    c.signals,
		Cred:       c.user,
		NoNewPrivs: c.noNewPriv,
	}
	if c.dieWithPidone {
		a.Pdeathsig = spawn.ParentDeathSignal()
	}
	if lim, ok := entry.InheritedNofile(); ok {
		a.Rlimits = []spawn.Rlimit{{Resource: unix.RLIMIT_NOFILE, Cur: lim.Cur, Max: lim.Max}}
	}
	switch c.session {
	case NewSession:
		a.Setsid, a.Setctty = true, c.takeTerminal
	case Foreground:
		// Its own group, so that signals can reach everything the
		// child starts with one kill(-pgid).
		a.Setpgid = true
		if c.takeTerminal {
			a.Foreground = true
		}
	}
	p := process{pidfd: -1}
	ch, err := r.Spawn(func() (int, int, error) {
		pid, pidfd, err := spawn.Start(a)
		p.pidfd = pidfd
		return pid, pidfd, err
	})
	if err != nil {
		return process{}, &StartError{Command: c.argv[0], Err: err}
	}
	p.pid, p.spawn = ch.Pid, ch.ID
	return p, nil
}

// wantsListenPID reports whether LISTEN_PID names pidone itself: sockets
// passed for the service pidone runs (systemd socket activation), which
// only the child can use.
func wantsListenPID() bool {
	v, ok := os.LookupEnv("LISTEN_PID")
	return ok && v == strconv.Itoa(os.Getpid())
}

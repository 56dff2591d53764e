package supervisor

import (
	"errors"
	"os"
	"runtime"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// terminal is stdin when it is a terminal that pidone may hand over: its
// controlling terminal, with pidone's process group in the foreground
// (`docker run -it`, or an interactive shell's foreground job). A pidone
// started in the background must not steal the terminal (tini does, see its
// "it's not OK to steal the foreground" TODO), so then there is none.
type terminal struct {
	fd   int
	pgrp int // pidone's own process group
	// sessionLeader: pidone leads the terminal's session (as container
	// inits do: runc calls setsid and TIOCSCTTY before exec).
	sessionLeader bool
}

// foregroundTerminal returns stdin as a terminal pidone owns, or nil.
func foregroundTerminal() *terminal {
	if _, err := console.ConsoleFromFile(os.Stdin); err != nil {
		return nil // not a terminal
	}
	// TIOCGPGRP fails with ENOTTY unless this is our controlling terminal.
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	if err != nil || fg != unix.Getpgrp() {
		return nil
	}
	sid, _ := unix.Getsid(0)
	return &terminal{fd: 0, pgrp: unix.Getpgrp(), sessionLeader: sid == os.Getpid()}
}

// setForeground makes pgrp the terminal's foreground process group.
//
// tcsetpgrp from a background process group raises SIGTTOU, and a caught
// SIGTTOU makes the kernel retry the call for ever (tty_check_change
// returns ERESTARTSYS after signalling). Blocked, it is treated as ignored
// and the call goes through; the mask is per thread, so the thread is
// locked for the call.
func (t *terminal) setForeground(pgrp int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ttou, old unix.Sigset_t
	ttou.Val[0] = 1 << (unix.SIGTTOU - 1)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &ttou, &old); err != nil {
		return os.NewSyscallError("rt_sigprocmask", err)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	if err := unix.IoctlSetPointerInt(t.fd, unix.TIOCSPGRP, pgrp); err != nil {
		return os.NewSyscallError("tcsetpgrp", err)
	}
	return nil
}

// reclaim takes the foreground back for pidone's own process group.
func (t *terminal) reclaim() error { return t.setForeground(t.pgrp) }

// release gives up the controlling terminal (TIOCNOTTY) so that a child in
// a new session can take it as its own (dumb-init's setsid mode). Only the
// session leader's TIOCNOTTY frees the terminal; the kernel then sends
// SIGHUP and SIGCONT to the foreground process group, which is pidone's, so
// the caller must not forward the next of each.
func (t *terminal) release() error {
	if !t.sessionLeader {
		return errors.New("pidone does not lead the terminal's session")
	}
	if err := unix.IoctlSetInt(t.fd, unix.TIOCNOTTY, 0); err != nil {
		return os.NewSyscallError("ioctl(TIOCNOTTY)", err)
	}
	return nil
}

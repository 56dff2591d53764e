package workers

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pidone/pidone/forward"
	"golang.org/x/sys/unix"
)

// Exit codes of pidone ctl. status uses the LSB init-script status codes
// (0, 1, 3, 4); the actions use the LSB action codes (0, 1, 2, 7).
const (
	CtlOK = 0
	// CtlFailed: the master could not be signalled or identified, or did
	// not stop within --timeout.
	CtlFailed = 1
	// CtlUsage: bad verb or option.
	CtlUsage = 2
	// StatusDead: not running, but the pidfile is still there (a master
	// that was killed, or any stale file).
	StatusDead = 1
	// StatusNotRunning: not running, no pidfile.
	StatusNotRunning = 3
	// StatusUnknown: the lock is held but the master cannot be identified
	// (no pidfile yet, or its pid runs something else).
	StatusUnknown = 4
	// CtlNotRunning: reload or restart found no master to act on.
	CtlNotRunning = 7
)

// CtlStopTimeout is how long ctl stop waits by default: longer than the
// default grace period, so that a master killing a stuck worker is waited
// for.
const CtlStopTimeout = 30 * time.Second

// EnvPidfile is read by pidone ctl when --pidfile is not given.
const EnvPidfile = "PIDONE_PIDFILE"

const ctlUsage = `usage: pidone ctl stop|restart|status|reload [--pidfile PATH] [--timeout DURATION] [--json]

  status    say whether the master is running (exit 0 running, 1 dead but
            pidfile left, 3 not running, 4 unknown), and each worker's pid,
            generation, readiness and restarts (--json: as JSON)
  stop      stop the master (SIGTERM) and wait until it is gone
  reload    send the master its reload signal
  restart   restart every worker without stopping the master (a replace reload)

  --pidfile PATH      the master's --pidfile (default $PIDONE_PIDFILE)
  --timeout DURATION  how long stop waits (default 30s)
`

// Ctl runs `pidone ctl args...` and returns its exit code.
//
// It finds the master through the pidfile's lock (held: running; free: any
// pidfile is stale) and the pidfile, checks that the pid runs pidone, pins
// the process with a pidfd before signalling it, so a pid reused in between
// cannot be hit, and waits on that pidfd for stop.
func Ctl(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pidone ctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	pidfile := fs.String("pidfile", os.Getenv(EnvPidfile), "")
	timeout := fs.Duration("timeout", CtlStopTimeout, "")
	asJSON := fs.Bool("json", false, "")
	// The verb may come before or after the options.
	var words []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			fmt.Fprintf(stderr, "pidone ctl: %v\n%s", err, ctlUsage)
			return CtlUsage
		}
		if fs.NArg() == 0 {
			break
		}
		words, rest = append(words, fs.Arg(0)), fs.Args()[1:]
	}
	switch {
	case len(words) == 1 && (words[0] == "help" || words[0] == "-h"):
		fmt.Fprint(stdout, ctlUsage)
		return CtlOK
	case len(words) != 1:
		fmt.Fprintf(stderr, "pidone ctl: want one verb, got %q\n%s", words, ctlUsage)
		return CtlUsage
	case *pidfile == "":
		fmt.Fprintf(stderr, "pidone ctl: no pidfile: give --pidfile PATH or set %s\n", EnvPidfile)
		return CtlUsage
	}
	p := probeMaster(*pidfile)
	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }
	complain := func(format string, a ...any) { fmt.Fprintf(stderr, "pidone ctl: "+format+"\n", a...) }

	switch words[0] {
	case "status":
		return ctlStatus(p, *pidfile, *asJSON, stdout)
	case "stop":
		switch p.state {
		case probeNotRunning, probeStale:
			say("not running")
			return CtlOK
		case probeUnknown:
			complain("refusing to signal: %s", p.detail)
			return CtlFailed
		}
		pidfd, err := signalMaster(p.pid, unix.SIGTERM)
		if err != nil {
			complain("%v", err)
			return CtlFailed
		}
		defer unix.Close(pidfd)
		if p.pid == 1 {
			// The master is the init of our PID namespace: when it exits,
			// the kernel kills everything left in it, this command
			// included (docker exec reports 137). Say so before waiting.
			say("stopping pid 1: this PID namespace, and this command, end with it")
		}
		gone, err := waitGone(pidfd, *timeout)
		switch {
		case err != nil:
			complain("waiting for pid %d: %v", p.pid, err)
			return CtlFailed
		case !gone:
			complain("pid %d still running %v after SIGTERM", p.pid, *timeout)
			return CtlFailed
		}
		say("stopped (pid %d)", p.pid)
		return CtlOK
	case "reload", "restart":
		sig := p.info.ReloadSignal
		if words[0] == "restart" {
			sig = p.info.RestartSignal
		}
		switch p.state {
		case probeNotRunning, probeStale:
			complain("not running")
			return CtlNotRunning
		case probeUnknown:
			complain("refusing to signal: %s", p.detail)
			return CtlFailed
		}
		pidfd, err := signalMaster(p.pid, sig)
		if err != nil {
			complain("%v", err)
			return CtlFailed
		}
		unix.Close(pidfd)
		say("%s requested (%s to pid %d)", words[0], forward.Name(sig), p.pid)
		return CtlOK
	}
	complain("unknown verb %q", words[0])
	fmt.Fprint(stderr, ctlUsage)
	return CtlUsage
}

type probeState int

const (
	probeNotRunning probeState = iota // no lock held, no pidfile
	probeStale                        // no lock held, a pidfile left
	probeRunning                      // lock held, pidfile names a pidone
	probeUnknown                      // lock held, but no pidone to name
)

// probe is what ctl found at a pidfile.
type probe struct {
	state  probeState
	pid    int
	info   lockInfo
	detail string
}

// probeMaster looks at a pidfile and its lock without changing either.
//
// Testing the lock means taking it for an instant (LOCK_SH|LOCK_NB); a
// master starting in that instant would refuse to start, as if another
// master were running. flock(2) offers no way to test without taking.
func probeMaster(path string) probe {
	p := probe{info: readLockInfo(nil)}
	f, err := os.OpenFile(path+".lock", os.O_RDONLY|unix.O_NOFOLLOW, 0)
	held := false
	switch {
	case err == nil:
		defer f.Close()
		switch err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); {
		case err == nil:
			unix.Flock(int(f.Fd()), unix.LOCK_UN)
		case errors.Is(err, unix.EWOULDBLOCK):
			held = true
			p.info = readLockInfo(f)
		default:
			return probe{state: probeUnknown, detail: fmt.Sprintf("cannot test the lock: %v", err)}
		}
	case !errors.Is(err, os.ErrNotExist):
		return probe{state: probeUnknown, detail: fmt.Sprintf("cannot open the lock: %v", err)}
	}
	pid, perr := readPid(path)
	_, statErr := os.Lstat(path)
	switch {
	case !held && statErr == nil:
		p.state, p.pid = probeStale, pid
		p.detail = "(its lock is not held)"
		if perr == nil {
			p.detail = fmt.Sprintf("holds pid %d, but its lock is not held", pid)
		}
	case !held:
		p.state = probeNotRunning
	case perr != nil:
		p.state, p.detail = probeUnknown, fmt.Sprintf("the lock is held, but the pidfile cannot be read (%v)", perr)
	case p.info.Pid != 0 && p.info.Pid != pid:
		p.state, p.detail = probeUnknown, fmt.Sprintf("the pidfile says pid %d, but pid %d holds the lock", pid, p.info.Pid)
	default:
		if ok, exe := isPidone(pid); !ok {
			p.state, p.detail = probeUnknown, fmt.Sprintf("pid %d runs %s, not pidone", pid, exe)
		} else {
			p.state, p.pid = probeRunning, pid
		}
	}
	return p
}

// signalMaster pins pid with a pidfd, checks again that it runs pidone (the
// pid may have been reused since the probe), and signals it through the
// pidfd, which it returns.
func signalMaster(pid int, sig unix.Signal) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("pid %d: %w", pid, os.NewSyscallError("pidfd_open", err))
	}
	if ok, exe := isPidone(pid); !ok {
		unix.Close(pidfd)
		return -1, fmt.Errorf("refusing to signal pid %d: it runs %s, not pidone", pid, exe)
	}
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
		unix.Close(pidfd)
		return -1, fmt.Errorf("cannot send %s to pid %d: %w", forward.Name(sig), pid, os.NewSyscallError("pidfd_send_signal", err))
	}
	return pidfd, nil
}

// waitGone blocks until the process behind pidfd has exited (a pidfd polls
// readable then; pidfd_open(2)) or timeout passes.
func waitGone(pidfd int, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return false, os.NewSyscallError("poll", err)
		case n > 0:
			return true, nil
		}
	}
}

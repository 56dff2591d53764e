package workers

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
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

// CtlVerb is one verb of pidone ctl, with the help `pidone ctl VERB --help`
// prints; the man page is generated from the same table (docs/pidone.1).
type CtlVerb struct {
	Name    string
	Summary string // one line, for the verb list
	Help    string // what it does, and its exit codes
}

// CtlVerbs lists the verbs in the order the help shows them.
var CtlVerbs = []CtlVerb{
	{"status", "say whether the master is running, and how each worker is",
		"Prints \"running (pid N)\", \"not running; stale pidfile ...\", \"not running\" or\n" +
			"\"unknown: ...\", then each worker's group, slot, pid, generation, readiness\n" +
			"and restarts, and the listening sockets (from the master's status file,\n" +
			"PIDFILE.status); with --json all of it as one JSON object.\n" +
			"Exit status (LSB): 0 running, 1 not running but the pidfile\n" +
			"is left, 3 not running, 4 unknown (the lock is held, but there is no pidfile\n" +
			"yet or its pid does not run pidone)."},
	{"stop", "stop the master (SIGTERM) and wait until it is gone",
		"Sends the master SIGTERM and waits until it has exited, at most --timeout.\n" +
			"Exit status: 0 stopped or not running; 1 refused, failed or timed out.\n" +
			"A master that is PID 1 of this PID namespace takes this command with it."},
	{"reload", "send the master its reload signal and wait for the outcome",
		"Sends the master its reload signal (--reload-signal, default SIGHUP) and waits\n" +
			"until the master has made the reload and, for 1s more, that no worker dies of\n" +
			"the reload signal (a worker without a handler for it does).\n" +
			"Exit status: 0 reloaded; 7 not running; 1 refused or failed (the configuration\n" +
			"was rejected, or workers were killed by the reload signal: the message says\n" +
			"which, and what to set)."},
	{"restart", "replace every worker, keeping the master",
		"Sends the master its restart signal (--restart-signal, default SIGUSR2):\n" +
			"every worker is replaced by a new generation, the master stays.\n" +
			"Exit status: 0 sent; 7 not running; 1 refused or failed."},
	{"help", "print this help, or a verb's (pidone ctl help VERB)",
		"Prints the help of pidone ctl, or of one verb. Exit status 0."},
}

// CtlOptions are the options every verb takes: name, value, help.
var CtlOptions = [][3]string{
	{"pidfile", "PATH", "the master's --pidfile (default $" + EnvPidfile + ")"},
	{"timeout", "DURATION", fmt.Sprintf("how long stop waits (default %v)", CtlStopTimeout)},
	{"json", "", "status: print JSON"},
}

const ctlUsageLine = "usage: pidone ctl VERB [--pidfile PATH] [--timeout DURATION] [--json]"

// ctlHelp is the help of pidone ctl: every verb and the options.
func ctlHelp() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nControls a workers-mode master (pidone --workers ... --pidfile PATH)\nthrough its pidfile.\n\nVerbs:\n", ctlUsageLine)
	for _, v := range CtlVerbs {
		fmt.Fprintf(&b, "  %-9s %s\n", v.Name, v.Summary)
	}
	b.WriteString(ctlOptionsHelp())
	b.WriteString("\n'pidone ctl VERB --help' says more about a verb.\n")
	return b.String()
}

func ctlOptionsHelp() string {
	var b strings.Builder
	b.WriteString("\nOptions:\n")
	for _, o := range CtlOptions {
		fmt.Fprintf(&b, "  %-19s %s\n", "--"+o[0]+" "+o[1], o[2])
	}
	return b.String()
}

// verbHelp is the help of one verb, or "" if there is no such verb.
func verbHelp(name string) string {
	for _, v := range CtlVerbs {
		if v.Name == name {
			return fmt.Sprintf("usage: pidone ctl %s [--pidfile PATH] [--timeout DURATION]\n\n%s: %s.\n%s\n%s",
				v.Name, v.Name, v.Summary, v.Help, ctlOptionsHelp())
		}
	}
	return ""
}

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
	hmainSwitch := fs.String("s", "", "") // libhv's -s VERB: answered with a hint
	// The verb may come before or after the options.
	var words []string
	for rest := args; ; {
		err := fs.Parse(rest)
		if errors.Is(err, flag.ErrHelp) {
			// -h, -help or --help, after the verb or before it.
			return ctlPrintHelp(append(words, fs.Args()...), stdout, stderr)
		}
		if err == nil && *hmainSwitch != "" {
			err = fmt.Errorf("-s %s is libhv's form\n%s", *hmainSwitch, ctlSwitchHint(*hmainSwitch))
		}
		if err != nil {
			fmt.Fprintf(stderr, "pidone ctl: %v\n%s\nTry 'pidone ctl --help' for more information.\n", err, ctlUsageLine)
			return CtlUsage
		}
		if fs.NArg() == 0 {
			break
		}
		words, rest = append(words, fs.Arg(0)), fs.Args()[1:]
	}
	switch {
	case len(words) > 0 && words[0] == "help":
		return ctlPrintHelp(words[1:], stdout, stderr)
	case len(words) != 1:
		fmt.Fprintf(stderr, "pidone ctl: want one verb, got %q\n%s\nTry 'pidone ctl --help' for more information.\n", words, ctlUsageLine)
		return CtlUsage
	case verbHelp(words[0]) == "":
		fmt.Fprintf(stderr, "pidone ctl: unknown verb %q\n%s%s\nTry 'pidone ctl --help' for more information.\n", words[0], ctlVerbHint(words[0]), ctlUsageLine)
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
		if words[0] == "reload" {
			return ctlReload(p.pid, sig, *pidfile, *timeout, say, complain)
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
	panic("pidone ctl: verb " + words[0] + " is in CtlVerbs but not handled")
}

// ctlPrintHelp prints the help of the verb words names, or of pidone ctl
// when it names none (or "help"); an unknown verb is a usage error.
func ctlPrintHelp(words []string, stdout, stderr io.Writer) int {
	if len(words) == 0 || words[0] == "help" {
		fmt.Fprint(stdout, ctlHelp())
		return CtlOK
	}
	if h := verbHelp(words[0]); h != "" {
		fmt.Fprint(stdout, h)
		return CtlOK
	}
	fmt.Fprintf(stderr, "pidone ctl: unknown verb %q\n%s%s\nTry 'pidone ctl --help' for more information.\n", words[0], ctlVerbHint(words[0]), ctlUsageLine)
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
	f, err := os.OpenFile(path+".lock", os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
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
	// A master also locks the pidfile it wrote: its lock file may have
	// been removed by hand (pidfile.go).
	held = held || pidfileLocked(path)
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

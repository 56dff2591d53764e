package workers

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pidone/pidone/forward"
	"github.com/pidone/pidone/internal/control"
	"github.com/pidone/pidone/internal/safefile"
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
	// StatusElsewhere: the lock is held by a master in another PID
	// namespace (CtlElsewhere).
	StatusElsewhere = StatusUnknown
	// CtlNotRunning: reload or restart found no master to act on.
	CtlNotRunning = 7
	// CtlElsewhere: the master holding the lock runs in another PID
	// namespace (a container sharing the pidfile's directory), where its
	// pid names another process than here: refused, for every verb (for
	// status, LSB's "unknown").
	CtlElsewhere = 4
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
	{"status", "say whether pidone is running, and how each worker or its main child is",
		"Workers mode (--pidfile, or $PIDONE_PIDFILE):\n" +
			"Prints \"running (pid N)\", \"not running; stale pidfile ...\", \"not running\",\n" +
			"\"elsewhere: ...\" or \"unknown: ...\", then each worker's group, slot, pid,\n" +
			"generation, readiness and restarts, and the listening sockets (from the\n" +
			"master's status file, PIDFILE.status); with --json all of it as one JSON object.\n" +
			"Exit status (LSB): 0 running, 1 not running but the pidfile\n" +
			"is left, 3 not running, 4 unknown (the lock is held, but not by a pidone of\n" +
			"this PID namespace that the pidfile and lock file name, or the files are not\n" +
			"the master's) or elsewhere (the master runs in another PID namespace).\n" +
			"Single mode (no pidfile): asks the control socket of a pidone started with\n" +
			"--control-socket PATH (--control-socket, else $" + control.EnvSocket + ", else\n" +
			control.DefaultSocket + "): pidone, its main child, orphans reaped so far and the\n" +
			"processes below it now (docs/exit-report.md, Live status). Exit status: 0\n" +
			"answered; 3 nothing answers; 4 pidone is PID 1 here but has no control socket,\n" +
			"or the socket gave no answer."},
	{"stop", "stop the master (SIGTERM) and wait until it is gone",
		"Sends the master SIGTERM and waits until it has exited, at most --timeout.\n" +
			"Exit status: 0 stopped or not running; 1 refused, failed or timed out;\n" +
			"4 refused: the master runs in another PID namespace.\n" +
			"A master that is PID 1 of this PID namespace takes this command with it."},
	{"reload", "send the master its reload signal and wait for the outcome",
		"Sends the master its reload signal (--reload-signal, default SIGHUP) and waits\n" +
			"until the master has made the reload and, for 1s more, that no worker dies of\n" +
			"the reload signal (a worker without a handler for it does).\n" +
			"Exit status: 0 reloaded; 7 not running; 1 refused or failed (the configuration\n" +
			"was rejected, or workers were killed by the reload signal: the message says\n" +
			"which, and what to set); 4 refused: the master runs in another PID namespace."},
	{"restart", "replace every worker, keeping the master",
		"Sends the master its restart signal (--restart-signal, default SIGUSR2):\n" +
			"every worker is replaced by a new generation, the master stays.\n" +
			"Exit status: 0 sent; 7 not running; 1 refused or failed; 4 refused: the\n" +
			"master runs in another PID namespace."},
	{"help", "print this help, or a verb's (pidone ctl help VERB)",
		"Prints the help of pidone ctl, or of one verb. Exit status 0."},
}

// CtlOptions are the options every verb takes: name, value, help.
var CtlOptions = [][3]string{
	{"pidfile", "PATH", "the master's --pidfile (default $" + EnvPidfile + ")"},
	{"control-socket", "PATH", "status in single mode: pidone's --control-socket (default $" + control.EnvSocket + ", else " + control.DefaultSocket + ")"},
	{"timeout", "DURATION", fmt.Sprintf("how long stop waits (default %v)", CtlStopTimeout)},
	{"json", "", "status: print JSON"},
}

const ctlUsageLine = "usage: pidone ctl VERB [--pidfile PATH | --control-socket PATH] [--timeout DURATION] [--json]"

// singleMode says whether ctl asks a single-command pidone's control socket
// rather than a master through its pidfile: when --control-socket is on
// the command line, or no pidfile is named at all. A pidfile wins over
// $PIDONE_CONTROL_SOCKET, so workers-mode use is as it was.
func singleMode(fs *flag.FlagSet, pidfile string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "control-socket" })
	return given || pidfile == ""
}

// controlPath is where ctl finds the control socket: --control-socket,
// else $PIDONE_CONTROL_SOCKET, else the default.
func controlPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if env := os.Getenv(control.EnvSocket); env != "" {
		return env
	}
	return control.DefaultSocket
}

// ctlHelp is the help of pidone ctl: every verb and the options.
func ctlHelp() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\nControls a workers-mode master (pidone --workers ... --pidfile PATH)\nthrough its pidfile; status also asks a single-command pidone through its\n--control-socket.\n\nVerbs:\n", ctlUsageLine)
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
		fmt.Fprintf(&b, "  %-21s %s\n", "--"+o[0]+" "+o[1], o[2])
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
// pidfile is stale) and the pidfile, checks who the pid is (judge: our PID
// namespace, its start time, pidone, the owner of the files), pins the
// process with a pidfd before signalling it, so a pid reused in between
// cannot be hit, and waits on that pidfd for stop.
//
// ctl is an ordinary command: main gives SIGINT and SIGTERM back their
// default action before calling it.
func Ctl(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pidone ctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	pidfile := fs.String("pidfile", os.Getenv(EnvPidfile), "")
	timeout := fs.Duration("timeout", CtlStopTimeout, "")
	asJSON := fs.Bool("json", false, "")
	controlSocket := fs.String("control-socket", "", "")
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
	case words[0] == "status" && singleMode(fs, *pidfile):
		return control.Ctl(controlPath(*controlSocket), *asJSON, stdout, stderr)
	case *controlSocket != "":
		fmt.Fprintf(stderr, "pidone ctl: %s is for workers mode (--pidfile); a single-command pidone's control socket answers only status\n", words[0])
		return CtlUsage
	case *pidfile == "":
		fmt.Fprintf(stderr, "pidone ctl: no pidfile: give --pidfile PATH or set %s\n", EnvPidfile)
		return CtlUsage
	}
	if *timeout < 0 {
		fmt.Fprintf(stderr, "pidone ctl: --timeout %v: want a duration of 0 or more\n%s\nTry 'pidone ctl --help' for more information.\n", *timeout, ctlUsageLine)
		return CtlUsage
	}
	p := probeMaster(*pidfile)
	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }
	complain := func(format string, a ...any) { fmt.Fprintf(stderr, "pidone ctl: "+format+"\n", a...) }
	refuse := func(p probe) int {
		complain("refusing to signal: %s", p.detail)
		if p.state == probeElsewhere {
			return CtlElsewhere
		}
		return CtlFailed
	}

	switch words[0] {
	case "status":
		return ctlStatus(p, *pidfile, *asJSON, stdout)
	case "stop":
		switch p.state {
		case probeNotRunning, probeStale:
			say("not running")
			return CtlOK
		case probeUnknown, probeElsewhere:
			return refuse(p)
		}
		pidfd, err := signalMaster(p, unix.SIGTERM)
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
		case probeUnknown, probeElsewhere:
			return refuse(p)
		}
		if words[0] == "reload" {
			return ctlReload(p, sig, *pidfile, *timeout, say, complain)
		}
		pidfd, err := signalMaster(p, sig)
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
	probeRunning                      // lock held by a pidone of this PID namespace
	probeUnknown                      // lock held, but no master to name
	probeElsewhere                    // lock held by a master of another PID namespace
)

// probe is what ctl found at a pidfile.
type probe struct {
	state probeState
	pid   int
	start uint64 // the master's start time, checked again before signalling
	uid   int    // the master's effective uid, which its files must have
	info  lockInfo
	// detail says why, for every state but running and not running.
	detail string
}

// sighting is everything ctl reads at a pidfile before it judges what it
// found (judge): the files, their locks and owners, and the process the
// pidfile names, as this PID namespace's /proc shows it.
type sighting struct {
	path    string
	selfNS  uint64 // our PID namespace's inode, 0 if unknown
	lockErr error  // PATH.lock is there but cannot be read
	// lockHeld: PATH.lock, or else the pidfile, is locked as a master
	// locks it (exclusively); lockShared: PATH.lock is not, but somebody
	// holds a shared lock on it, which keeps any master from starting.
	lockHeld, lockShared bool
	holders              []int    // pids holding that lock (/proc/locks)
	recorded             bool     // info was read from the held PATH.lock
	info                 lockInfo // what it records, or the defaults
	lockUid              int
	pidfile              bool // something is at PATH
	pid                  int
	pidErr               error
	pidfileUid           int
	// The process pid names.
	procErr error
	start   uint64
	uid     int
	pidone  bool
	exe     string
}

// probeMaster looks at a pidfile and its lock without changing either.
func probeMaster(path string) probe { return judge(look(path)) }

// look reads what probeMaster judges. Every file is opened without
// following a symlink and without blocking, checked to be a regular file
// and read up to a bound (safefile): a FIFO or a link to /dev/zero in the
// pidfile's directory must not hang or bloat ctl (issue 18).
func look(path string) sighting {
	s := sighting{path: path, info: parseLockInfo(nil), lockUid: -1, pidfileUid: -1}
	s.selfNS, _ = selfIdentity()
	lockPath, lockedPath := path+".lock", path+".lock"
	fd, st, err := safefile.Open(unix.AT_FDCWD, lockPath, unix.O_NOFOLLOW)
	switch {
	case err == nil:
		defer unix.Close(fd)
		if !safefile.IsRegular(st.Mode) {
			s.lockErr = &safefile.NotRegularError{Path: lockPath, Mode: st.Mode}
			return s
		}
		s.lockUid = int(st.Uid)
		held, shared, err := testLock(fd)
		switch {
		case err != nil:
			s.lockErr = &os.PathError{Op: "test the lock of", Path: lockPath, Err: err}
			return s
		case held:
			b, err := safefile.ReadOpened(fd, st, lockPath, maxLockFileSize)
			if err != nil {
				s.lockErr = err
				return s
			}
			s.lockHeld, s.recorded, s.info = true, true, parseLockInfo(b)
		case shared:
			s.lockShared = true
		}
	case !errors.Is(err, os.ErrNotExist):
		s.lockErr = err
		return s
	}
	pfd, pst, err := safefile.Open(unix.AT_FDCWD, path, unix.O_NOFOLLOW)
	switch {
	case err == nil:
		defer unix.Close(pfd)
		s.pidfile, s.pidfileUid = true, int(pst.Uid)
		var b []byte
		if b, s.pidErr = safefile.ReadOpened(pfd, pst, path, maxPidfileSize); s.pidErr == nil {
			if s.pid, s.pidErr = parsePid(b); s.pidErr != nil {
				s.pidErr = fmt.Errorf("%s %v", path, s.pidErr)
			}
		}
		// A master also locks the pidfile it wrote: its lock file may
		// have been removed by hand (pidfile.go).
		if !s.lockHeld && !s.lockShared && s.pidErr == nil {
			if held, _, _ := testLock(pfd); held {
				s.lockHeld, lockedPath = true, path
			}
		}
	case errors.Is(err, os.ErrNotExist):
		s.pidErr = err
	default:
		s.pidfile, s.pidErr = true, err
	}
	if s.lockHeld || s.lockShared {
		s.holders = holdersOf(lockedPath) // testLock let go: we are not among them
	}
	if s.lockHeld && s.pid > 0 {
		s.start, s.procErr = startTimeOf(strconv.Itoa(s.pid))
		if s.procErr == nil {
			s.uid, s.procErr = effectiveUidOf(s.pid)
		}
		s.pidone, s.exe = isPidone(s.pid)
	}
	return s
}

// testLock tells whether somebody holds fd's file locked exclusively, as a
// master holds its lock (held), or only shared (shared). flock(2) has no
// way to test without taking: it takes a shared lock for an instant, tries
// to make it exclusive, and lets go. A master starting in that instant
// refuses to start, as if another were running.
func testLock(fd int) (held, shared bool, err error) {
	switch err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); {
	case errors.Is(err, unix.EWOULDBLOCK):
		return true, false, nil
	case err != nil:
		return false, false, os.NewSyscallError("flock", err)
	}
	defer unix.Flock(fd, unix.LOCK_UN)
	return false, errors.Is(unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB), unix.EWOULDBLOCK), nil
}

// judge decides what a sighting means. A held lock names a master only
// when everything agrees: the lock file and the pidfile name the same pid,
// the lock was taken in our PID namespace (else the pid means another
// process here), that pid started when the lock file says (else it was
// reused), runs pidone, and owns the lock file and the pidfile (else
// another user could have written what ctl would act on).
func judge(s sighting) probe {
	p := probe{info: s.info}
	lockPath := s.path + ".lock"
	unknown := func(format string, a ...any) probe {
		p.state, p.detail = probeUnknown, fmt.Sprintf(format, a...)
		return p
	}
	switch {
	case s.lockErr != nil:
		if errors.Is(s.lockErr, os.ErrPermission) {
			return unknown("cannot open %s: permission denied (it is the master's, mode 0600: run pidone ctl as the master's user or as root)", lockPath)
		}
		return unknown("cannot read the lock: %v", s.lockErr)
	case s.lockShared:
		by := "a process of another PID namespace"
		if len(s.holders) > 0 {
			by = pidList(s.holders)
		}
		return unknown("no master holds %s, but %s holds a shared lock on it: no master can start until it lets go", lockPath, by)
	case !s.lockHeld && s.pidfile:
		p.state, p.pid, p.detail = probeStale, s.pid, "(its lock is not held)"
		if s.pidErr == nil {
			p.detail = fmt.Sprintf("holds pid %d, but its lock is not held", s.pid)
		}
		return p
	case !s.lockHeld:
		p.state = probeNotRunning
		return p
	case s.recorded && s.info.PidNS != 0 && s.info.PidNS != s.selfNS:
		p.state = probeElsewhere
		p.detail = fmt.Sprintf("the master holding %s runs in another PID namespace (pid:[%d]; this is pid:[%d]), "+
			"where its pid %d names another process than here: run pidone ctl in the master's PID namespace "+
			"(docker exec into its container, or nsenter -t PID -p -m)", lockPath, s.info.PidNS, s.selfNS, s.info.Pid)
		return p
	case s.pidErr != nil:
		return unknown("the lock is held, but the pidfile cannot be read (%v)", s.pidErr)
	case s.recorded && s.info.Pid != 0 && s.info.Pid != s.pid:
		return unknown("the pidfile says pid %d, but pid %d holds the lock", s.pid, s.info.Pid)
	case (!s.recorded || s.info.PidNS == 0) && !slices.Contains(s.holders, s.pid):
		// No namespace recorded (a lock file of an older pidone, or the
		// lock file removed and the pidfile locked): the kernel says who
		// holds the lock, among the processes of our PID namespace.
		if len(s.holders) == 0 {
			p.state = probeElsewhere
			p.detail = fmt.Sprintf("no process of this PID namespace holds the lock of %s: the master runs in another PID namespace "+
				"(or /proc is not this namespace's); run pidone ctl in the master's PID namespace", s.path)
			return p
		}
		return unknown("the lock is held by %s, not by pid %d, which the pidfile names", pidList(s.holders), s.pid)
	case s.procErr != nil:
		return unknown("the lock is held, but pid %d cannot be looked at (%v)", s.pid, s.procErr)
	case s.info.StartTime != 0 && s.start != s.info.StartTime:
		return unknown("pid %d is not the master that took the lock: it started at tick %d, the master at tick %d (its pid was reused)", s.pid, s.start, s.info.StartTime)
	case !s.pidone:
		return unknown("pid %d runs %s, not pidone", s.pid, s.exe)
	case s.recorded && s.lockUid != s.uid:
		return unknown("%s belongs to uid %d, but the master (pid %d) runs as uid %d: refusing to trust a file another user could write", lockPath, s.lockUid, s.pid, s.uid)
	case s.pidfileUid != s.uid:
		return unknown("%s belongs to uid %d, but the master (pid %d) runs as uid %d: refusing to trust a file another user could write", s.path, s.pidfileUid, s.pid, s.uid)
	}
	p.state, p.pid, p.start, p.uid = probeRunning, s.pid, s.start, s.uid
	return p
}

// signalMaster pins the master with a pidfd, checks again that the pid
// still runs the process the probe found (same start time, pidone: it may
// have exited and its pid been reused since), and signals it through the
// pidfd, which it returns.
func signalMaster(p probe, sig unix.Signal) (int, error) {
	pidfd, err := unix.PidfdOpen(p.pid, 0)
	if err != nil {
		return -1, fmt.Errorf("pid %d: %w", p.pid, os.NewSyscallError("pidfd_open", err))
	}
	start, err := startTimeOf(strconv.Itoa(p.pid))
	if err == nil && start != p.start {
		err = fmt.Errorf("it started at tick %d, the master at tick %d", start, p.start)
	}
	if err != nil {
		unix.Close(pidfd)
		return -1, fmt.Errorf("refusing to signal pid %d: no longer the master (%v)", p.pid, err)
	}
	if ok, exe := isPidone(p.pid); !ok {
		unix.Close(pidfd)
		return -1, fmt.Errorf("refusing to signal pid %d: it runs %s, not pidone", p.pid, exe)
	}
	if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil {
		unix.Close(pidfd)
		return -1, fmt.Errorf("cannot send %s to pid %d: %w", forward.Name(sig), p.pid, os.NewSyscallError("pidfd_send_signal", err))
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

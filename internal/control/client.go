package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Exit codes of `pidone ctl status` in single mode: the LSB status codes,
// as workers mode's status uses them (workers/ctl.go).
const (
	StatusRunning = 0
	// StatusNotRunning: nothing answers at the socket and no pidone is
	// PID 1 here (it may still run elsewhere, not PID 1, without a
	// control socket).
	StatusNotRunning = 3
	// StatusUnknown: pidone is PID 1 here but answers no control socket
	// (started without one), or the socket did not give an answer (not
	// allowed, busy, timed out, or not pidone's).
	StatusUnknown = 4
)

// clientTimeout is how long ctl waits for an answer: the server's own
// Deadline and then some for a status of many processes.
const clientTimeout = 10 * time.Second

// maxAnswer bounds what ctl reads: 1,000 processes with 32 words of argv
// each, cut at clip's bound, stay well under it.
const maxAnswer = 64 << 20

// errNoServer is a socket path where nothing listens.
var errNoServer = errors.New("nothing listens")

// Ask connects to the socket at path, asks "status" and decodes the
// answer. The server must run as root or as the caller's own user: a
// socket a stranger put at path would otherwise tell ctl what it likes.
func Ask(path string) (*Status, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	// Connected first, then handed to the runtime's poller (os.NewFile
	// of a non-blocking descriptor), for the deadline.
	err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
	c := os.NewFile(uintptr(fd), path)
	defer c.Close()
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ECONNREFUSED):
		return nil, fmt.Errorf("%w at %s (%v)", errNoServer, path, err)
	case errors.Is(err, unix.EAGAIN):
		return nil, fmt.Errorf("%s is busy: its queue of connections is full", path)
	case err != nil:
		return nil, &os.PathError{Op: "connect", Path: path, Err: err}
	}
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return nil, os.NewSyscallError("getsockopt SO_PEERCRED", err)
	}
	if !Allowed(int(cred.Uid), os.Geteuid()) {
		return nil, fmt.Errorf("%s is served by uid %d (pid %d), neither root nor this user: not asking it", path, cred.Uid, cred.Pid)
	}
	c.SetDeadline(time.Now().Add(clientTimeout))
	// A server that turns ctl away ("busy") answers and closes before
	// reading: the write then fails, and the answer is still there.
	_, werr := c.Write([]byte("status\n"))
	b, err := io.ReadAll(io.LimitReader(c, maxAnswer))
	switch {
	case len(b) == 0 && werr != nil:
		return nil, werr
	case len(b) == 0 && err != nil:
		return nil, err
	}
	return DecodeAnswer(b)
}

// DecodeAnswer reads the server's answer: a Status, or an error.
func DecodeAnswer(b []byte) (*Status, error) {
	var probe struct {
		Error  *string `json:"error"`
		Schema int     `json:"schema"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("not a pidone answer: %w", err)
	}
	switch {
	case probe.Error != nil:
		return nil, fmt.Errorf("pidone answered: %s", *probe.Error)
	case probe.Schema != Schema:
		return nil, fmt.Errorf("status schema %d, this ctl reads schema %d", probe.Schema, Schema)
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("not a pidone answer: %w", err)
	}
	return &s, nil
}

// Ctl is `pidone ctl status` for single mode: it asks the socket at path
// and prints the answer (JSON with asJSON); when nothing answers it says
// how to turn the socket on. It returns the LSB status code.
func Ctl(path string, asJSON bool, stdout, stderr io.Writer) int {
	s, err := Ask(path)
	if err == nil {
		if asJSON {
			out, _ := Encode(s, true)
			stdout.Write(out)
		} else {
			WriteText(stdout, s, time.Now(), bootTicks())
		}
		return StatusRunning
	}
	code := StatusUnknown
	if errors.Is(err, errNoServer) {
		fmt.Fprintf(stderr, "pidone ctl: no pidone answers: %v\n", err)
		if PidoneIsPID1() {
			fmt.Fprintf(stderr, "pidone ctl: pidone is PID 1 here, started without a control socket\n")
		} else {
			code = StatusNotRunning
		}
		fmt.Fprintf(stderr, "pidone ctl: %s", EnableHint)
	} else {
		fmt.Fprintf(stderr, "pidone ctl: %v\n", err)
	}
	if asJSON {
		state := "unknown"
		if code == StatusNotRunning {
			state = "not running"
		}
		out, _ := Encode(struct {
			State  string `json:"state"`
			Detail string `json:"detail"`
		}{state, err.Error()}, true)
		stdout.Write(out)
	}
	return code
}

// EnableHint says how to get a live status.
var EnableHint = "a live status needs pidone started with --control-socket PATH, or with " + EnvSocket + "=PATH in its environment\n" +
	"(docker run -e " + EnvSocket + "=" + DefaultSocket + " ...); pidone ctl looks at --control-socket, then $" + EnvSocket + ", then " + DefaultSocket + ";\n" +
	"a workers-mode pidone answers pidone ctl --pidfile PATH\n"

// PidoneIsPID1 says whether PID 1 of this PID namespace runs the very
// program file ctl runs (a `docker exec c pidone ctl` beside pidone as
// the container's init). False when it cannot tell.
func PidoneIsPID1() bool {
	var one, self unix.Stat_t
	if unix.Stat("/proc/1/exe", &one) != nil || unix.Stat("/proc/self/exe", &self) != nil {
		return false
	}
	return one.Dev == self.Dev && one.Ino == self.Ino && os.Getpid() != 1
}

// bootTicks is now in the clock of /proc/PID/stat's starttime.
func bootTicks() uint64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0
	}
	return uint64(ts.Sec)*userHZ + uint64(ts.Nsec)/(1e9/userHZ)
}

package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pidone/pidone/internal/unixsock"
	"github.com/pidone/pidone/logging"
	"golang.org/x/sys/unix"
)

// Limits: the socket is reachable by whoever can reach its path (mode
// 0600: pidone's uid, and root), and pidone must not grow or stall for a
// client that floods it, sends nothing or never reads.
const (
	// MaxRequest bounds a request line, newline included.
	MaxRequest = 256
	// Deadline is all a client gets, from accept to the last byte of the
	// answer: one that is silent or does not read is dropped then.
	Deadline = 2 * time.Second
	// MaxClients is how many clients are served at once; one more is
	// answered "busy" and closed at once.
	MaxClients = 4
	// backlog is the accept queue; past it the kernel refuses
	// connections (EAGAIN for a non-blocking connect) and pidone sees
	// nothing.
	backlog = 8
	// Mode is the socket file's mode: pidone's own uid only (and root,
	// which any mode lets through; the peer check below says the same).
	Mode = 0o600
)

// Server answers status requests on a unix socket.
type Server struct {
	path     string
	dev, ino uint64
	ln       *os.File
	status   func(peerPid int) *Status
	log      *slog.Logger
	slots    chan struct{}
	uid      int
	// Served, if set, is called after each client has been answered (on
	// the client's goroutine).
	Served func()
}

// Listen creates the socket at path as workers' unix --listen sockets are
// created (internal/unixsock: bound in a private directory, given its mode
// there, then linked into place; a stale socket file nobody listens on is
// replaced, anything else at path is not). status makes each answer, on
// the server's goroutines; peerPid is the client's pid, which it may leave
// out of the processes listed.
func Listen(path string, status func(peerPid int) *Status, log *slog.Logger) (*Server, error) {
	fd, dev, ino, err := unixsock.Listen(path, Mode, -1, -1, backlog)
	if err != nil {
		return nil, err
	}
	// Non-blocking, so that os.NewFile hands the descriptor to the
	// runtime's poller: the accepting goroutine then sleeps in epoll with
	// the rest of pidone, and an idle pidone is never woken for it.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		unixsock.Remove(path, dev, ino)
		return nil, os.NewSyscallError("fcntl", err)
	}
	return &Server{path: path, dev: dev, ino: ino, ln: os.NewFile(uintptr(fd), path), status: status, log: log,
		slots: make(chan struct{}, MaxClients), uid: os.Geteuid()}, nil
}

// Serve accepts clients until Close; run it on a goroutine of its own.
func (s *Server) Serve() {
	rc, err := s.ln.SyscallConn()
	if err != nil {
		return
	}
	for {
		var conn int
		var aerr error
		err := rc.Read(func(fd uintptr) bool {
			conn, _, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			return !errors.Is(aerr, unix.EAGAIN)
		})
		switch {
		case err != nil:
			return // closed
		case errors.Is(aerr, unix.EINTR), errors.Is(aerr, unix.ECONNABORTED):
			continue
		case aerr != nil:
			// EMFILE and the like: nothing to do but try again later,
			// and not in a busy loop.
			s.log.Warn("control socket: cannot accept", "error", aerr, logging.Limit("control-accept"))
			time.Sleep(100 * time.Millisecond)
			continue
		}
		s.admit(conn)
	}
}

// admit checks who connected before doing anything else for them.
func (s *Server) admit(conn int) {
	cred, err := unix.GetsockoptUcred(conn, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		unix.Close(conn)
		return
	}
	if !Allowed(int(cred.Uid), s.uid) {
		unix.Close(conn)
		s.log.Warn("control socket: refused a client of another user", "uid", cred.Uid, "pid", cred.Pid, logging.Limit("control-refused"))
		return
	}
	select {
	case s.slots <- struct{}{}:
	default:
		// Non-blocking, and a few bytes into an empty socket buffer.
		unix.Write(conn, []byte(busyAnswer))
		unix.Close(conn)
		s.log.Warn("control socket: too many clients at once; one was turned away", "max", MaxClients, logging.Limit("control-busy"))
		return
	}
	go func() {
		defer func() { <-s.slots }()
		s.serveOne(os.NewFile(uintptr(conn), "control client"), int(cred.Pid))
		if s.Served != nil {
			s.Served()
		}
	}()
}

// Allowed says whether a client of uid may ask a pidone running as self:
// root, or pidone's own user.
func Allowed(uid, self int) bool { return uid == 0 || uid == self }

const busyAnswer = `{"error":"busy: too many clients at once"}` + "\n"

// serveOne reads one request and answers it, all within Deadline.
func (s *Server) serveOne(c *os.File, peerPid int) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(Deadline))
	buf := make([]byte, MaxRequest)
	n := 0
	for n < len(buf) && bytes.IndexByte(buf[:n], '\n') < 0 {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			break
		}
	}
	var answer any
	switch verb, err := ParseRequest(buf[:n]); {
	case err != nil:
		answer = errorAnswer{err.Error()}
	case verb == "status":
		answer = s.status(peerPid)
	}
	b, err := Encode(answer, false)
	if err != nil {
		return
	}
	c.Write(b)
}

// Encode is JSON for people and jq, not for HTML (an argv's & stays &),
// ended by a newline; indent for ctl --json.
func Encode(v any, indent bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	err := enc.Encode(v)
	return buf.Bytes(), err
}

type errorAnswer struct {
	Error string `json:"error"`
}

// ParseRequest reads a request: one line, "status", ended by a newline,
// in at most MaxRequest bytes.
func ParseRequest(b []byte) (string, error) {
	i := bytes.IndexByte(b, '\n')
	switch {
	case i < 0 && len(b) >= MaxRequest:
		return "", fmt.Errorf("request longer than %d bytes", MaxRequest)
	case i < 0:
		return "", errors.New("request not ended by a newline")
	case i+1 != len(b):
		return "", errors.New("more than one line")
	}
	line := string(bytes.TrimSuffix(b[:i], []byte("\r")))
	if line != "status" {
		return "", fmt.Errorf("unknown request %q: the one request is \"status\"", clipRequest(line))
	}
	return line, nil
}

// clipRequest keeps an error about a request short.
func clipRequest(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// Close stops accepting and removes the socket file if it is still the
// one Listen made. Clients being served finish within Deadline.
func (s *Server) Close() {
	s.ln.Close()
	unixsock.Remove(s.path, s.dev, s.ino)
}

// CheckPath says what is wrong with path as a place for the socket, as far
// as can be known before pidone runs: it must be absolute (pidone ctl, run
// elsewhere, finds it by the same name), its directory must exist, and its
// last element must fit in a socket address once bound in the private
// directory (internal/unixsock).
func CheckPath(path string) error {
	switch {
	case path == "":
		return errors.New("the path is empty")
	case !filepath.IsAbs(path):
		return fmt.Errorf("%s is not an absolute path", path)
	case strings.HasSuffix(path, "/"):
		return fmt.Errorf("%s names a directory, not a socket", path)
	}
	dir, name := filepath.Split(path)
	if max := len(unix.RawSockaddrUnix{}.Path) - 1 - len("/proc/self/fd/1000000/"); len(name) > max {
		return fmt.Errorf("the name %s is longer than %d bytes", name, max)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("directory %s: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

package workers

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The sd_notify(3) protocol, both ways.
//
// Workers of a group with --ready notify get NOTIFY_SOCKET, the address of
// a datagram socket the master owns, and send it newline-separated
// KEY=VALUE lines: READY=1 when they serve, STOPPING=1, STATUS=text. The
// sender is who the kernel says it is: the socket has SO_PASSCRED, so every
// datagram carries the sender's pid as SCM_CREDENTIALS, translated into
// pidone's PID namespace; what the message says about pids (MAINPID=) is
// never believed. Only a process with CAP_SYS_ADMIN can send credentials
// other than its own, as with systemd.
//
// The socket is bound to an abstract address the kernel chooses (autobind:
// "@" and five hex digits), so it needs no writable directory (an image
// FROM scratch has no /run) and cannot collide with another pidone in the
// same network namespace. Every sd_notify implementation takes the "@"
// form (libsystemd, Go's net, Python's socket, gunicorn).
//
// An abstract address has no permissions: any process in the network
// namespace can send to it, whatever its uid or PID namespace (issue 18).
// So a datagram from a stranger must cost pidone nothing but a rate-limited
// log line: the loop checks the sender before it looks at the text, and
// the reader never blocks on what a stranger sent. The one thing a
// datagram can carry that blocks is a descriptor: the close of the last
// reference to a TCP socket with SO_LINGER and unacknowledged data sleeps
// for the linger time (socket(7)), and a reader asleep reads no READY=1.
// Where the kernel has SO_PASSRIGHTS (Linux 6.16), it is off, and a sender
// of descriptors gets EPERM: none ever arrives. Elsewhere, every socket
// that arrives is made to close as an abort (SO_LINGER 0, measured: 0.1 ms
// rather than the 5 s linger it was sent with) and every descriptor is
// closed by a goroutine of its own, never by the reader.
//
// Upwards, when pidone itself was started with a NOTIFY_SOCKET (systemd's
// Type=notify), the master sends READY=1 once its first generation is
// ready, RELOADING=1 and READY=1 around each reload, and STOPPING=1.

// notifyBufferSize is the largest message read; systemd reads no more
// either (NOTIFY_BUFFER_MAX). A longer one is cut and logged as such.
const notifyBufferSize = 4096

// soPassRights is SO_PASSRIGHTS (socket(7), Linux 6.16): set to 0, the
// kernel refuses a datagram that carries descriptors (SCM_RIGHTS) at the
// sender's sendmsg, with EPERM. golang.org/x/sys/unix v0.49.0 does not
// define it yet; 83 is its value on every architecture Go runs on
// (include/uapi/asm-generic/socket.h and arch/mips's socket.h).
const soPassRights = 83

// maxPassedFDs is the most descriptors one message can carry (SCM_MAX_FD).
const maxPassedFDs = 253

// closerQueue is how many passed descriptors may wait for the closer.
const closerQueue = 64

// notification is one datagram read from the notify socket.
type notification struct {
	// pid is the sender's pid in pidone's PID namespace (SCM_CREDENTIALS);
	// 0 if the kernel gave none (a sender outside the namespace).
	pid  int
	text string
	// truncated: the message or its control data did not fit.
	truncated bool
	// fds counts descriptors the sender passed (FDSTORE=1): pidone keeps
	// none, they are closed on arrival.
	fds int
	// err ends the reader: the socket failed.
	err error
}

// notifySocket is the datagram socket workers send to.
type notifySocket struct {
	fd   int
	addr string // NOTIFY_SOCKET: "@" and the abstract name
	// refusesRights: SO_PASSRIGHTS is off, no descriptor can arrive.
	refusesRights bool
	// closing takes passed descriptors to the closer goroutine, started
	// when the first arrives (never, with refusesRights).
	closing chan int
}

// openNotifySocket creates and binds the notify socket.
func openNotifySocket() (*notifySocket, error) {
	return bindNotifySocket(true)
}

// bindNotifySocket is openNotifySocket; refuseRights false leaves
// SO_PASSRIGHTS alone, as on a kernel without it (for tests).
func bindNotifySocket(refuseRights bool) (*notifySocket, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	fail := func(call string, err error) (*notifySocket, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("notify socket: %w", os.NewSyscallError(call, err))
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		return fail("setsockopt(SO_PASSCRED)", err)
	}
	n := &notifySocket{fd: fd}
	if refuseRights {
		// Before Linux 6.16 the option is unknown: ENOPROTOOPT.
		switch err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, soPassRights, 0); {
		case err == nil:
			n.refusesRights = true
		case !errors.Is(err, unix.ENOPROTOOPT):
			return fail("setsockopt(SO_PASSRIGHTS)", err)
		}
	}
	// An empty name is autobind (unix(7)): a fresh abstract address.
	if err := unix.Bind(fd, &unix.SockaddrUnix{}); err != nil {
		return fail("bind", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	ua, ok := sa.(*unix.SockaddrUnix)
	if !ok || !strings.HasPrefix(ua.Name, "@") {
		return fail("getsockname", fmt.Errorf("autobind gave %v, not an abstract address", sa))
	}
	n.addr = ua.Name
	return n, nil
}

// closeAll closes the descriptors it is given, one after the other. A
// close that blocks (a file of a FUSE server the sender runs) holds up
// only this goroutine, and once closerQueue more are waiting, the reader:
// never the loop.
func closeAll(fds <-chan int) {
	for fd := range fds {
		unix.Close(fd)
	}
}

// read delivers every datagram to out, for the master's loop. It blocks in
// recvmsg(2) until a message comes, so an idle master does not wake up; it
// returns only when the socket fails, after sending that error.
func (n *notifySocket) read(out chan<- notification) {
	for {
		msg := n.receive()
		out <- msg
		if msg.err != nil {
			return
		}
	}
}

// receive blocks until one datagram comes, and returns it.
func (n *notifySocket) receive() notification {
	buf := make([]byte, notifyBufferSize)
	// Room for the credentials and, should descriptors arrive (a kernel
	// without SO_PASSRIGHTS), for the most one message can carry: a
	// descriptor cut off is closed by the kernel itself, in this
	// goroutine's recvmsg, where nothing can keep that close from
	// blocking.
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(maxPassedFDs*4))
	for {
		nb, noob, flags, _, err := unix.Recvmsg(n.fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return notification{err: os.NewSyscallError("recvmsg", err)}
		}
		msg, fds := parseDatagram(buf[:nb], oob[:noob], flags)
		n.discard(fds)
		return msg
	}
}

// discard gets rid of passed descriptors without waiting on any: each
// socket is set to close as an abort (SO_LINGER on, 0 seconds), which
// drops its unsent data rather than wait for it, and the closer closes
// them. pidone keeps no descriptor (FDSTORE=1): a worker that passes a
// socket it still uses finds it reset when its own last close comes.
func (n *notifySocket) discard(fds []int) {
	for _, fd := range fds {
		// ENOTSOCK for what is not a socket: nothing to undo.
		_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		if n.closing == nil {
			n.closing = make(chan int, closerQueue)
			go closeAll(n.closing)
		}
		n.closing <- fd
	}
}

// parseDatagram reads one received datagram and its control messages:
// the sender's credentials, and the descriptors it passed, which the
// caller must close.
func parseDatagram(data, oob []byte, flags int) (notification, []int) {
	msg := notification{text: string(data), truncated: flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0}
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		msg.truncated = true
		return msg, nil
	}
	// unix.ParseUnixCredentials and ParseUnixRights trust the length of
	// what they read: a short one reads past its end, and can panic
	// (found by FuzzNotifyMessage). The kernel never writes such a
	// message, but a panic here would end PID 1: lengths are checked.
	var passed []int
	for _, c := range cmsgs {
		if c.Header.Level != unix.SOL_SOCKET {
			continue
		}
		switch c.Header.Type {
		case unix.SCM_CREDENTIALS:
			if len(c.Data) != unix.SizeofUcred {
				msg.truncated = true
				continue
			}
			cred, _ := unix.ParseUnixCredentials(&c)
			msg.pid = int(cred.Pid)
		case unix.SCM_RIGHTS:
			if whole := len(c.Data) &^ 3; whole != len(c.Data) {
				c.Data, msg.truncated = c.Data[:whole], true
			}
			fds, _ := unix.ParseUnixRights(&c)
			passed = append(passed, fds...)
		}
	}
	msg.fds = len(passed)
	return msg, passed
}

// notifyFields splits a message into its KEY=VALUE assignments, in order.
// Lines without "=" are not assignments and are dropped, as systemd does.
func notifyFields(text string) [][2]string {
	var fields [][2]string
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k != "" {
			fields = append(fields, [2]string{k, v})
		}
	}
	return fields
}

// sdNotify sends state to the notify socket at addr (a path, or "@" for an
// abstract address), as sd_notify(3) does. It does not wait: a supervisor
// that does not read is not pidone's problem.
func sdNotify(addr, state string) error {
	if addr == "" || addr[0] != '/' && addr[0] != '@' {
		return fmt.Errorf("NOTIFY_SOCKET %q is not a unix socket path or @abstract name", addr)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, []byte(state), unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT, &unix.SockaddrUnix{Name: addr}); err != nil {
		return os.NewSyscallError("sendto", err)
	}
	return nil
}

// supervisorPhase is what pidone last told its own supervisor.
type supervisorPhase int

const (
	phaseStarting  supervisorPhase = iota // nothing said yet
	phaseReady                            // READY=1
	phaseReloading                        // RELOADING=1
	phaseStopping                         // STOPPING=1
)

// supervisorMessage is what to send when the master's phase changes from
// old to new ("" for nothing). monotonic is CLOCK_MONOTONIC, which systemd
// wants with RELOADING=1 (MONOTONIC_USEC, sd_notify(3)).
func supervisorMessage(old, new supervisorPhase, status string, monotonic time.Duration) string {
	if old == new {
		return ""
	}
	switch new {
	case phaseReady:
		return "READY=1\nSTATUS=" + status
	case phaseReloading:
		return fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d\nSTATUS=%s", monotonic.Microseconds(), status)
	case phaseStopping:
		return "STOPPING=1\nSTATUS=" + status
	}
	return ""
}

// monotonicNow reads CLOCK_MONOTONIC.
func monotonicNow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

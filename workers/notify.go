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
// Upwards, when pidone itself was started with a NOTIFY_SOCKET (systemd's
// Type=notify), the master sends READY=1 once its first generation is
// ready, RELOADING=1 and READY=1 around each reload, and STOPPING=1.

// notifyBufferSize is the largest message read; systemd reads no more
// either (NOTIFY_BUFFER_MAX). A longer one is cut and logged as such.
const notifyBufferSize = 4096

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
}

// openNotifySocket creates and binds the notify socket.
func openNotifySocket() (*notifySocket, error) {
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
	return &notifySocket{fd: fd, addr: ua.Name}, nil
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
	// Room for the credentials and for the most descriptors one message
	// can carry (SCM_MAX_FD), so that every passed descriptor is seen and
	// closed rather than cut off and leaked.
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(253*4))
	for {
		nb, noob, flags, _, err := unix.Recvmsg(n.fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return notification{err: os.NewSyscallError("recvmsg", err)}
		}
		return parseDatagram(buf[:nb], oob[:noob], flags)
	}
}

// parseDatagram reads one received datagram and its control messages,
// closing any descriptors it carried.
func parseDatagram(data, oob []byte, flags int) notification {
	msg := notification{text: string(data), truncated: flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0}
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		msg.truncated = true
		return msg
	}
	for _, c := range cmsgs {
		if cred, err := unix.ParseUnixCredentials(&c); err == nil {
			msg.pid = int(cred.Pid)
			continue
		}
		if fds, err := unix.ParseUnixRights(&c); err == nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			msg.fds += len(fds)
		}
	}
	return msg
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

package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// notifystranger is a process that is not a worker and talks to a master's
// notify socket anyway, as any process in the network namespace can reach
// an abstract socket (issue 18). The e2e tests run it as uid 65534 outside
// the master's PID namespace.
//
//	notifystranger -socket @ADDR -linger 600s
//	    sends one datagram carrying a TCP socket whose close blocks for
//	    the linger time (SO_LINGER, a send queue the peer never
//	    acknowledges), then holds the peer until stdin closes. Prints
//	    "notifystranger linger sent outq=N" or "... refused outq=N
//	    error=E" (the master refused passed descriptors).
//	notifystranger -socket @ADDR -flood 3s
//	    sends "READY=1" as fast as it can for that long. Prints
//	    "notifystranger flood sent=N full=M".
func init() { hidden["notifystranger"] = runNotifyStranger }

func runNotifyStranger(args []string) error {
	fs := flag.NewFlagSet("notifystranger", flag.ContinueOnError)
	socket := fs.String("socket", "", "the notify socket (NOTIFY_SOCKET)")
	linger := fs.Duration("linger", 0, "send a socket that lingers this long on close")
	flood := fs.Duration("flood", 0, "send READY=1 for this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	to := &unix.SockaddrUnix{Name: *socket}
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	switch {
	case *linger > 0:
		return sendLingering(s, to, *linger)
	case *flood > 0:
		return floodNotify(s, to, *flood)
	}
	return errors.New("want -linger or -flood")
}

// sendLingering sends a TCP socket whose last close sleeps for linger
// (lingering), and makes sure the receiver holds that last reference:
// sender and receiver race to close their copies, and when the receiver
// closed first, the sender's close is the one that blocks. So the sender
// closes on a goroutine of its own and, if that close blocks, tries again
// with a new socket; a few datagrams sent just before keep the receiver
// busy for the moment the sender needs.
func sendLingering(s int, to *unix.SockaddrUnix, linger time.Duration) error {
	const attempts = 5
	for range attempts {
		c, peer, outq, err := lingering(linger)
		if err != nil {
			return err
		}
		defer unix.Close(peer) // held, never read, until we exit: its close would reset c
		for range 8 {
			_ = unix.Sendto(s, []byte("X=1"), unix.MSG_DONTWAIT, to)
		}
		if err := unix.Sendmsg(s, []byte("FDSTORE=1"), unix.UnixRights(c), to, 0); err != nil {
			// Ours is the last reference: close it without lingering.
			_ = unix.SetsockoptLinger(c, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1})
			unix.Close(c)
			fmt.Printf("notifystranger linger refused outq=%d error=%v\n", outq, err)
			return holdUntilEOF()
		}
		closed := make(chan struct{})
		go func() {
			unix.Close(c)
			close(closed)
		}()
		select {
		case <-closed:
			fmt.Printf("notifystranger linger sent outq=%d\n", outq)
			return holdUntilEOF()
		case <-time.After(time.Second):
			// The receiver closed its copy first; ours lingers.
		}
	}
	return fmt.Errorf("the receiver closed its copy first %d times", attempts)
}

// holdUntilEOF waits for stdin to close.
func holdUntilEOF() error {
	_, _ = os.Stdin.Read(make([]byte, 1))
	return nil
}

// lingering returns a TCP socket c whose last close sleeps for linger: it
// has SO_LINGER set and data queued that its peer never takes (the peer's
// receive buffer is full and nobody reads it), so the FIN it would send is
// never acknowledged (tcp(7), socket(7) SO_LINGER). outq is how much it
// holds unacknowledged (SIOCOUTQ); peer must be kept open.
func lingering(linger time.Duration) (c, peer, outq int, err error) {
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, 0, 0, err
	}
	defer unix.Close(ln)
	// Small buffers on both ends, set before the handshake so the window
	// is small from the start.
	if err := unix.SetsockoptInt(ln, unix.SOL_SOCKET, unix.SO_RCVBUF, 4096); err != nil {
		return 0, 0, 0, err
	}
	if err := unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return 0, 0, 0, err
	}
	if err := unix.Listen(ln, 1); err != nil {
		return 0, 0, 0, err
	}
	sa, err := unix.Getsockname(ln)
	if err != nil {
		return 0, 0, 0, err
	}
	if c, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
		return 0, 0, 0, err
	}
	if err := unix.SetsockoptInt(c, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096); err != nil {
		return 0, 0, 0, err
	}
	if err := unix.Connect(c, sa); err != nil {
		return 0, 0, 0, err
	}
	if peer, _, err = unix.Accept(ln); err != nil {
		return 0, 0, 0, err
	}
	// Write until nothing more goes for a while: the peer's receive buffer
	// is full (the kernel collapses its queue a few times before it is) and
	// our send queue holds the rest.
	if err := unix.SetNonblock(c, true); err != nil {
		return 0, 0, 0, err
	}
	buf := make([]byte, 64<<10)
	for stalls := 0; stalls < 3; {
		if _, err := unix.Write(c, buf); errors.Is(err, unix.EAGAIN) {
			stalls++
			time.Sleep(100 * time.Millisecond)
		} else if err != nil {
			return 0, 0, 0, err
		} else {
			stalls = 0
		}
	}
	if err := unix.SetNonblock(c, false); err != nil {
		return 0, 0, 0, err
	}
	if outq, err = unix.IoctlGetInt(c, unix.SIOCOUTQ); err != nil {
		return 0, 0, 0, err
	}
	l := &unix.Linger{Onoff: 1, Linger: int32(linger / time.Second)}
	return c, peer, outq, unix.SetsockoptLinger(c, unix.SOL_SOCKET, unix.SO_LINGER, l)
}

// floodNotify sends READY=1 without pause for d. A full queue (EAGAIN)
// is counted and tried again.
func floodNotify(s int, to *unix.SockaddrUnix, d time.Duration) error {
	msg := []byte("READY=1")
	sent, full := 0, 0
	for end := time.Now().Add(d); time.Now().Before(end); {
		switch err := unix.Sendto(s, msg, unix.MSG_DONTWAIT, to); {
		case err == nil:
			sent++
		case errors.Is(err, unix.EAGAIN):
			full++
		default:
			return err
		}
	}
	fmt.Printf("notifystranger flood sent=%d full=%d\n", sent, full)
	return nil
}

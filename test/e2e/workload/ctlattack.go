package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// runCtlAttack is a hostile local user at single mode's control socket
// (issue 21): it opens -n connections as fast as it can and keeps them all
// open, sending garbage on every other one and nothing on the rest; then,
// with -swap, it moves the socket away and puts a symlink to -target at
// its path. It prints "connected N", "closed N" (connections the server
// closed at once, with no answer), "answered N" (any byte read back), and
// "swapped" once the symlink is in place. It runs as uid 65534 with
// CAP_DAC_OVERRIDE, so that the socket's mode 0600 lets it through and
// only pidone's own check (SO_PEERCRED) stands in its way.
func runCtlAttack(args []string) error {
	fs := flag.NewFlagSet("ctlattack", flag.ContinueOnError)
	n := fs.Int("n", 200, "connections")
	swap := fs.Bool("swap", false, "replace the socket by a symlink to -target")
	target := fs.String("target", "", "what the symlink points at")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: ctlattack [-n N] [-swap -target PATH] SOCKET")
	}
	path := fs.Arg(0)
	var conns []int
	for i := 0; i < *n; i++ {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
			unix.Close(fd)
			continue
		}
		if i%2 == 0 {
			unix.Write(fd, []byte("\x00\xffGET / HTTP/1.0\r\nstatus\nstatus\n"))
		}
		conns = append(conns, fd)
	}
	fmt.Printf("connected %d\n", len(conns))
	closed, answered := 0, 0
	for _, fd := range conns {
		// Wait at most a little longer than the server's deadline.
		tv := unix.Timeval{Sec: 3}
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		b := make([]byte, 64)
		m, err := unix.Read(fd, b)
		switch {
		case m > 0:
			answered++
		case m == 0 && err == nil, err == unix.ECONNRESET:
			closed++
		}
	}
	fmt.Printf("closed %d\nanswered %d\n", closed, answered)
	if *swap {
		if err := os.Rename(path, filepath.Join(filepath.Dir(path), "moved.sock")); err != nil {
			return err
		}
		if err := os.Symlink(*target, path); err != nil {
			return err
		}
		fmt.Println("swapped")
	}
	// Keep the connections until told to go (stdin closed), so that a
	// server that kept them would be seen holding them.
	os.Stdin.Read(make([]byte, 1))
	return nil
}

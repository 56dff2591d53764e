package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// runHTTPServer is an HTTP server written as a worker of `pidone --listen`
// is: it takes its listening socket from socket activation (LISTEN_PID,
// LISTEN_FDS, LISTEN_FDNAMES; sd_listen_fds(3)), says READY=1 on
// NOTIFY_SOCKET once it serves, and on SIGTERM stops accepting and drains:
// every request it has begun is answered, with "Connection: close" so that
// keep-alive clients move to another worker. It prints on stdout:
//
//	httpserver ready pid=P gen=G fds=N
//	httpserver drained pid=P served=N left=K   (K connections closed at -drain)
//
// Every response body is "pid=P gen=G\n"; ?sleep=DURATION answers after
// that long (a request in flight across a reload).
//
// With -reuseport HOST:PORT it binds its own socket with SO_REUSEPORT
// instead, as workers must without pidone's sockets (make bench compares
// the two). With -notify-from-child, READY=1 comes from a child process,
// not from the worker: pidone must not believe it.
func runHTTPServer(args []string) error {
	fs := flag.NewFlagSet("httpserver", flag.ContinueOnError)
	name := fs.String("name", "", "the socket of this name in LISTEN_FDNAMES (default: the first)")
	reuseport := fs.String("reuseport", "", "bind HOST:PORT with SO_REUSEPORT instead of using LISTEN_FDS")
	drain := fs.Duration("drain", 3*time.Second, "on SIGTERM, how long open connections may take")
	notifyFromChild := fs.Bool("notify-from-child", false, "send READY=1 from a child process (a worker pidone must not believe)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)

	pid, gen, fds := os.Getpid(), os.Getenv("PIDONE_WORKER_GENERATION"), os.Getenv("LISTEN_FDS")
	var ln net.Listener
	var err error
	if *reuseport != "" {
		ln, err = listenReusePort(*reuseport)
	} else {
		ln, err = activationListener(*name)
	}
	if err != nil {
		return err
	}
	var draining atomic.Bool
	var open, served atomic.Int64
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil && d > 0 && d < time.Minute {
				time.Sleep(d)
			}
			if draining.Load() {
				w.Header().Set("Connection", "close")
			}
			served.Add(1)
			fmt.Fprintf(w, "pid=%d gen=%s\n", pid, gen)
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				open.Add(1)
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	if *notifyFromChild {
		cmd, err := reexec("sdnotify", "READY=1")
		if err == nil {
			cmd.Stderr = os.Stderr
			err = cmd.Run()
		}
		if err != nil {
			return fmt.Errorf("READY=1 from a child: %w", err)
		}
	} else if err := sdNotify("READY=1\nSTATUS=serving"); err != nil {
		return err
	}
	fmt.Printf("httpserver ready pid=%d gen=%s fds=%s\n", pid, gen, fds)

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-term:
	}
	_ = sdNotify("STOPPING=1")
	// Stop accepting: this closes our descriptor only. The socket stays
	// open in pidone and in every other worker, and connections that are
	// queued go to them.
	draining.Store(true)
	ln.Close()
	deadline := time.Now().Add(*drain)
	for open.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	left := open.Load()
	srv.Close()
	fmt.Printf("httpserver drained pid=%d served=%d left=%d\n", pid, served.Load(), left)
	return nil
}

// activationListener takes the listening socket pidone passed, as
// sd_listen_fds(3) says: only if LISTEN_PID is this process.
func activationListener(name string) (net.Listener, error) {
	if want := strconv.Itoa(os.Getpid()); os.Getenv("LISTEN_PID") != want {
		return nil, fmt.Errorf("LISTEN_PID=%q is not this process (%s)", os.Getenv("LISTEN_PID"), want)
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("LISTEN_FDS=%q: no socket passed", os.Getenv("LISTEN_FDS"))
	}
	fd := 3
	if name != "" {
		names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
		fd = -1
		for i, n := range names {
			if n == name {
				fd = 3 + i
			}
		}
		if fd < 0 {
			return nil, fmt.Errorf("no socket named %q in LISTEN_FDNAMES=%q", name, os.Getenv("LISTEN_FDNAMES"))
		}
	}
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(k) // not for our children
	}
	f := os.NewFile(uintptr(fd), "listen")
	defer f.Close()
	return net.FileListener(f)
}

func listenReusePort(address string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, serr)
	}}
	return lc.Listen(context.Background(), "tcp", address)
}

// sdNotify sends state to NOTIFY_SOCKET, if there is one.
func sdNotify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("NOTIFY_SOCKET %s: %w", addr, err)
	}
	defer conn.Close()
	_, err = conn.Write([]byte(state))
	return err
}

// runSDNotify sends its argument to NOTIFY_SOCKET (the child of
// httpserver -notify-from-child).
func runSDNotify(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: sdnotify STATE")
	}
	return sdNotify(args[0])
}

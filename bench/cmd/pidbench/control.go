package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// controlRows measures what single mode's control socket (--control-socket,
// issue 21) costs an idle pidone: two pidones side by side over `benchkid
// idle`, one without the socket and one with it, settled as in the idle
// rows; then the wake-ups of the one with the socket over cfg.idleWindow
// (the socket's goroutine waits in the runtime's epoll, so the target is
// none), and its RSS beside the other's. Then ten status requests, and the
// same again once they are answered: a request must leave no timer or
// goroutine that wakes pidone later.
func controlRows(cfg *config) ([]row, error) {
	load0 := loadavg()
	dir, err := os.MkdirTemp(cfg.out, "control")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "pidone.sock")

	specs := []initSpec{
		{Name: "without", Path: cfg.pidone, Args: []string{"--"}},
		{Name: "with", Path: cfg.pidone, Args: []string{"--control-socket", sock, "--"}},
	}
	started, stop, err := startAll(cfg, "control", specs, "idle")
	defer stop()
	if err != nil {
		return nil, fmt.Errorf("pidone %v", err)
	}
	without, with := started[0], started[1]
	// Bound before the child started; not asked yet, so that the first
	// figures are those of a socket nobody used.
	if _, err := os.Lstat(sock); err != nil {
		return nil, fmt.Errorf("no control socket: %v", err)
	}

	// idle settles both, then counts the wake-ups of the one with the
	// socket over the window and reads both RSS.
	idle := func(when string) (wakeups int64, rssWith, rssWithout float64, err error) {
		time.Sleep(cfg.idleSettle)
		before, err := ctxSwitches(with.pid)
		if err != nil {
			return 0, 0, 0, err
		}
		time.Sleep(cfg.idleWindow)
		after, err := ctxSwitches(with.pid)
		if err != nil {
			return 0, 0, 0, err
		}
		mw, err := memoryOf(with.pid)
		if err != nil {
			return 0, 0, 0, err
		}
		mo, err := memoryOf(without.pid)
		if err != nil {
			return 0, 0, 0, err
		}
		cfg.logf("control %s: wakeups=%d rss with=%dKiB without=%dKiB threads with=%d without=%d",
			when, after-before, mw.RSS, mo.RSS, mw.Threads, mo.Threads)
		return after - before, float64(mw.RSS), float64(mo.RSS), nil
	}
	wake0, rssWith0, rssWithout0, err := idle("settled")
	if err != nil {
		return nil, err
	}
	const requests = 10
	size := 0
	for range requests {
		n, err := askStatus(sock)
		if err != nil {
			return nil, fmt.Errorf("status request: %v", err)
		}
		size = n
	}
	wake1, rssWith1, rssWithout1, err := idle(fmt.Sprintf("after %d requests", requests))
	if err != nil {
		return nil, err
	}

	only := func(v float64) map[string]float64 { return map[string]float64{"pidone": v} }
	load := load0 + " -> " + loadavg()
	win := cfg.idleWindow.String()
	return []row{
		{Group: "control", Metric: "control socket on: wake-ups in " + win, Unit: "count", Digits: 0, Values: only(float64(wake0)),
			Target: target{Kind: "max", Limit: 0}, Load: load,
			Note: "voluntary+involuntary context switches, all threads, after " + cfg.idleSettle.String() + " settling"},
		{Group: "control", Metric: "control socket on: RSS change, settled", Unit: "KiB", Digits: 0, Values: only(rssWith0 - rssWithout0),
			Target: target{Kind: "max", Limit: 100}, Load: load,
			Note: fmt.Sprintf("VmRSS with the socket minus without (%.0f - %.0f KiB)", rssWith0, rssWithout0)},
		{Group: "control", Metric: fmt.Sprintf("control socket on: wake-ups in %s after %d status requests", win, requests), Unit: "count", Digits: 0,
			Values: only(float64(wake1)), Target: target{Kind: "max", Limit: 0}, Load: load,
			Note: "a request leaves no timer or goroutine behind"},
		{Group: "control", Metric: fmt.Sprintf("control socket on: RSS change after %d status requests", requests), Unit: "KiB", Digits: 0,
			Values: only(rssWith1 - rssWithout1), Load: load,
			Note: fmt.Sprintf("VmRSS with the socket minus without (%.0f - %.0f KiB); answers of %d bytes", rssWith1, rssWithout1, size)},
	}, nil
}

// askStatus asks the control socket at path for the status and returns the
// size of the answer.
func askStatus(path string) (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return 0, err
	}
	if _, err := f.Write([]byte("status\n")); err != nil {
		return 0, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return 0, err
	}
	if len(b) == 0 || b[0] != '{' || string(b[:min(len(b), 9)]) == `{"error":` {
		return 0, fmt.Errorf("answer %q", b[:min(len(b), 80)])
	}
	return len(b), nil
}

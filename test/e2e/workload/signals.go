package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// parseSignal accepts a signal number ("15") or name ("TERM", "SIGTERM").
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("signal %d out of range 1..64", n)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// Realtime signals 35..64 (SIGRTMIN..SIGRTMAX as the Go runtime and glibc
// see them: 32..34 are reserved).
const rtFirst, rtLast = 35, 64

// realtimeSet is the signal set of the realtime signals sigrecord reads
// through a signalfd.
func realtimeSet() unix.Sigset_t {
	var set unix.Sigset_t
	for sig := rtFirst; sig <= rtLast; sig++ {
		set.Val[(sig-1)/64] |= 1 << (uint(sig-1) % 64)
	}
	return set
}

// forwardable lists the signals pidone promises to forward: 1..31 without
// SIGKILL and SIGSTOP (nobody can catch them), SIGCHLD (never forwarded),
// SIGPROF (the Go runtime's profiler owns it), plus the realtime signals
// 35..64 (32, 33 and 34 are reserved by the Go runtime).
func forwardable() []os.Signal {
	var sigs []os.Signal
	for n := 1; n <= 64; n++ {
		switch syscall.Signal(n) {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGPROF, 32, 33, 34:
			continue
		}
		sigs = append(sigs, syscall.Signal(n))
	}
	return sigs
}

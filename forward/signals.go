package forward

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pidone/pidone/internal/clip"
	"golang.org/x/sys/unix"
)

// Linux signal numbers that matter to the forwarding rules.
const (
	// rtMin is SIGRTMIN as C programs and `kill -l` see it: glibc keeps 32
	// and 33 for itself and reports 34.
	rtMin = 34
	// maxSignal is the highest signal number on Linux (_NSIG - 1).
	maxSignal = 64
)

// Catchable reports whether pidone, a Go program, can receive sig at all.
//
// SIGKILL and SIGSTOP cannot be caught by anyone. The Go runtime keeps
// SIGPROF for its profiler (its handler consumes it before os/signal sees
// it) and 33 for itself (runtime.sigPerThreadSyscall). 32 and 34 belong to
// C libraries (glibc's SIGCANCEL, musl's SIGSYNCCALL): the runtime leaves
// them at SIG_DFL, whose action would kill pidone, and os/signal cannot ask
// for them. pidone sets them to SIG_IGN for itself (ignoreLibcSignals) and
// takes them only on the main thread, with rt_sigtimedwait (Shortcut): they
// arrive while that thread waits, which is nearly always, and are discarded
// when it is busy (README, Signals).
func Catchable(sig unix.Signal) bool {
	switch {
	case sig < 1 || sig > maxSignal:
		return false
	case sig == unix.SIGKILL, sig == unix.SIGSTOP, sig == unix.SIGPROF, sig == runtimeSignal:
		return false
	}
	return true
}

// The signals between 31 and SIGRTMIN: 32 and 34 for C libraries, 33 the
// Go runtime's own.
const (
	libcSignal1   unix.Signal = 32
	runtimeSignal unix.Signal = 33
	libcSignal2   unix.Signal = 34
)

// Forwardable reports whether a received sig goes on to the child. SIGCHLD is
// pidone's own business (it means a child died, and the reaper handles it).
func Forwardable(sig unix.Signal) bool {
	return Catchable(sig) && sig != unix.SIGCHLD
}

// ForwardableSignals lists every signal pidone catches and forwards, in order.
func ForwardableSignals() []unix.Signal {
	var sigs []unix.Signal
	for s := unix.Signal(1); s <= maxSignal; s++ {
		if Forwardable(s) {
			sigs = append(sigs, s)
		}
	}
	return sigs
}

// Parse reads a signal the way a user writes it: TERM, SIGTERM, term, 15,
// RTMIN, RTMIN+3, SIGRTMAX-2. Any number from 1 to 64 is accepted; whether the
// signal can be caught or sent is for the caller to decide. Numbers and
// offsets are plain decimal digits: strconv.Atoi alone would also take
// "+15" and make RTMIN++3 read as RTMIN+3.
func Parse(s string) (unix.Signal, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	if n, ok := decimal(name); ok {
		if n < 1 || n > maxSignal {
			return 0, fmt.Errorf("signal number %s out of range 1-%d", clip.String(name), maxSignal)
		}
		return unix.Signal(n), nil
	}
	name = strings.TrimPrefix(name, "SIG")
	if sig, ok := parseRealtime(name); ok {
		return sig, nil
	}
	if sig := unix.SignalNum("SIG" + name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %s", clip.Quote(s))
}

// decimal reads a non-empty string of decimal digits; a number too large
// for an int reads as -1 (out of any range).
func decimal(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1, true
	}
	return n, true
}

// parseRealtime reads RTMIN, RTMIN+N, RTMAX and RTMAX-N.
func parseRealtime(name string) (unix.Signal, bool) {
	base, sign, rest := 0, 1, ""
	switch {
	case strings.HasPrefix(name, "RTMIN"):
		base, rest = rtMin, strings.TrimPrefix(name, "RTMIN")
	case strings.HasPrefix(name, "RTMAX"):
		base, sign, rest = maxSignal, -1, strings.TrimPrefix(name, "RTMAX")
	default:
		return 0, false
	}
	offset := 0
	if rest != "" {
		want := "+"
		if sign < 0 {
			want = "-"
		}
		n, ok := decimal(strings.TrimPrefix(rest, want))
		if !strings.HasPrefix(rest, want) || !ok || n < 0 {
			return 0, false
		}
		offset = n
	}
	sig := base + sign*offset
	if sig < rtMin || sig > maxSignal {
		return 0, false
	}
	return unix.Signal(sig), true
}

// Name returns the conventional name of sig: SIGTERM, SIGRTMIN+3.
func Name(sig unix.Signal) string {
	if sig >= rtMin && sig <= maxSignal {
		if sig == rtMin {
			return "SIGRTMIN"
		}
		return fmt.Sprintf("SIGRTMIN+%d", sig-rtMin)
	}
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return fmt.Sprintf("signal %d", int(sig))
}

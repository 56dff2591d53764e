// Package logging builds pidone's logger: log/slog, text or JSON, on stderr
// only (stdout belongs to the child), through a writer that survives its
// reader going away.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"

	"github.com/pidone/pidone/internal/clip"
	"github.com/pidone/pidone/internal/sigsys"
	"golang.org/x/sys/unix"
)

// Options selects the format and threshold of the log.
type Options struct {
	Format string // "text" or "json"
	Level  slog.Level
}

// New returns a logger writing to stderr.
func New(o Options) *slog.Logger {
	return NewTo(Stderr(), o)
}

// NewTo returns a logger writing to w. A failure that repeats is written
// at most once a second (limitFailures). JSON records hold numbers and
// names, never prose a program would have to parse (machineAttr).
func NewTo(w io.Writer, o Options) *slog.Logger {
	ho := &slog.HandlerOptions{Level: o.Level}
	if o.Format == "json" {
		ho.ReplaceAttr = machineAttr
		return slog.New(limitFailures(slog.NewJSONHandler(w, ho)))
	}
	return slog.New(limitFailures(slog.NewTextHandler(w, ho)))
}

// ParseLevel reads debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("unknown log level %s (want debug, info, warn or error)", clip.Quote(s))
	}
	return l, nil
}

// ParseFormat checks a --log-format value.
func ParseFormat(s string) (string, error) {
	if s != "text" && s != "json" {
		return "", fmt.Errorf("unknown log format %s (want text or json)", clip.Quote(s))
	}
	return s, nil
}

// Stderr returns a writer for file descriptor 2 that never raises SIGPIPE.
//
// pidone catches SIGPIPE in order to forward it, so a SIGPIPE the kernel
// raises because our own log reader went away would otherwise be forwarded
// to the child as a signal nobody sent. The kernel directs that SIGPIPE at
// the writing thread (pipe_write: send_sig), so each write runs on a locked
// thread with SIGPIPE blocked, and a SIGPIPE left pending by EPIPE is taken
// off that thread before unblocking. Once the reader is gone, log lines are
// dropped.
//
// SIGTTOU is blocked for the same reason: when stderr is a terminal with
// TOSTOP set and pidone has handed the foreground to its child, a write from
// pidone's background process group raises SIGTTOU and, with pidone's
// handler installed, the kernel retries the write for ever
// (tty_check_change). A blocked SIGTTOU counts as ignored and the write goes
// through (tini ignores SIGTTOU for this, catatonit blocks it).
func Stderr() io.Writer {
	return &pipeSafeWriter{fd: 2}
}

type pipeSafeWriter struct {
	mu     sync.Mutex
	fd     int
	broken bool
}

func (w *pipeSafeWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.broken {
		return len(p), nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	var sigpipe, block, old unix.Sigset_t
	sigpipe.Val[0] = 1 << (unix.SIGPIPE - 1)
	block.Val[0] = sigpipe.Val[0] | 1<<(unix.SIGTTOU-1)
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &block, &old); err != nil {
		return 0, err
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)

	n, err := writeAll(w.fd, p)
	if err == unix.EPIPE {
		w.broken = true
		takePending(&sigpipe)
		return len(p), nil
	}
	return n, err
}

func writeAll(fd int, p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := unix.Write(fd, p[done:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

// takePending dequeues a pending signal in set without waiting; none
// pending is not an error.
func takePending(set *unix.Sigset_t) {
	_, _ = sigsys.Timedwait(set, &unix.Timespec{})
}

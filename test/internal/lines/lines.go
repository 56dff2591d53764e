// Package lines records every line of a child's output stream (a pipe, a
// pty, docker logs -f) so that an end-to-end test can wait for the line it
// expects and, when it fails, show the last lines the child wrote.
//
// It serves the test tiers under test/ only (hence test/internal): each of
// them drives real processes whose only report is what they print.
package lines

import (
	"bufio"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// tailLines is how many of the last lines a failure message shows.
const tailLines = 20

// Reader reads one stream line by line in the background from New until
// the stream ends, keeping every line.
type Reader struct {
	name string // for messages: "stdout", "stderr", "terminal"
	rc   io.ReadCloser

	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex
	all     []string
	eof     bool
	err     error         // why reading stopped, if not a clean EOF
	changed chan struct{} // closed (and replaced) on every new line and at the end
}

// New starts reading r, named name in failure messages. r is closed when
// it ends or on Close, whichever comes first, so the caller need not keep it.
func New(name string, r io.ReadCloser) *Reader {
	l := &Reader{name: name, rc: r, changed: make(chan struct{})}
	go l.read()
	return l
}

func (l *Reader) read() {
	defer l.Close()
	sc := bufio.NewScanner(l.rc)
	// Log lines with long values must not end the stream early.
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		l.mu.Lock()
		l.all = append(l.all, sc.Text())
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
	}
	l.mu.Lock()
	l.eof, l.err = true, sc.Err()
	close(l.changed)
	l.mu.Unlock()
}

// Close closes the stream's read end, for a test that wants the writer to
// see EPIPE or that must stop reading a stream the child keeps open.
// Reading then ends; the lines read so far stay. Only the first call
// closes; later ones return its result.
func (l *Reader) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.rc.Close() })
	return l.closeErr
}

// Snapshot returns a copy of the lines read so far.
func (l *Reader) Snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.all...)
}

// Count returns how many of the lines read so far match re.
func (l *Reader) Count(re *regexp.Regexp) int {
	n := 0
	for _, s := range l.Snapshot() {
		if re.MatchString(s) {
			n++
		}
	}
	return n
}

// WaitFor returns the submatches of the first line matching re, waiting
// for it at most timeout. It fails the test on timeout or when the stream
// ends first.
func (l *Reader) WaitFor(t testing.TB, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	return l.WaitForNth(t, re, 1, timeout)
}

// WaitForNth is WaitFor for the nth (from 1) line matching re, for a line
// printed once per event (a worker's start, say).
func (l *Reader) WaitForNth(t testing.TB, re *regexp.Regexp, nth int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for i := 0; ; {
		l.mu.Lock()
		for ; i < len(l.all); i++ {
			if m := re.FindStringSubmatch(l.all[i]); m != nil {
				if seen++; seen == nth {
					l.mu.Unlock()
					return m
				}
			}
		}
		eof, err, changed := l.eof, l.err, l.changed
		l.mu.Unlock()
		if eof {
			ended := l.name + " closed"
			if err != nil {
				ended += " (" + err.Error() + ")"
			}
			if nth == 1 {
				t.Fatalf("%s without a line matching %q; last lines:\n%s", ended, re, l.Tail(tailLines))
			}
			t.Fatalf("%s with %d lines matching %q, want %d; last lines:\n%s", ended, seen, re, nth, l.Tail(tailLines))
		}
		select {
		case <-changed:
		case <-deadline.C:
			if nth == 1 {
				t.Fatalf("no line matching %q on %s within %v; last lines:\n%s", re, l.name, timeout, l.Tail(tailLines))
			}
			t.Fatalf("%s: %d lines matching %q within %v, want %d; last lines:\n%s", l.name, seen, re, timeout, nth, l.Tail(tailLines))
		}
	}
}

// WaitEOF waits until every writer has closed the stream, so that it holds
// all the lines there will be.
func (l *Reader) WaitEOF(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		eof, changed := l.eof, l.changed
		l.mu.Unlock()
		if eof {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("%s still open after %v; last lines:\n%s", l.name, timeout, l.Tail(tailLines))
		}
	}
}

// Tail returns the last n lines read so far, one per line, each indented
// by a tab to set them off in a test's log.
func (l *Reader) Tail(n int) string {
	all := l.Snapshot()
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return "\t" + strings.Join(all, "\n\t")
}

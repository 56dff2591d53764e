package forward

import (
	"fmt"
	"strings"
	"time"

	"github.com/pidone/pidone/internal/clip"
	"golang.org/x/sys/unix"
)

// Drop is the rewrite target that means "do not forward this signal".
const Drop unix.Signal = 0

// Rewrites maps a signal pidone receives to the signal it forwards in its
// place (-r TERM:QUIT), or to Drop. Signals not in the table pass unchanged.
type Rewrites map[unix.Signal]unix.Signal

// Apply returns the signal to forward for a received sig, and false when the
// table drops it.
func (r Rewrites) Apply(sig unix.Signal) (unix.Signal, bool) {
	to, ok := r[sig]
	if !ok {
		return sig, true
	}
	return to, to != Drop
}

// ParseRewrite reads one FROM:TO rule. FROM is any signal that can reach
// pidone (see Forwardable); TO is any signal 1-64, or 0, "none" or "drop"
// to drop FROM. Both sides take names or numbers: TERM:QUIT, 15:3,
// SIGUSR1:none, RTMIN+3:RTMIN+4.
func ParseRewrite(rule string) (from, to unix.Signal, err error) {
	f, t, ok := strings.Cut(rule, ":")
	if !ok {
		return 0, 0, fmt.Errorf("rewrite %s is not FROM:TO", clip.Quote(rule))
	}
	if from, err = parseReceivable(f); err != nil {
		return 0, 0, err
	}
	switch strings.ToUpper(strings.TrimSpace(t)) {
	case "0", "NONE", "DROP":
		return from, Drop, nil
	}
	if to, err = Parse(t); err != nil {
		return 0, 0, err
	}
	return from, to, nil
}

// Delays holds received signals back for a while before pidone acts on them
// (--delay TERM:5s: keep serving while a load balancer drains).
type Delays map[unix.Signal]time.Duration

// ParseDelay reads one SIG:DURATION rule; DURATION is a Go duration (500ms,
// 5s, 1m30s) and may be 0 (no delay).
func ParseDelay(rule string) (unix.Signal, time.Duration, error) {
	s, d, ok := strings.Cut(rule, ":")
	if !ok {
		return 0, 0, fmt.Errorf("delay %s is not SIGNAL:DURATION", clip.Quote(rule))
	}
	sig, err := parseReceivable(s)
	if err != nil {
		return 0, 0, err
	}
	dur, err := time.ParseDuration(strings.TrimSpace(d))
	if err != nil {
		return 0, 0, fmt.Errorf("delay %s: %s is not a duration such as 500ms or 5s", clip.Quote(rule), clip.Quote(d))
	}
	if dur < 0 {
		return 0, 0, fmt.Errorf("delay %s: the duration is negative", clip.Quote(rule))
	}
	return sig, dur, nil
}

// parseReceivable parses a signal that a rule can be about: one that pidone
// receives and acts on.
func parseReceivable(s string) (unix.Signal, error) {
	sig, err := Parse(s)
	if err != nil {
		return 0, err
	}
	switch {
	case sig == unix.SIGCHLD:
		return 0, fmt.Errorf("%s is pidone's own (a child died); it is never forwarded", Name(sig))
	case !Catchable(sig):
		return 0, fmt.Errorf("%s never reaches pidone: it cannot be caught", Name(sig))
	}
	return sig, nil
}

// JobControl reports whether sig is one of the terminal job-control stop
// signals, SIGTSTP, SIGTTIN and SIGTTOU, whose default action stops a
// process only when its process group is not orphaned (signal(7), and
// POSIX "orphaned process group").
func JobControl(sig unix.Signal) bool {
	return sig == unix.SIGTSTP || sig == unix.SIGTTIN || sig == unix.SIGTTOU
}

package workers

import (
	"fmt"
	"time"
)

// When a worker counts as ready (--ready, --ready-after, --ready-timeout):
// a replace reload stops the old generation only once every worker of the
// new one is ready, and pidone tells its own supervisor it is ready once
// the first generation is.

// defaultReadyTimeout is how long a worker started with --ready notify has
// to say READY=1 before it counts as failed to start.
const defaultReadyTimeout = 60 * time.Second

// Readiness is a group's rule for "ready".
type Readiness struct {
	// Notify: ready when the worker sends READY=1 to NOTIFY_SOCKET
	// (sd_notify(3)). Otherwise ready once it has run After.
	Notify bool
	After  time.Duration
	// Timeout: with Notify, a worker that has not said READY=1 this long
	// after its start is stopped and counts as failed to start; 0 waits
	// forever.
	Timeout time.Duration
}

func (r Readiness) String() string {
	if r.Notify {
		return "READY=1"
	}
	return fmt.Sprintf("up for %v", r.After)
}

// readiness is the rule the command-line options give.
func (o *Options) readiness() Readiness {
	return Readiness{Notify: o.ReadyNotify, After: o.ReadyAfter, Timeout: o.ReadyTimeout}
}

// ParseReady reads --ready: "after" (the default: ready after
// --ready-after) or "notify" (ready on READY=1); true means notify.
func ParseReady(s string) (bool, error) {
	switch s {
	case "after":
		return false, nil
	case "notify":
		return true, nil
	}
	return false, fmt.Errorf("unknown readiness %q (want after or notify)", s)
}

// readyMode is "ready" in a group of the configuration file.
type readyMode bool

func (r *readyMode) decodeJSON(node any) error {
	s, err := stringNode(node)
	if err != nil {
		return err
	}
	notify, err := ParseReady(s)
	*r = readyMode(notify)
	return err
}

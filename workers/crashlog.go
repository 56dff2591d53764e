package workers

import (
	"log/slog"
	"time"
)

// Visible crash loops (issue 22): a worker that dies on its own is news at
// the default log level (WARN), with what killed it and when it comes back;
// a slot given up is an ERROR. Exits the master asked for (a stop, a
// retirement) and exits the restart policy accepts stay at INFO. The
// logger limits these by message and exit status (logging.limitFailures),
// so a thousand workers crashing together give a few lines and a count.

// logExit logs the exit of w's worker (exit: its attributes, status
// included), which the slot has taken as v.
func (m *master) logExit(w *worker, v Verdict, exit []any, status slog.Attr) {
	switch w.State {
	case Stopped, Finished:
		m.log.Info("worker exited", exit...)
	case BackingOff:
		m.log.Warn("worker exited", append(exit, "delay", v.Delay.Round(time.Millisecond), "restarts", w.Restarts())...)
	default:
		m.log.Warn("worker exited", exit...)
	}
	if w.State != Stopped {
		// The status keys the logger's limit for the give-up line too.
		m.settled(w, v, status)
	}
}

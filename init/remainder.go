package supervisor

import (
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/pidone/pidone/forward"
	"github.com/pidone/pidone/reap"
)

// orphanHint wakes the event loop when an orphan has been reaped, and only
// while the machine wants to hear it (machine.wantsReaped): an orphan storm
// must not wake the loop once per reaped batch. Wake-ups coalesce.
type orphanHint struct {
	c    chan struct{}
	want atomic.Bool
}

func newOrphanHint() *orphanHint {
	return &orphanHint{c: make(chan struct{}, 1)}
}

// reaped is for the reaper's OnOrphan callback, on the reaper's goroutine.
func (h *orphanHint) reaped() {
	if !h.want.Load() {
		return
	}
	select {
	case h.c <- struct{}{}:
	default:
	}
}

// Remainder stops, for a caller other than Run, whatever is still below
// pidone once that caller's own processes are gone: workers mode uses it
// when its master is done, so that what left a worker's process group (a
// setsid daemon) gets the same end as in single mode (issue 18, item 5):
// the stop signal, the grace period, then SIGKILL, and pidone exits as soon
// as nothing is left. It is the same machine, sweeper and loop as Run's,
// entered as if the main child had just exited.
type Remainder struct {
	orphans *orphanHint
}

// NewRemainder makes a Remainder; create it before the reaper, whose
// OnOrphan callback must call Reaped.
func NewRemainder() *Remainder {
	return &Remainder{orphans: newOrphanHint()}
}

// Reaped must be called from the reaper's OnOrphan callback for every
// reaped orphan: while Stop stops, each may have forked something that
// still needs the signal. It costs an atomic load otherwise.
func (rm *Remainder) Reaped() { rm.orphans.reaped() }

// Stop stops every process below pidone: SIGTERM, which is what single
// mode sends when the main child has exited, then SIGKILL after grace (at
// once with grace 0), or at once on a stop request (SIGTERM, SIGINT) read
// from signals. It returns code once nothing is left, at once if nothing
// was. r must have been started with Reaped in its OnOrphan, and nothing
// else may read its Exits, NoChildren or signals meanwhile.
func (rm *Remainder) Stop(r *reap.Reaper, signals <-chan os.Signal, log *slog.Logger, grace time.Duration, code int) int {
	if !r.HasChildren() {
		// As PID 1 or a subreaper, no child means no descendant.
		return code
	}
	pid1 := os.Getpid() == 1
	log.Info("processes are left below pidone; stopping them", "grace", grace)
	cfg := Config{Grace: grace, StopOnRequest: true, Log: log}
	m := newMachine(policy{Grace: grace, StopOnRequest: true, PID1: pid1}, true)
	sw := newSweeper(log, pid1, 0)
	sw.hasChildren = r.HasChildren
	lp := &loop{cfg: cfg, log: log, m: m, sw: sw, r: r, orphans: rm.orphans,
		// No main child, as in pause mode: the machine forwards nothing
		// once it has been told the main child exited.
		target: forward.Target{Pid: -1, PidFD: -1}, child: process{pid: -1, pidfd: -1}}
	// The machine's own way in: the main child "exited" with code, so the
	// rest gets SIGTERM and the grace period, and the exit code is code.
	if code, done := lp.step(event{kind: evMainExited, code: code}); done {
		return code
	}
	return lp.serve(signals, false)
}

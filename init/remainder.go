package supervisor

import (
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/pidone/pidone/forward"
	"github.com/pidone/pidone/internal/exitreport"
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
	// rec lists the leftovers for workers mode's exit report and its
	// --fail-on-leftovers (issue 21): what Stop finds is what the
	// workers left behind. detail: read their comm and argv (a report
	// is wanted).
	rec    *recorder
	detail bool
}

// NewRemainder makes a Remainder; create it before the reaper, whose
// OnOrphan callback must call Reaped. detail asks for each leftover's comm
// and argv (an exit report is wanted); without it they are only counted.
func NewRemainder(detail bool) *Remainder {
	return &Remainder{orphans: newOrphanHint(), rec: newRecorder(), detail: detail}
}

// Reaped must be called from the reaper's OnOrphan callback for every
// reaped orphan: while Stop stops, each may have forked something that
// still needs the signal, and a leftover's exit is how it ended. It costs
// a count and an atomic load otherwise.
func (rm *Remainder) Reaped(e reap.Exit) {
	rm.rec.reaped(e)
	rm.orphans.reaped()
}

// Stop stops every process below pidone: SIGTERM, which is what single
// mode sends when the main child has exited, then SIGKILL after grace (at
// once with grace 0), or at once on a stop request (SIGTERM, SIGINT) read
// from signals. It returns code once nothing is left, at once if nothing
// was. r must have been started with Reaped in its OnOrphan, and nothing
// else may read its Exits, NoChildren or signals meanwhile.
func (rm *Remainder) Stop(r *reap.Reaper, signals <-chan os.Signal, log *slog.Logger, grace time.Duration, code int) int {
	if !r.HasChildren() {
		// As PID 1 or a subreaper, no child means no descendant.
		rm.rec.nothingLeft()
		return code
	}
	pid1 := os.Getpid() == 1
	sw := newSweeper(log, pid1, 0)
	sw.hasChildren = r.HasChildren
	// With no stop before (every slot given up or finished) the
	// leftovers are listed now, before anything is signalled, as single
	// mode lists them when the main child ends (docs/workers.md).
	rm.list(sw, log, nil)
	log.Info("processes are left below pidone; stopping them", "grace", grace)
	cfg := Config{Grace: grace, StopOnRequest: true, Log: log}
	m := newMachine(policy{Grace: grace, StopOnRequest: true, PID1: pid1}, true)
	lp := &loop{cfg: cfg, log: log, m: m, sw: sw, r: r, orphans: rm.orphans, rec: rm.rec,
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

// StopBegan lists the leftovers when workers mode begins its stop (a stop
// request, a fatal error): every process alive below pidone but workers,
// the workers alive now, and the members of their process groups, which
// the stop of each worker's group reaches (docs/workers.md). Stop then
// stops what is still alive of the rest.
func (rm *Remainder) StopBegan(log *slog.Logger, workers []int) {
	skip := make(map[int]bool, len(workers))
	for _, pid := range workers {
		skip[pid] = true
	}
	rm.list(newSweeper(log, os.Getpid() == 1, 0), log, func(p procInfo) bool { return skip[p.pid] || skip[p.pgrp] })
}

// list takes the leftovers' snapshot, once, and says at WARN what was left.
func (rm *Remainder) list(sw *sweeper, log *slog.Logger, skip func(procInfo) bool) {
	if _, procs := rm.rec.snapshot(sw, rm.detail, skip); len(procs) > 0 {
		log.Warn("processes were left behind when the workers stopped", "count", len(procs), "processes", victimList(procs))
	}
}

// Count is how many leftovers StopBegan or Stop found below pidone: -1 when /proc could
// not tell, 0 before Stop.
func (rm *Remainder) Count() int {
	rm.rec.mu.Lock()
	defer rm.rec.mu.Unlock()
	if rm.rec.taken && !rm.rec.known {
		return -1
	}
	return len(rm.rec.leftovers)
}

// StopRequest is the stop request the Remainder acted on, if one came
// while it stopped the rest.
func (rm *Remainder) StopRequest() *exitreport.Signal {
	rm.rec.mu.Lock()
	defer rm.rec.mu.Unlock()
	return rm.rec.stopRequest
}

// Fill sets r's counts and leftovers: every orphan reaped, those reaped
// after Stop listed the leftovers, and the leftovers (bounded).
func (rm *Remainder) Fill(r *exitreport.Report) {
	rm.rec.fill(r)
}

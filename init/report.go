package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pidone/pidone/forward"
	"github.com/pidone/pidone/internal/exitreport"
	"github.com/pidone/pidone/reap"
	"golang.org/x/sys/unix"
)

// The exit report (--exit-report, internal/exitreport) and the leftovers
// policy (--fail-on-leftovers), issue 21. The recorder takes what the loop
// and the reaper already see: the leftovers are the sweeper's victims when
// the main child ended, and each one's end is the orphan exit the reaper
// delivers for its pid. No second walker, no second waiter.

// recorder collects the report's facts. The reaper's OnOrphan callback
// (on the reaper's goroutine) and the loop both feed it, hence the mutex.
type recorder struct {
	mu    sync.Mutex
	start time.Time

	orphans, orphansAfter int
	mainEnded             bool
	mainEnd               time.Time

	// snapshotting: the leftovers are being listed; exits reaped
	// meanwhile wait in pending, to be matched once the list is known.
	snapshotting bool
	pending      map[int]orphanEnd
	leftovers    []exitreport.Leftover
	index        map[int]int // pid -> position in leftovers, while not ended
	known        bool
	taken        bool

	// What pidone has sent, to say who killed a leftover.
	stopSig unix.Signal
	killed  bool

	stopRequest *exitreport.Signal
}

type orphanEnd struct {
	status unix.WaitStatus
	at     time.Time
	by     string
}

// maxPending bounds the exits kept while the leftovers are listed (a fork
// storm must not grow it without end); an exit beyond it is reported as
// unknown.
const maxPending = 1 << 16

func newRecorder() *recorder {
	return &recorder{start: time.Now(), index: map[int]int{}}
}

// reaped is for OnOrphan: count it, and match it to a leftover.
func (rc *recorder) reaped(e reap.Exit) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.orphans++
	if !rc.mainEnded {
		// The reaping hot path while the main child runs: a count, no
		// clock read.
		return
	}
	rc.orphansAfter++
	end := orphanEnd{e.Status, time.Now(), rc.sender(e.Status)}
	if rc.snapshotting {
		if len(rc.pending) < maxPending {
			if _, seen := rc.pending[e.Pid]; !seen {
				rc.pending[e.Pid] = end
			}
		}
		return
	}
	rc.end(e.Pid, end)
}

// sender says whether pidone sent the signal that killed a process.
func (rc *recorder) sender(ws unix.WaitStatus) string {
	switch {
	case rc == nil:
		return ""
	case !ws.Signaled():
		return ""
	case ws.Signal() == unix.SIGKILL && rc.killed:
		return exitreport.ByKill
	case rc.stopSig != 0 && ws.Signal() == rc.stopSig:
		return exitreport.ByStop
	}
	return ""
}

// end records how the leftover pid ended, if it is one not yet ended.
// Called with mu held.
func (rc *recorder) end(pid int, e orphanEnd) {
	i, ok := rc.index[pid]
	if !ok {
		return
	}
	delete(rc.index, pid)
	rc.leftovers[i].End = endOf(e.status, e.by).After(e.at.Sub(rc.mainEnd))
}

func endOf(ws unix.WaitStatus, by string) exitreport.End {
	if ws.Signaled() {
		return exitreport.KilledBy(signalOf(ws.Signal()), by)
	}
	return exitreport.ExitedWith(ws.ExitStatus())
}

func signalOf(s unix.Signal) exitreport.Signal {
	return exitreport.Signal{Name: forward.Name(s), Number: int(s)}
}

// stopSent and killSent are for the loop, as it acts.
func (rc *recorder) stopSent(sig unix.Signal) {
	if rc == nil {
		return
	}
	rc.mu.Lock()
	rc.stopSig = sig
	rc.mu.Unlock()
}

func (rc *recorder) killSent() {
	if rc == nil {
		return
	}
	rc.mu.Lock()
	rc.killed = true
	rc.mu.Unlock()
}

// requested notes the stop request pidone acted on.
func (rc *recorder) requested(sig unix.Signal) {
	if rc == nil {
		return
	}
	rc.mu.Lock()
	if rc.stopRequest == nil {
		s := signalOf(sig)
		rc.stopRequest = &s
	}
	rc.mu.Unlock()
}

// snapshot lists the leftovers, once: every process alive below pidone
// now (the main child has just ended, or in pause mode the stop begins).
// It returns how many there are (-1: unknown) and the processes. Their
// comm and argv are read only with detail (a report is wanted): the count
// alone serves the WARN, the termination log and --fail-on-leftovers.
//
// skip, if not nil, leaves out what it matches (workers mode: the live
// workers and their process groups).
func (rc *recorder) snapshot(sw *sweeper, detail bool, skip func(procInfo) bool) (int, []procInfo) {
	if rc == nil {
		return 0, nil
	}
	rc.mu.Lock()
	if rc.taken {
		n := len(rc.leftovers)
		if !rc.known {
			n = -1
		}
		rc.mu.Unlock()
		return n, nil
	}
	rc.taken, rc.mainEnded, rc.mainEnd = true, true, time.Now()
	rc.snapshotting, rc.pending = true, map[int]orphanEnd{}
	rc.mu.Unlock()

	procs, ok := sw.victims()
	if skip != nil {
		procs = slices.DeleteFunc(procs, skip)
	}
	list := make([]exitreport.Leftover, 0, len(procs))
	for i, p := range procs {
		l := exitreport.Leftover{Pid: p.pid, PPid: p.ppid, Starttime: p.start, End: exitreport.End{How: exitreport.Running}}
		if detail && i < exitreport.MaxLeftovers { // the rest are only counted
			l.Comm = p.name() // from the walk's stat line: one file fewer per leftover
			l.Argv, l.ArgvTruncated = exitreport.ReadArgv(p.pid)
		}
		list = append(list, l)
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.known, rc.leftovers = ok, list
	for i, l := range list {
		rc.index[l.Pid] = i
	}
	for pid, e := range rc.pending {
		rc.end(pid, e)
	}
	rc.snapshotting, rc.pending = false, nil
	if !ok {
		return -1, nil
	}
	return len(list), procs
}

// count is how many leftovers there were (0 when unknown or not taken).
func (rc *recorder) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.leftovers)
}

// verdict is the termination log's first words: "clean", or "N
// leftovers" (issue 21, item 5).
func verdict(n int) string {
	switch {
	case n < 0:
		return "leftovers unknown"
	case n == 0:
		return "clean"
	case n == 1:
		return "1 leftover"
	}
	return fmt.Sprintf("%d leftovers", n)
}

// warnLeftovers is the one line at the default log level that says what
// was left behind, with or without --fail-on-leftovers.
func warnLeftovers(cfg Config, log *slog.Logger, procs []procInfo) {
	if len(procs) == 0 {
		return
	}
	level := slog.LevelWarn
	if !cfg.StopOnRequest {
		level = slog.LevelInfo // a peer's log keeps to the peer's lines (see logKill)
	}
	log.Log(context.Background(), level, "processes were left behind when the main child ended",
		"count", len(procs), "processes", victimList(procs))
}

// finish settles the exit code (--fail-on-leftovers) and writes the report;
// a report that cannot be written is a WARN and changes nothing else.
func (rc *recorder) finish(cfg Config, log *slog.Logger, main *exitreport.MainChild, childCode, code int) int {
	reason := exitreport.ReasonChild
	switch {
	case main == nil:
		reason = exitreport.ReasonStopRequest
	case main.End.How == exitreport.NotStarted:
		reason = exitreport.ReasonStartFailure
	case code != childCode:
		reason = exitreport.ReasonRemap
	}
	if cfg.FailOnLeftovers && main != nil && main.End.How != exitreport.NotStarted && rc.count() > 0 {
		code, reason = cfg.LeftoversCode, exitreport.ReasonLeftovers
	}
	if cfg.ExitReport == "" {
		return code
	}
	r := &exitreport.Report{
		Schema: exitreport.Schema, Version: cfg.Version, Mode: "single", Personality: cfg.Personality,
		PID1: os.Getpid() == 1, MainChild: main, ExitCode: code, ExitReason: reason,
	}
	rc.fill(r)
	rc.mu.Lock()
	r.StopRequest = rc.stopRequest
	rc.mu.Unlock()
	r.Times(rc.start, time.Now())
	if err := exitreport.Write(cfg.ExitReport, r); err != nil {
		log.Warn("cannot write the exit report; the exit code is unchanged", "path", cfg.ExitReport, "error", err)
	}
	return code
}

// fill sets r's counts and leftovers. A leftover pidone did not see end
// is "running" if it is still alive, else "unknown" (its own parent reaped
// it).
func (rc *recorder) fill(r *exitreport.Report) {
	rc.mu.Lock()
	r.OrphansReaped, r.OrphansReapedAfterMain = rc.orphans, rc.orphansAfter
	r.LeftoversKnown, r.LeftoversCount = rc.known || !rc.taken, len(rc.leftovers)
	r.Leftovers = append([]exitreport.Leftover{}, rc.leftovers...)
	open := make(map[int]bool, len(rc.index))
	for _, i := range rc.index {
		open[i] = true
	}
	rc.mu.Unlock()
	for i := range r.Leftovers {
		if open[i] && !alive(r.Leftovers[i].Pid, r.Leftovers[i].Starttime) {
			r.Leftovers[i].End = exitreport.End{How: exitreport.Unknown}
		}
	}
	r.Bound()
}

// nothingLeft records an empty list of leftovers: nothing was below
// pidone (the reaper had no child).
func (rc *recorder) nothingLeft() {
	rc.mu.Lock()
	if !rc.taken {
		rc.taken, rc.known, rc.mainEnded, rc.mainEnd = true, true, true, time.Now()
	}
	rc.mu.Unlock()
}

// alive says whether pid is still the process that started at starttime
// and has not died (a zombie is dead).
func alive(pid int, starttime uint64) bool {
	p, err := readProc(pid)
	return err == nil && p.start == starttime && p.state != "Z"
}

// mainChildOf describes the main child for the report.
func mainChildOf(cfg Config, pid int) *exitreport.MainChild {
	if cfg.Pause {
		return nil
	}
	argv, cut := exitreport.BoundArgv(cfg.Command)
	return &exitreport.MainChild{Pid: pid, Argv: argv, ArgvTruncated: cut}
}

// startFailed is the main child that never started.
func startFailed(err error) exitreport.End {
	return exitreport.End{How: exitreport.NotStarted, Error: strings.ReplaceAll(err.Error(), "\n", " ")}
}

// startFailureCode is the exit code for a start failure, as main decides it.
func startFailureCode(err error) int {
	var se *StartError
	if errors.As(err, &se) {
		return se.ExitCode()
	}
	return 125
}

package supervisor

import (
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pidone/pidone/internal/control"
	"github.com/pidone/pidone/internal/exitreport"
	"github.com/pidone/pidone/internal/trim"
)

// The live status (--control-socket, internal/control): what the exit
// report would say now. The server answers on goroutines of its own, never
// on the event loop, so the loop never waits for a client. What only the
// loop knows (the main child, and how it ended) it publishes as an
// immutable value through an atomic pointer at the two moments it changes;
// the counts come from the recorder, under its mutex; the processes below
// pidone from a walk of /proc of the server's own (a sweeper of its own:
// the loop's keeps state across walks).

// liveStatus makes the answers to "status".
type liveStatus struct {
	cfg  Config
	rec  *recorder
	pid1 bool
	main atomic.Pointer[control.MainChild]

	mu sync.Mutex // one walk of /proc at a time
	sw *sweeper

	trimPending atomic.Bool
}

func newLiveStatus(cfg Config, rec *recorder, pid1 bool, log *slog.Logger) *liveStatus {
	return &liveStatus{cfg: cfg, rec: rec, pid1: pid1, sw: newSweeper(log, pid1, 0)}
}

// started is for the loop: the main child runs since now.
func (ls *liveStatus) started(m *exitreport.MainChild, at time.Time) {
	if ls == nil || m == nil {
		return
	}
	c := &control.MainChild{MainChild: *m, StartTime: at.UTC().Format(time.RFC3339Nano)}
	c.End = exitreport.End{How: exitreport.Running}
	ls.main.Store(c)
}

// ended is for the loop: the main child ended as m.End says.
func (ls *liveStatus) ended(m *exitreport.MainChild) {
	if ls == nil || m == nil {
		return
	}
	if old := ls.main.Load(); old != nil {
		c := *old
		c.End = m.End
		ls.main.Store(&c)
	}
}

// served gives back the pages of pidone's binary that answering touched
// (JSON encoding, the /proc walk: about 2 MiB of file pages after ten
// answers, the rest of an idle pidone's start-up pages, internal/trim),
// once pidone is quiet again. At most one trim is pending, so a stream of
// requests costs one timer, and after it an idle pidone is back to no
// wake-up at all.
func (ls *liveStatus) served() {
	if ls.trimPending.CompareAndSwap(false, true) {
		time.AfterFunc(trim.Settle, func() {
			ls.trimPending.Store(false)
			trim.Schedule()
		})
	}
}

// status is the answer to "status"; peer, the asking client, is left out
// of the processes (as PID 1 pidone lists every process of its PID
// namespace, and `docker exec c pidone ctl status` is one of them).
func (ls *liveStatus) status(peer int) *control.Status {
	now := time.Now()
	s := &control.Status{Schema: control.Schema, Version: ls.cfg.Version, Mode: "single", Personality: ls.cfg.Personality,
		PID1: ls.pid1, Pid: os.Getpid(), Now: now.UTC().Format(time.RFC3339Nano), MainChild: ls.main.Load()}
	ls.rec.mu.Lock()
	start := ls.rec.start
	s.OrphansReaped = ls.rec.orphans
	if ls.rec.stopRequest != nil {
		sig := *ls.rec.stopRequest
		s.StopRequest = &sig
	}
	ls.rec.mu.Unlock()
	s.StartTime = start.UTC().Format(time.RFC3339Nano)
	s.Uptime = float64(now.Sub(start).Milliseconds()) / 1000

	ls.mu.Lock()
	procs, ok := ls.sw.victims()
	ls.mu.Unlock()
	s.ProcessesKnown = ok
	slices.SortFunc(procs, func(a, b procInfo) int { return a.pid - b.pid }) // /proc lists them as text
	s.Processes = make([]exitreport.Leftover, 0, min(len(procs), exitreport.MaxLeftovers))
	n := 0
	for _, p := range procs {
		if p.pid == peer {
			continue
		}
		n++
		if n > exitreport.MaxLeftovers {
			continue // only counted
		}
		l := exitreport.Leftover{Pid: p.pid, PPid: p.ppid, Starttime: p.start, End: exitreport.End{How: exitreport.Running}}
		l.Comm = comm(p.pid)
		l.Argv, l.ArgvTruncated = exitreport.ReadArgv(p.pid)
		s.Processes = append(s.Processes, l)
	}
	s.Bound()
	s.ProcessesCount, s.ProcessesOmitted = n, n-len(s.Processes)
	return s
}

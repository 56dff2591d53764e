package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/pidone/pidone/forward"
	"github.com/pidone/pidone/internal/control"
	"github.com/pidone/pidone/internal/exitreport"
	"github.com/pidone/pidone/internal/trim"
	"github.com/pidone/pidone/logging"
	"github.com/pidone/pidone/reap"
	"github.com/pidone/pidone/spawn"
	"golang.org/x/sys/unix"
)

// DefaultGrace is how long processes get between the stop signal and
// SIGKILL unless --grace says otherwise.
const DefaultGrace = 5 * time.Second

// Config is everything the supervisor needs; main builds it from argv.
type Config struct {
	// Command is the main child's argv; Command[0] is looked up in PATH.
	// Empty in pause mode.
	Command []string
	// Pause runs no command: pidone only reaps what is re-parented to it
	// and exits 0 when asked to stop (a pod's pause process).
	Pause bool
	// SingleChild sends forwarded signals to the child alone instead of
	// its process group.
	SingleChild bool
	// RemapExit lists exit codes of the child that pidone reports as 0.
	RemapExit []int
	// WarnOnReap logs every reaped orphan at WARN.
	WarnOnReap bool
	Log        *slog.Logger

	// Grace is the time between the stop signal and SIGKILL; 0 kills at
	// once.
	Grace time.Duration
	// WaitAll keeps pidone running after the main child exits until every
	// other process has exited on its own.
	WaitAll bool
	// StopOnRequest makes SIGTERM and SIGINT (after rewriting) stop every
	// process below pidone, with the grace period; without it they are
	// only forwarded (the peer personalities).
	StopOnRequest bool
	// Rewrites and Delays change or hold back received signals.
	Rewrites forward.Rewrites
	Delays   forward.Delays
	// TerminationLog, if set, is a file that gets one line saying why the
	// main child ended (Kubernetes' terminationMessagePath).
	TerminationLog string

	// Session selects how the main child meets the terminal: Foreground
	// (its own process group, in the terminal's foreground) or
	// NewSession (dumb-init: a session of its own that takes the
	// terminal as its controlling terminal).
	Session SessionMode
	// JobControl selects the rules for SIGTSTP, SIGTTIN and SIGTTOU (see
	// docs/lifecycle.md).
	JobControl JobControlMode
	// ListenPID passes socket activation through: when LISTEN_PID is
	// pidone's pid, the child gets its own pid there.
	ListenPID bool
	// Shortcut, if not nil, is where the main thread forwards the signals
	// the loop says may go straight to the main child (forward.Shortcut).
	Shortcut *forward.Shortcut
	// CloseInherited closes, once the child runs, the descriptors above
	// stderr that pidone inherited (catatonit), so that pidone does not
	// keep the child's sockets open.
	CloseInherited bool
	// ChildSignals is the signal mask and the SIG_IGN set the main child
	// starts with; every other signal is at SIG_DFL.
	ChildSignals spawn.Signals
	// User, if not nil, is who the main child runs as; NoNewPrivs sets
	// no_new_privs for it. pidone itself keeps running as it started.
	User       *spawn.Credential
	NoNewPrivs bool
	// DieWithPidone: when pidone is not PID 1, the main child gets
	// SIGKILL if pidone dies (spawn.ParentDeathSignal), so that a
	// SIGKILLed pidone leaves no orphan (issue 19). pidone's own mode
	// only: under a peer's name the child must see that peer's state, and
	// none of them sets a parent-death signal on its child.
	DieWithPidone bool
	// RootDir makes pidone change to / once the child runs, so that it
	// does not keep the directory it was started in busy (dumb-init,
	// catatonit after 0.2.0).
	RootDir bool
	// Running, if not nil, is called once, as soon as the main child has
	// exec'd (at once in pause mode): for the work pidone's start can do
	// without, so that the child is not kept waiting for it.
	Running func()

	// ExitReport, if set, is where pidone writes its exit report before
	// it exits (internal/exitreport, docs/exit-report.md); Version and
	// Personality go in it.
	ExitReport  string
	Version     string
	Personality string
	// FailOnLeftovers makes pidone exit LeftoversCode instead of the
	// main child's status when processes were still alive below pidone
	// as the main child ended (issue 21).
	FailOnLeftovers bool
	LeftoversCode   int
	// ControlSocket, if set, is where pidone answers `pidone ctl status`
	// while it runs (internal/control, init/status.go).
	ControlSocket string
}

// SessionMode says where the main child runs.
type SessionMode int

const (
	// Foreground: the child leads a new process group in pidone's
	// session, in the terminal's foreground when pidone holds it.
	Foreground SessionMode = iota
	// NewSession: the child leads a new session (setsid), which takes
	// stdin as its controlling terminal when pidone can free it.
	NewSession
	// SameGroup: the child stays in pidone's process group and leaves the
	// terminal alone (dumb-init --single-child: "completely transparent").
	SameGroup
)

// JobControlMode selects the job-control rules.
type JobControlMode int

const (
	// JobForward forwards SIGTSTP, SIGTTIN and SIGTTOU like any signal
	// (tini, catatonit after its drop rules).
	JobForward JobControlMode = iota
	// JobFollow forwards them, and on a terminal follows the main
	// child's job-control stops (pidone's own rules).
	JobFollow
	// JobSuspendSelf forwards them (as rewritten) and then stops pidone
	// itself until SIGCONT (dumb-init).
	JobSuspendSelf
)

// Run starts the main command and supervises it. signals must come from
// forward.Catch, called before anything else in main. It returns pidone's
// exit code: the main child's decoded status, remapped as configured (0 in
// pause mode).
func Run(cfg Config, signals <-chan os.Signal) (int, error) {
	log := cfg.Log
	pid1 := os.Getpid() == 1
	if err := reap.AdoptOrphans(); err != nil {
		log.Warn("not a subreaper: orphans of the command go to the init above pidone", "error", err)
	}
	term := foregroundTerminal()
	p := policy{
		Grace:              cfg.Grace,
		WaitAll:            cfg.WaitAll,
		StopOnRequest:      cfg.StopOnRequest,
		Rewrites:           cfg.Rewrites,
		Delays:             cfg.Delays,
		SuspendOnJobSignal: cfg.JobControl == JobSuspendSelf,
		FollowStops:        cfg.JobControl == JobFollow && cfg.Session == Foreground && term != nil && !cfg.Pause,
		PID1:               pid1,
	}
	orphans := newOrphanHint()
	rec := newRecorder()
	r := reap.StartWith(reap.Options{
		OnOrphan: func(e reap.Exit) {
			rec.reaped(e)
			if cfg.WarnOnReap {
				log.Warn("reaped orphan", "pid", e.Pid, logging.Status(e.Status))
			}
			orphans.reaped()
		},
		Stops: p.FollowStops,
	})

	// The control socket is bound before the main child starts, so that
	// a path pidone cannot use stops it before anything runs; it is
	// served once the main child is known (clients wait in its queue).
	var live *liveStatus
	var srv *control.Server
	if cfg.ControlSocket != "" {
		live = newLiveStatus(cfg, rec, pid1, log)
		var err error
		if srv, err = control.Listen(cfg.ControlSocket, live.status, log); err != nil {
			err = fmt.Errorf("--control-socket %s: %w", cfg.ControlSocket, err)
			if report := mainChildOf(cfg, 0); report != nil {
				report.End = startFailed(err)
				rec.finish(cfg, log, report, 0, startFailureCode(err))
			}
			return 0, err
		}
		defer srv.Close()
		srv.Served = live.served
	}

	mainChild := process{pid: -1, pidfd: -1}
	handedTerminal := false
	var startedAt time.Time
	if !cfg.Pause {
		s := child{argv: cfg.Command, session: cfg.Session, listenPID: cfg.ListenPID && wantsListenPID(),
			signals: cfg.ChildSignals, user: cfg.User, noNewPriv: cfg.NoNewPrivs, dieWithPidone: cfg.DieWithPidone}
		if term != nil && s.session != SameGroup {
			if s.session == NewSession {
				// The child can take the terminal only once pidone lets
				// go of it; the kernel then signals our group.
				if err := term.release(); err != nil {
					log.Debug("keeping the terminal; the child's session gets none", "error", err)
				} else {
					s.takeTerminal = true
					p.IgnoreOnce = []unix.Signal{unix.SIGHUP, unix.SIGCONT}
				}
			} else {
				s.takeTerminal = true
			}
		}
		var err error
		mainChild, err = start(r, s)
		startedAt = time.Now()
		if err != nil {
			writeTerminationLog(cfg, log, err.Error())
			report := mainChildOf(cfg, 0)
			report.End = startFailed(err)
			rec.finish(cfg, log, report, 0, startFailureCode(err))
			return 0, err
		}
		defer mainChild.close()
		handedTerminal = s.takeTerminal && s.session == Foreground
		log.Info("started", "command", cfg.Command[0], "pid", mainChild.pid, "terminal", s.takeTerminal)
	}
	if cfg.Pause {
		log.Info("pause: reaping whatever is re-parented to pidone; SIGTERM or SIGINT ends it")
	}
	if cfg.Running != nil {
		cfg.Running()
	}
	if cfg.CloseInherited {
		closeInherited(log)
	}
	if cfg.RootDir {
		_ = os.Chdir("/") // do not pin the directory pidone ran in
	}

	m := newMachine(p, !cfg.Pause)
	group := mainChild.pid // the main child leads a process group...
	if cfg.Session == SameGroup {
		group = 0 // ...unless it shares pidone's
	}
	sw := newSweeper(log, pid1, group)
	sw.hasChildren = r.HasChildren
	target := forward.Target{Pid: mainChild.pid, PidFD: mainChild.pidfd, Group: !cfg.SingleChild}
	lp := &loop{cfg: cfg, log: log, m: m, sw: sw, r: r, term: term, target: target, child: mainChild, orphans: orphans,
		rec: rec, report: mainChildOf(cfg, mainChild.pid),
		// Every signal the shortcut forwards would be logged at DEBUG by
		// the loop; with DEBUG on, all of them go through the loop.
		shortcut: !log.Enabled(context.Background(), slog.LevelDebug)}
	// From here on the main thread forwards what the machine allows.
	cfg.Shortcut.Hold()
	lp.allow()
	if srv != nil {
		lp.live = live
		live.started(lp.report, startedAt)
		go srv.Serve()
		log.Info("control socket: answering pidone ctl status", "path", cfg.ControlSocket)
	}

	// Start-up is over: give back its memory once pidone has settled.
	trim.Schedule()

	code := lp.serve(signals, handedTerminal)
	return rec.finish(cfg, log, lp.report, lp.childCode, code), nil
}

// serve is the event loop: it feeds the machine until it says exit, and
// returns the exit code.
func (lp *loop) serve(signals <-chan os.Signal, handedTerminal bool) int {
	m, r, log, mainChild := lp.m, lp.r, lp.log, lp.child
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		// The machine's next deadline, from whatever set it last: the
		// previous event, or the caller's before serve (Remainder).
		var wake <-chan time.Time
		if d, ok := m.deadline(); ok {
			timer.Reset(time.Until(d))
			wake = timer.C
		} else {
			timer.Stop()
		}
		var ev event
		select {
		case s := <-signals:
			ev = event{kind: evSignal, signal: s.(unix.Signal)}
			log.Debug("received", "signal", forward.Name(ev.signal), "phase", m.phase)
		case e := <-r.Exits():
			if e.Spawn != mainChild.spawn {
				continue
			}
			ev = lp.mainExited(e, handedTerminal)
		case e := <-r.Stops():
			if e.Spawn != mainChild.spawn {
				continue
			}
			ev = event{kind: evMainStopped, signal: e.Status.StopSignal()}
			log.Info("main child stopped", "pid", e.Pid, "signal", forward.Name(ev.signal))
		case <-lp.orphans.c:
			ev = event{kind: evReaped}
		case <-r.NoChildren():
			// The main child's exit is published before the reaper
			// can find no children, so it is in Exits by now.
			select {
			case e := <-r.Exits():
				if e.Spawn == mainChild.spawn {
					if code, done := lp.step(lp.mainExited(e, handedTerminal)); done {
						return code
					}
				}
			default:
			}
			if !r.Empty() {
				continue // a stale hint
			}
			ev = event{kind: evEmpty}
		case <-wake:
			ev = event{kind: evTick}
		}
		if code, done := lp.step(ev); done {
			return code
		}
	}
}

// loop is the state Run's event loop works with; every method runs on the
// loop's goroutine.
type loop struct {
	cfg    Config
	log    *slog.Logger
	m      *machine
	sw     *sweeper
	r      *reap.Reaper
	term   *terminal
	target forward.Target
	child  process
	// orphans wakes the loop for reaped orphans while the machine
	// wants them (machine.wantsReaped).
	orphans *orphanHint
	// shortcut says whether the main thread may forward signals itself.
	shortcut bool
	// rec collects the exit report (report.go); report is the main
	// child's part of it and childCode its decoded status, once it ended.
	rec       *recorder
	report    *exitreport.MainChild
	childCode int
	// live, if not nil, is told what the control socket's status shows
	// of the main child (status.go).
	live *liveStatus
}

// step handles one event with the shortcut held, so that no signal is
// forwarded directly in the middle of a step, and then tells the shortcut
// which signals may go straight to the main child in the new state. On
// done it allows none: the child's pidfd is about to be closed.
func (lp *loop) step(ev event) (code int, done bool) {
	lp.cfg.Shortcut.Hold()
	code, done = lp.run(ev)
	if done {
		lp.cfg.Shortcut.Allow(lp.target, 0)
		return code, done
	}
	lp.allow()
	return code, done
}

// allow ends a Hold, allowing what the machine would forward unchanged.
func (lp *loop) allow() {
	var asIs forward.Set
	if lp.shortcut {
		asIs = lp.m.asIsSet()
	}
	lp.cfg.Shortcut.Allow(lp.target, asIs)
}

// mainExited does what cannot wait (the terminal, the termination log) and
// returns the event for the machine.
func (lp *loop) mainExited(e reap.Exit, handedTerminal bool) event {
	lp.log.Info("main child exited", "pid", e.Pid, logging.Status(e.Status))
	if handedTerminal {
		if err := lp.term.reclaim(); err != nil {
			lp.log.Debug("cannot take the terminal back", "error", err)
		}
	}
	n, procs := lp.rec.snapshot(lp.sw, lp.cfg.ExitReport != "", nil)
	warnLeftovers(lp.cfg, lp.log, procs)
	lp.childCode = e.Code()
	if lp.report != nil {
		lp.report.End = endOf(e.Status, lp.rec.sender(e.Status)).After(time.Since(lp.rec.start))
		lp.live.ended(lp.report)
	}
	writeTerminationLog(lp.cfg, lp.log, verdict(n)+": "+exitReason(e.Status, lp.m.killedByPidone(), lp.cfg.Grace.String()))
	return event{kind: evMainExited, code: e.Code()}
}

// run feeds ev to the machine and performs the actions, and those of the
// events they lead to. done means exit now with code.
func (lp *loop) run(ev event) (code int, done bool) {
	queue := []event{ev}
	for len(queue) > 0 {
		ev, queue = queue[0], queue[1:]
		before, heldBefore := lp.m.phase, len(lp.m.held)
		actions := lp.m.handle(ev, time.Now())
		if before == running && (lp.m.phase == stopping || lp.m.phase == killing) && ev.kind != evMainExited {
			lp.stopBegan(ev)
		}
		if ev.kind == evSignal && len(lp.m.held) > heldBefore {
			lp.log.Info("holding signal (--delay)", "signal", forward.Name(ev.signal), "delay", lp.cfg.Delays[ev.signal])
		}
		// Before acting: an orphan reaped after the stop signal went out
		// must poke the loop, or a process it forked would miss the stop.
		lp.orphans.want.Store(lp.m.wantsReaped())
		for _, a := range actions {
			switch a.kind {
			case actForward:
				lp.log.Debug("forwarding", "signal", forward.Name(a.signal), "pid", lp.target.Pid, "process_group", lp.target.Group)
				if err := lp.target.Send(a.signal); err != nil {
					lp.log.Warn("cannot forward", "signal", forward.Name(a.signal), "error", err)
				}
			case actSignalRest:
				lp.log.Debug("forwarding to every remaining process", "signal", forward.Name(a.signal))
				lp.sw.signalRest(a.signal)
			case actStopAll:
				lp.log.Info("stopping every process", "signal", forward.Name(a.signal), "grace", lp.cfg.Grace)
				lp.rec.stopSent(a.signal)
				lp.sw.stopAll(a.signal)
			case actCatchUp:
				lp.sw.catchUp(a.signal)
			case actKillAll:
				if before != killing {
					lp.logKill(before, ev.kind == evTick)
				}
				lp.rec.killSent()
				lp.sw.killAll()
			case actContinueMain:
				lp.log.Info("continuing the main child: nothing above PID 1 could resume it")
				if err := (forward.Target{Pid: lp.child.pid, PidFD: -1, Group: true}).Send(unix.SIGCONT); err != nil {
					lp.log.Warn("cannot continue the main child", "error", err)
				}
			case actReclaimTerminal:
				if err := lp.term.reclaim(); err != nil {
					lp.log.Debug("cannot take the terminal back", "error", err)
				}
			case actHandTerminal:
				if err := lp.term.setForeground(lp.child.pid); err != nil {
					lp.log.Debug("cannot hand the terminal to the main child", "error", err)
				}
			case actSuspendSelf:
				lp.log.Debug("suspending pidone until SIGCONT")
				if err := unix.Kill(os.Getpid(), unix.SIGSTOP); err != nil {
					lp.log.Warn("cannot suspend pidone", "error", err)
				}
			case actCheckEmpty:
				if lp.r.Empty() {
					queue = append(queue, event{kind: evEmpty})
				}
			case actExit:
				lp.log.Info("no process left; exiting", "code", remap(a.code, lp.cfg.RemapExit))
				return remap(a.code, lp.cfg.RemapExit), true
			}
		}
	}
	return 0, false
}

// stopBegan notes a stop request for the report; in pause mode, where no
// main child ends, the leftovers are what the stop finds.
func (lp *loop) stopBegan(ev event) {
	sig := lp.m.stopSig
	if sig == 0 {
		sig = ev.signal
	}
	if sig != 0 {
		lp.rec.requested(sig)
	}
	if lp.cfg.Pause {
		lp.rec.snapshot(lp.sw, lp.cfg.ExitReport != "", nil)
	}
}

// remap turns the codes the user listed into 0 (tini's -e: a JVM that exits
// 143 on SIGTERM has shut down cleanly).
func remap(code int, toZero []int) int {
	for _, c := range toZero {
		if c == code {
			return 0
		}
	}
	return code
}

package workers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/pidone/pidone/forward"
	supervisor "github.com/pidone/pidone/init"
	"github.com/pidone/pidone/internal/nofile"
	"github.com/pidone/pidone/internal/trim"
	"github.com/pidone/pidone/logging"
	"github.com/pidone/pidone/reap"
	"github.com/pidone/pidone/spawn"
	"golang.org/x/sys/unix"
)

// Exit codes of workers mode. Usage and configuration errors are main's 2.
const (
	// ExitGaveUp: every slot was given up, or finished with a failure.
	ExitGaveUp = 1
	// ExitConfig: the options, configuration file or pidfile location are
	// wrong (main's usage code).
	ExitConfig = 2
	// ExitRunning: another master holds the pidfile's lock.
	ExitRunning = 3
	// ExitInternal: pidone itself failed (cannot write the pidfile, ...).
	ExitInternal = 125
)

// ConfigError is a bad option, configuration file or bundle.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// ExitCode maps an error from Run to pidone's exit code.
func ExitCode(err error) int {
	var ce *ConfigError
	var ue *UnsafePathError
	var re *RunningError
	switch {
	case errors.As(err, &ce), errors.As(err, &ue):
		return ExitConfig
	case errors.As(err, &re):
		return ExitRunning
	}
	return ExitInternal
}

// Config is everything workers mode needs; main builds it from argv.
type Config struct {
	Options Options
	// WarnOnReap logs every reaped orphan at WARN (else DEBUG).
	WarnOnReap bool
	Log        *slog.Logger
	// ChildSignals is the signal mask and SIG_IGN set every worker
	// starts with; every other signal is at SIG_DFL.
	ChildSignals spawn.Signals

	// ExitReport, if set, is where pidone writes its exit report
	// (report.go, docs/exit-report.md); Version and Personality go in
	// it. FailOnLeftovers makes pidone exit LeftoversCode when the
	// workers left processes behind.
	ExitReport      string
	Version         string
	Personality     string
	FailOnLeftovers bool
	LeftoversCode   int
}

// worker is a slot and the group spec it runs.
type worker struct {
	*Slot
	spec *GroupSpec
	// spawn names the slot's live process to the reaper (see byID).
	spawn reap.SpawnID
}

// group is the slots of one GroupSpec in one generation.
type group struct {
	spec    *GroupSpec
	workers []*worker
}

// master owns all mutable state of workers mode. Only its loop goroutine
// touches it.
type master struct {
	opts   Options
	sigs   spawn.Signals
	log    *slog.Logger
	reaper *reap.Reaper
	now    func() time.Time // time.Now: monotonic readings
	jitter func() float64

	gen      int      // the newest applied configuration generation
	cur      []*group // the serving generation
	next     []*group // a replacement being started, nil otherwise
	retiring []*worker
	// byID finds the worker of a reaped exit by the spawn that started
	// it, never by pid: a dead worker's pid may already belong to its
	// replacement when its exit is read. byPid names the worker that got
	// a pid last, for what only knows the pid (a notification's sender).
	byID  map[reap.SpawnID]*worker
	byPid map[int]*worker

	reloads  reloadGate // when reload signals become reloads
	stopping bool
	// stopRequest is the signal that stopped the master (SIGTERM,
	// SIGINT), 0 if none did: the exit report's reason.
	stopRequest unix.Signal
	// rest stops what the workers leave behind, and lists it for the
	// exit report when the stop begins.
	rest  *supervisor.Remainder
	fatal error // why the master is stopping on its own
	timer *time.Timer

	handoffState // sockets, readiness, status file (handoff.go)

	// lastReload is the last reload's outcome, for pidone ctl reload.
	lastReload reloadRecord
}

// Run runs workers mode until it is stopped or every slot is given up, and
// returns pidone's exit code. signals must come from forward.Catch. With
// --exit-report the report is written before it returns, whatever the
// outcome (report.go).
func Run(cfg Config, signals <-chan os.Signal) (int, error) {
	start := time.Now()
	rest := supervisor.NewRemainder(cfg.ExitReport != "")
	var m *master
	code, err := run(cfg, signals, rest, &m)
	return finishReport(cfg, start, m, rest, code, err), err
}

// run is Run; *mp is set to the master once there is one, for the report.
func run(cfg Config, signals <-chan os.Signal, rest *supervisor.Remainder, mp **master) (int, error) {
	o := cfg.Options
	if err := o.Validate(); err != nil {
		return 0, &ConfigError{err}
	}
	specs, err := o.Load()
	if err != nil {
		return 0, &ConfigError{err}
	}
	if err := nofile.Check(descriptorsNeeded(specs, o.Pidfile != ""), "workers mode"); err != nil {
		return 0, err
	}
	if err := reap.AdoptOrphans(); err != nil {
		cfg.Log.Warn("not a subreaper: orphans of the workers go to the init above pidone", "error", err)
	}
	var pidfile *Pidfile
	if o.Pidfile != "" {
		// Before any worker starts: a second master must not get that far.
		pidfile, err = AcquirePidfile(o.Pidfile, lockInfo{Pid: os.Getpid(), ReloadSignal: o.ReloadSignal, RestartSignal: o.RestartSignal})
		if err != nil {
			return 0, err
		}
		defer func() {
			if err := pidfile.Release(os.Getpid()); err != nil {
				cfg.Log.Warn("cannot remove pidfile", "error", err)
			}
		}()
	}
	m := &master{
		opts:   o,
		sigs:   cfg.ChildSignals,
		log:    cfg.Log,
		now:    time.Now,
		jitter: rand.Float64,
		byID:   map[reap.SpawnID]*worker{},
		byPid:  map[int]*worker{},
		timer:  time.NewTimer(time.Hour),
		rest:   rest,
	}
	*mp = m
	m.timer.Stop()
	// Sockets are bound before any worker starts; a bind failure is exit 2.
	defer m.release()
	if err := m.prepare(specs, pidfile); err != nil {
		return 0, err
	}
	// What the workers leave behind (a setsid daemon: no stop of a
	// worker's process group reaches it) is stopped once the master is
	// done, the way single mode stops it (docs/workers.md).
	m.reaper = reap.Start(func(e reap.Exit) {
		level := slog.LevelDebug
		if cfg.WarnOnReap {
			level = slog.LevelWarn
		}
		m.log.Log(context.Background(), level, "reaped orphan", "pid", e.Pid, logging.Status(e.Status))
		rest.Reaped(e)
	})

	now := m.now()
	m.gen = 1
	m.cur = m.newGeneration(specs, now)
	for _, g := range m.cur {
		m.log.Info("workers", "group", g.spec.Name, "count", g.spec.Count, "command", g.spec.Process.Args[0],
			"restart", g.spec.Policy.Restart, "throttle", g.spec.Policy.Throttle)
	}
	m.step(now)
	if pidfile != nil {
		// After the workers started, as the issue asks: a reader of the
		// pidfile finds a master that is already serving.
		if err := pidfile.Write(os.Getpid()); err != nil {
			m.fatal = fmt.Errorf("cannot write pidfile: %w", err)
			m.stop(now, "cannot write the pidfile")
		}
	}
	// Start-up is over: give back its memory once the master has settled.
	trim.Schedule()
	code := m.loop(signals)
	code = rest.Stop(m.reaper, signals, m.log, o.Grace, code)
	// What the logger held back of a crash storm is said before exiting.
	logging.FlushHeld(m.log)
	return code, m.fatal
}

// loop is the one event loop: worker exits from the reaper, signals, and
// one timer set to the earliest deadline of any slot or reload. With
// nothing due the timer is stopped, so an idle master never wakes.
func (m *master) loop(signals <-chan os.Signal) int {
	for {
		now := m.now()
		m.step(now)
		m.publish()
		if done, code := m.finished(); done {
			return code
		}
		m.arm(now)
		select {
		case s := <-signals:
			m.signal(s.(unix.Signal), m.now())
		case e := <-m.reaper.Exits():
			m.reaped(e, m.now())
			m.exited(e, m.now())
		case n := <-m.notes:
			m.notified(n, m.now())
		case <-m.timer.C:
		}
	}
}

// step does whatever is due at now: a held-back reload, then every slot's
// deadline (spawn, ready, kill), then the replacement's progress. A slot
// whose spawn fails may be due again at once; it waits for the next turn of
// the loop, so signals are never starved by a spawn loop.
func (m *master) step(now time.Time) {
	if mode, ok := m.reloads.due(now); ok {
		m.reload(now, mode)
	}
	// Before any respawn: a replacement worker that died must be seen as
	// dead, not as a fresh start.
	m.checkReplacement(now)
	for _, w := range m.all() {
		switch w.Tick(now) {
		case Spawn:
			m.spawn(w, now)
		case Kill:
			m.log.Warn("worker did not stop within the grace period; killing it", m.attrs(w, "grace", w.spec.Grace)...)
			m.send(w, unix.SIGKILL)
		case ReadyTimeout:
			m.readyTimedOut(w, now)
		}
	}
	m.checkReplacement(now)
	m.retiring = slices.DeleteFunc(m.retiring, func(w *worker) bool { return !w.Live() })
}

// all lists every worker: serving, replacement, retiring.
func (m *master) all() []*worker {
	var all []*worker
	for _, gs := range [][]*group{m.cur, m.next} {
		for _, g := range gs {
			all = append(all, g.workers...)
		}
	}
	return append(all, m.retiring...)
}

// arm sets the timer to the earliest deadline, or stops it.
func (m *master) arm(now time.Time) {
	due := m.reloads.deadline()
	for _, w := range m.all() {
		if !w.Due.IsZero() && (due.IsZero() || w.Due.Before(due)) {
			due = w.Due
		}
	}
	if due.IsZero() {
		m.timer.Stop()
		return
	}
	m.timer.Reset(max(due.Sub(now), 0))
}

// finished reports whether the master is done, and its exit code: stopped
// with nothing left alive (0, or 125 after a fatal error), or every serving
// slot given up or finished with nothing pending (0 if all finished
// cleanly, else ExitGaveUp: never 0 after giving up, unlike hmain).
func (m *master) finished() (bool, int) {
	if m.stopping {
		for _, w := range m.all() {
			if w.Live() {
				return false, 0
			}
		}
		return true, 0
	}
	if m.next != nil || m.reloads.waiting() {
		return false, 0
	}
	code := 0
	for _, w := range m.all() {
		switch {
		case w.Active():
			return false, 0
		case w.State == GivenUp:
			code = ExitGaveUp
		}
	}
	if code != 0 {
		m.log.Error("every worker slot is given up; exiting")
	} else {
		m.log.Info("every worker finished; exiting")
	}
	return true, code
}

// newGeneration builds the groups of specs, every slot due to spawn now.
func (m *master) newGeneration(specs []*GroupSpec, now time.Time) []*group {
	groups := make([]*group, len(specs))
	for i, spec := range specs {
		groups[i] = &group{spec: spec}
		m.grow(groups[i], now)
	}
	return groups
}

// grow adds slots up to the group's count.
func (m *master) grow(g *group, now time.Time) {
	for i := len(g.workers); i < g.spec.Count; i++ {
		g.workers = append(g.workers, &worker{Slot: NewSlot(g.spec.Name, i, m.gen, now), spec: g.spec})
	}
}

func (m *master) spawn(w *worker, now time.Time) {
	child, pidfd, err := startWorker(m.reaper, w.spec, w.Slot, m.sigs)
	if err != nil {
		v := w.SpawnFailed(now, spawnCode(err), w.spec.Policy, m.jitter)
		m.log.Warn("cannot start worker", m.attrs(w, "error", err)...)
		m.settled(w, v)
		return
	}
	m.spawned(w, now, child.Pid, pidfd)
	w.spawn = child.ID
	m.byID[child.ID] = w
	m.byPid[child.Pid] = w
	m.log.Info("worker started", m.attrs(w)...)
}

func (m *master) exited(e reap.Exit, now time.Time) {
	w := m.byID[e.Spawn]
	if w == nil {
		return // not ours: the reaper reports only what we spawned
	}
	delete(m.byID, e.Spawn)
	if m.byPid[e.Pid] == w {
		delete(m.byPid, e.Pid)
	}
	if w.PidFD >= 0 {
		unix.Close(w.PidFD)
	}
	status := logging.Crash(e.Status)
	exit := m.attrs(w, status, "uptime", now.Sub(w.Started).Round(time.Millisecond))
	m.killedByReload(w, e.Status, exit)
	v := w.Died(now, e.Code(), w.spec.Policy, m.jitter)
	m.logExit(w, v, exit, status)
}

// settled logs what the policy decided for a dead worker; extra names how
// it died.
func (m *master) settled(w *worker, v Verdict, extra ...any) {
	switch w.State {
	case BackingOff:
		m.log.Info("respawning worker", m.attrs(w, "delay", v.Delay.Round(time.Millisecond))...)
	case GivenUp:
		m.log.Error("worker slot given up", m.attrs(w, append([]any{"reason", v.Reason}, extra...)...)...)
	case Finished:
		m.log.Info("worker slot finished", m.attrs(w, "reason", v.Reason)...)
	}
}

// signal reacts to a signal sent to the master.
func (m *master) signal(sig unix.Signal, now time.Time) {
	switch sig {
	case unix.SIGTERM, unix.SIGINT:
		if !m.stopping {
			m.stopRequest = sig
		}
		m.stop(now, "received "+forward.Name(sig))
	case m.opts.ReloadSignal:
		m.requestReload(now, m.opts.Reload)
	case m.opts.RestartSignal:
		m.requestReload(now, ReloadReplace)
	default:
		// Every other signal goes to every worker, each to its own group.
		for _, w := range m.all() {
			if w.Live() {
				m.send(w, sig)
			}
		}
	}
}

func (m *master) requestReload(now time.Time, mode ReloadMode) {
	if m.stopping {
		m.log.Info("stopping: reload ignored")
		return
	}
	if mode, ok := m.reloads.request(now, mode); ok {
		m.reload(now, mode)
	}
}

// reload re-reads the configuration and applies it. A configuration that
// does not load changes nothing: not a slot, not a signal. Reload signals
// are held back from the moment it ends (reloadGate).
func (m *master) reload(now time.Time, mode ReloadMode) {
	defer func() { m.reloads.done(m.now()) }()
	specs, err := m.load()
	if err != nil {
		m.log.Error("reload: configuration rejected; the workers are left as they are", "error", err)
		m.reloadRejected(err)
		return
	}
	m.gen++
	m.log.Info("reload", "mode", mode, "gen", m.gen)
	m.reloadBegun(mode)
	if m.next != nil {
		m.abortReplacement(now, "superseded by a newer reload")
	}
	if mode == ReloadReplace {
		m.next = m.newGeneration(specs, now)
		return
	}
	m.reloadInPlace(specs, now)
}

// reloadInPlace applies specs to the serving generation: groups and slots
// are added or stopped to match the counts, given-up and finished slots get
// a fresh start, later spawns use the new process, and every live worker
// gets the reload signal: one pass over every slot, whatever state the
// others are in.
func (m *master) reloadInPlace(specs []*GroupSpec, now time.Time) {
	old := map[string]*group{}
	for _, g := range m.cur {
		old[g.spec.Name] = g
	}
	var groups []*group
	for _, spec := range specs {
		g := old[spec.Name]
		delete(old, spec.Name)
		if g == nil {
			g = &group{spec: spec}
		}
		g.spec = spec
		for len(g.workers) > spec.Count {
			m.retire(g.workers[len(g.workers)-1], now)
			g.workers = g.workers[:len(g.workers)-1]
		}
		for _, w := range g.workers {
			w.spec, w.Gen = spec, m.gen
			w.Revive(now, m.gen)
		}
		m.grow(g, now)
		groups = append(groups, g)
	}
	for _, g := range m.cur {
		if _, removed := old[g.spec.Name]; removed {
			for _, w := range g.workers {
				m.retire(w, now)
			}
		}
	}
	m.cur = groups

	start, sent := time.Now(), 0
	for _, g := range m.cur {
		for _, w := range g.workers {
			if w.State == Starting || w.State == Running {
				m.sendReload(w)
				sent++
			}
		}
	}
	m.log.Info("reload signal sent", "signal", forward.Name(m.opts.ReloadSignal), "workers", sent, "took", time.Since(start))
}

// checkReplacement promotes a replacement generation once every slot of it
// is ready (up for ready-after, or said READY=1), and abandons it as soon as
// one of its workers dies (or fails to start) before that: the serving
// generation is kept. A slot spawned more than once has died, whatever it
// is doing now.
func (m *master) checkReplacement(now time.Time) {
	if m.next == nil {
		return
	}
	ready := true
	for _, g := range m.next {
		for _, w := range g.workers {
			died := w.History.Spawns > 1 || w.History.Spawns == 1 && !w.Live()
			switch {
			case died:
				m.abortReplacement(now, fmt.Sprintf("group %s slot %d died before it was ready (%v)", w.Group, w.Index, w.spec.Ready))
				return
			case w.State != Running:
				ready = false
			}
		}
	}
	if !ready {
		return
	}
	m.log.Info("new generation ready; stopping the old one", "gen", m.gen)
	for _, g := range m.cur {
		for _, w := range g.workers {
			m.retire(w, now)
		}
	}
	m.cur, m.next = m.next, nil
}

func (m *master) abortReplacement(now time.Time, why string) {
	m.log.Warn("replacement abandoned; the serving generation keeps running", "reason", why)
	for _, g := range m.next {
		for _, w := range g.workers {
			m.retire(w, now)
		}
	}
	m.next = nil
}

// retire stops a worker for good.
func (m *master) retire(w *worker, now time.Time) {
	m.stopWorker(w, now)
	if w.Live() {
		m.retiring = append(m.retiring, w)
	}
}

// stop stops every worker gracefully; the loop ends once none is alive.
func (m *master) stop(now time.Time, why string) {
	if m.stopping {
		m.log.Info("already stopping", "reason", why)
		return
	}
	m.log.Info("stopping every worker", "reason", why)
	var live []int
	for _, w := range m.all() {
		if w.Live() {
			live = append(live, w.Pid)
		}
	}
	m.rest.StopBegan(m.log, live)
	m.stopping = true
	m.reloads.cancel()
	for _, w := range m.all() {
		m.stopWorker(w, now)
	}
}

func (m *master) stopWorker(w *worker, now time.Time) {
	if w.Stop(now, w.spec.Grace) == SignalStop {
		m.send(w, w.spec.StopSignal)
	}
}

// send signals a live worker's process group, through the worker's pidfd
// (forward.SignalGroup), so that a worker already reaped, whose pid and group
// id may be a stranger's by now, is never confused with it. A worker that
// left its group (setpgid) is signalled alone.
func (m *master) send(w *worker, sig unix.Signal) {
	err := forward.SignalGroup(w.Pid, w.PidFD, sig)
	if errors.Is(err, unix.ESRCH) && w.PidFD >= 0 {
		err = unix.PidfdSendSignal(w.PidFD, sig, nil, 0)
	}
	if err != nil && !errors.Is(err, unix.ESRCH) {
		m.log.Warn("cannot signal worker", m.attrs(w, "signal", forward.Name(sig), "error", err)...)
	}
}

// attrs are the log attributes naming a worker, then extra.
func (m *master) attrs(w *worker, extra ...any) []any {
	a := []any{"group", w.Group, "slot", w.Index, "gen", w.Gen}
	if w.Pid != 0 {
		a = append(a, "pid", w.Pid)
	}
	return append(a, extra...)
}

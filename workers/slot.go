package workers

import "time"

// State is where a slot is in its life.
//
//	Idle ──due──▶ (spawn) ──▶ Starting ──ready-after, or READY=1──▶ Running
//	                 │            │                        │
//	          spawn failed       died                     died
//	                 ▼            ▼                        ▼
//	              policy: BackingOff ──due──▶ (spawn)  |  GivenUp  |  Finished
//	Starting, Running ──stop──▶ Stopping ──died──▶ Stopped  (SIGKILL when due)
//	Starting ──no READY=1 by --ready-timeout──▶ Stopping ──died──▶ policy, as a failure
//	Idle, BackingOff, GivenUp, Finished ──stop──▶ Stopped
//	GivenUp, Finished ──revive (reload)──▶ Idle
type State int

// The states of a slot.
const (
	Idle       State = iota // not started yet; spawns when due
	Starting                // running, but not yet ready
	Running                 // ready: up for ready-after, or said READY=1
	BackingOff              // dead; respawns when due
	GivenUp                 // dead for good (crash loop, fatal exit): until a reload
	Finished                // exited as the restart policy allows: until a reload
	Stopping                // stop signal sent; SIGKILL when due
	Stopped                 // stopped on request; the slot is gone
)

func (s State) String() string {
	return [...]string{"idle", "starting", "running", "backing off", "given up", "finished", "stopping", "stopped"}[s]
}

// Action is what the master must do after a transition. Slots decide;
// only the master touches processes.
type Action int

// The actions a transition can ask for.
const (
	None       Action = iota
	Spawn             // start a worker for the slot
	SignalStop        // send the group's stop signal to the worker
	Kill              // SIGKILL the worker's process group
	// ReadyTimeout: the worker did not say READY=1 in time; the master
	// stops it (Stop), and its death counts as a failure to start.
	ReadyTimeout
)

// Slot is one worker position: index Index of its group, in generation Gen.
// Its methods are pure transitions: they take the time as an argument and
// return what the master has to do, so tests can drive a slot through any
// history without processes or clocks.
type Slot struct {
	Group string
	Index int
	Gen   int
	State State
	// Pid and PidFD name the worker while it is Live (PidFD is -1 when the
	// kernel gives none).
	Pid, PidFD int
	Started    time.Time
	// Due is when the slot next needs the master (spawn, ready, kill); zero
	// when it waits for nothing but an event.
	Due     time.Time
	History History
	// Reason says why the slot was given up or finished.
	Reason string
	// Spawns counts every spawn of the slot's life; unlike
	// History.Spawns, a reload does not start it over. Restarts are
	// Spawns-1.
	Spawns int
	// Crashes counts the deaths the slot's policy judged (not a stop the
	// master asked for) with an exit status other than 0, failed spawns
	// included; GaveUp says the policy gave the slot up and no reload
	// revived it since. Both are for the exit report (issue 21): a stop
	// turns a given-up slot into Stopped, so State alone forgets it.
	Crashes int
	GaveUp  bool
	// ReloadSignalled is the reload (its sequence number) whose signal
	// the slot's current worker was sent; 0 for none. Its death of that
	// signal is then the reload's doing (reload.go).
	ReloadSignalled int

	awaitReady bool // started with --ready notify; no READY=1 yet
	notReady   bool // being stopped because READY=1 did not come in time
}

// NewSlot returns a slot that spawns as soon as the master looks at it.
func NewSlot(group string, index, gen int, now time.Time) *Slot {
	return &Slot{Group: group, Index: index, Gen: gen, State: Idle, Pid: 0, PidFD: -1, Due: now}
}

// Live reports whether the slot has a process that has not been reaped.
func (s *Slot) Live() bool {
	return s.State == Starting || s.State == Running || s.State == Stopping
}

// Active reports whether the slot has or will have a process without a
// reload: it is neither given up, finished, nor stopped.
func (s *Slot) Active() bool {
	return s.State != GivenUp && s.State != Finished && s.State != Stopped
}

// Tick is called once now has reached Due.
func (s *Slot) Tick(now time.Time) Action {
	if s.Due.IsZero() || now.Before(s.Due) {
		return None
	}
	s.Due = time.Time{}
	switch s.State {
	case Idle, BackingOff:
		return Spawn
	case Starting:
		if s.awaitReady {
			s.awaitReady, s.notReady = false, true
			return ReadyTimeout
		}
		s.State = Running
	case Stopping:
		return Kill
	}
	return None
}

// Spawned records a started worker. It counts as running once it has stayed
// up readyAfter.
func (s *Slot) Spawned(now time.Time, pid, pidfd int, readyAfter time.Duration) {
	s.launched(now, pid, pidfd)
	s.State, s.Due = Starting, now.Add(readyAfter)
	if readyAfter <= 0 {
		s.State, s.Due = Running, time.Time{}
	}
}

// SpawnedAwaitingReady records a worker started with --ready notify: it
// counts as running once it says READY=1 (Ready). If it has not within
// timeout (0: no limit), Tick asks for it to be stopped as failed.
func (s *Slot) SpawnedAwaitingReady(now time.Time, pid, pidfd int, timeout time.Duration) {
	s.launched(now, pid, pidfd)
	s.State, s.Due, s.awaitReady = Starting, time.Time{}, true
	if timeout > 0 {
		s.Due = now.Add(timeout)
	}
}

func (s *Slot) launched(now time.Time, pid, pidfd int) {
	s.History.Spawns++
	s.Spawns++
	s.Pid, s.PidFD, s.Started, s.ReloadSignalled = pid, pidfd, now, 0
}

// Ready records READY=1 from the slot's worker, and reports whether it
// made the slot running: it does only while the slot waits for it.
func (s *Slot) Ready() bool {
	if s.State != Starting || !s.awaitReady {
		return false
	}
	s.State, s.Due, s.awaitReady = Running, time.Time{}, false
	return true
}

// Restarts is how many times the slot's worker was started again.
func (s *Slot) Restarts() int { return max(s.Spawns-1, 0) }

// SpawnFailed records a spawn that produced no process (fork or exec
// failed, the binary is missing). It counts as a spawn and as a death with
// code, so the policy retries it like any crash.
func (s *Slot) SpawnFailed(now time.Time, code int, p Policy, jitter func() float64) Verdict {
	s.History.Spawns++
	s.Spawns++
	s.Started = now
	return s.settle(now, code, p, jitter)
}

// Died records the death of the slot's worker with exit code (128+S for
// signal S). A slot being stopped is done; any other applies the policy.
//
// A worker stopped because it did not say READY=1 in time failed to start,
// however it exits: a clean exit on the stop signal counts as code 1, so
// that --restart on-failure respawns it too.
func (s *Slot) Died(now time.Time, code int, p Policy, jitter func() float64) Verdict {
	s.Pid, s.PidFD, s.awaitReady = 0, -1, false
	if s.notReady {
		s.notReady = false
		if code == 0 {
			code = 1
		}
	} else if s.State == Stopping {
		s.State, s.Due = Stopped, time.Time{}
		return Verdict{Clean: true, Reason: "stopped"}
	}
	return s.settle(now, code, p, jitter)
}

func (s *Slot) settle(now time.Time, code int, p Policy, jitter func() float64) Verdict {
	v := p.Decide(&s.History, Death{Started: s.Started, Ended: now, Code: code}, jitter)
	if code != 0 {
		s.Crashes++
	}
	switch {
	case v.Respawn:
		s.State, s.Due, s.Reason = BackingOff, now.Add(v.Delay), ""
	case v.Clean:
		s.State, s.Due, s.Reason = Finished, time.Time{}, v.Reason
	default:
		s.State, s.Due, s.Reason, s.GaveUp = GivenUp, time.Time{}, v.Reason, true
	}
	return v
}

// Stop begins a graceful stop: a live worker gets the stop signal and grace
// to exit before SIGKILL; a slot without a process is stopped at once.
func (s *Slot) Stop(now time.Time, grace time.Duration) Action {
	switch s.State {
	case Starting, Running:
		s.State, s.Due = Stopping, now.Add(grace)
		return SignalStop
	case Stopping:
		// A stop asked for while a worker that was not ready in time
		// is being stopped: the slot now stops for good.
		s.notReady = false
		return None
	}
	s.State, s.Due = Stopped, time.Time{}
	return None
}

// Revive gives a given-up or finished slot a fresh start (on reload): a new
// history, and a spawn as soon as the master looks at it.
func (s *Slot) Revive(now time.Time, gen int) {
	if s.State != GivenUp && s.State != Finished {
		return
	}
	s.State, s.Due, s.Gen, s.Reason, s.History, s.GaveUp = Idle, now, gen, "", History{}, false
}

package workers

import (
	"testing"
	"time"
)

func TestSlotLifecycle(t *testing.T) {
	c := newClock()
	p := DefaultPolicy()
	s := NewSlot("web", 2, 1, c.at(0))

	if s.State != Idle || s.Tick(c.at(0)) != Spawn {
		t.Fatalf("a new slot must spawn at once: %+v", s)
	}
	s.Spawned(c.at(0), 100, 7, time.Second)
	if s.State != Starting || !s.Live() || s.Due != c.at(time.Second) {
		t.Fatalf("after spawn: %+v; want starting, ready due in 1s", s)
	}
	if a := s.Tick(c.at(999 * time.Millisecond)); a != None || s.State != Starting {
		t.Fatalf("before ready-after: action %v state %v", a, s.State)
	}
	if a := s.Tick(c.at(time.Second)); a != None || s.State != Running || !s.Due.IsZero() {
		t.Fatalf("at ready-after: action %v, %+v; want running with nothing due", a, s)
	}

	v := s.Died(c.at(2*time.Second), 1, p, noJitter)
	if !v.Respawn || s.State != BackingOff || s.Pid != 0 || s.PidFD != -1 || s.Due != c.at(2*time.Second) {
		t.Fatalf("first death: %+v %+v; want backing off, respawn due at once, no pid", v, s)
	}
	if s.Tick(c.at(2*time.Second)) != Spawn {
		t.Fatal("a due backing-off slot must spawn")
	}
	s.Spawned(c.at(2*time.Second), 101, 8, time.Second)
	s.Died(c.at(2*time.Second+time.Millisecond), 1, p, noJitter)
	if s.State != BackingOff || s.Due != c.at(2*time.Second+time.Millisecond+p.BackoffMin) {
		t.Fatalf("second death: %+v; want a respawn after backoff-min", s)
	}
	if s.History.Spawns != 2 {
		t.Errorf("spawns %d, want 2", s.History.Spawns)
	}
}

func TestSlotSpawnFailureIsACrash(t *testing.T) {
	c := newClock()
	p := DefaultPolicy()
	s := NewSlot("main", 0, 1, c.at(0))
	s.Tick(c.at(0))
	v := s.SpawnFailed(c.at(0), 127, p, noJitter)
	if !v.Respawn || s.State != BackingOff || s.History.Spawns != 1 {
		t.Fatalf("failed spawn: %+v %+v; want a retry, counted as a spawn", v, s)
	}
	s.Tick(c.at(0))
	s.SpawnFailed(c.at(0), 127, p, noJitter)
	if s.Due != c.at(p.BackoffMin) {
		t.Fatalf("second failed spawn: due %v after start; want backoff-min", s.Due.Sub(c.at(0)))
	}

	p.Throttle = ThrottleHmain
	h := NewSlot("main", 1, 1, c.at(0))
	for i := 1; i <= 3; i++ {
		h.Tick(h.Due)
		h.SpawnFailed(c.at(0), 127, p, noJitter)
	}
	if h.State != GivenUp || h.History.Spawns != 3 {
		t.Fatalf("hmain: 3 failed spawns leave %+v; want given up after 3 attempts", h)
	}
}

func TestSlotStop(t *testing.T) {
	c := newClock()
	p := DefaultPolicy()
	for _, tc := range []struct {
		doc    string
		setup  func(s *Slot)
		action Action
		state  State
	}{
		{"a running worker gets the stop signal", func(s *Slot) { s.Spawned(c.at(0), 10, -1, 0) }, SignalStop, Stopping},
		{"a starting worker too", func(s *Slot) { s.Spawned(c.at(0), 10, -1, time.Second) }, SignalStop, Stopping},
		{"an idle slot just stops", func(*Slot) {}, None, Stopped},
		{"a backing-off slot just stops", func(s *Slot) {
			s.Spawned(c.at(0), 10, -1, 0)
			s.Died(c.at(0), 1, p, noJitter)
		}, None, Stopped},
		{"a given-up slot just stops", func(s *Slot) {
			s.Spawned(c.at(0), 10, -1, 0)
			s.Died(c.at(0), 1, Policy{Restart: RestartNever}, noJitter)
		}, None, Stopped},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			s := NewSlot("main", 0, 1, c.at(0))
			tc.setup(s)
			if a := s.Stop(c.at(time.Second), 5*time.Second); a != tc.action || s.State != tc.state {
				t.Fatalf("Stop: action %v state %v; want %v %v", a, s.State, tc.action, tc.state)
			}
			if s.State != Stopping {
				return
			}
			if a := s.Stop(c.at(2*time.Second), 5*time.Second); a != None {
				t.Errorf("second Stop: %v; want None (already stopping)", a)
			}
			if a := s.Tick(c.at(6*time.Second - 1)); a != None {
				t.Errorf("before the grace period ends: %v", a)
			}
			if a := s.Tick(c.at(6 * time.Second)); a != Kill {
				t.Errorf("when the grace period ends: %v; want Kill", a)
			}
			if v := s.Died(c.at(7*time.Second), 128+9, p, noJitter); s.State != Stopped || v.Respawn {
				t.Errorf("death while stopping: %+v %v; want stopped, no respawn", v, s.State)
			}
		})
	}
}

func TestSlotRevive(t *testing.T) {
	c := newClock()
	s := NewSlot("main", 0, 1, c.at(0))
	s.Spawned(c.at(0), 10, -1, 0)
	s.Died(c.at(0), 3, Policy{Restart: RestartAlways, FatalExit: []int{3}}, noJitter)
	if s.State != GivenUp || s.Active() {
		t.Fatalf("fatal exit: %+v; want given up", s)
	}
	s.Revive(c.at(time.Minute), 2)
	if s.State != Idle || s.Gen != 2 || s.History.Spawns != 0 || s.Due != c.at(time.Minute) {
		t.Fatalf("revived: %+v; want idle, generation 2, fresh history, due now", s)
	}
	running := NewSlot("main", 1, 1, c.at(0))
	running.Spawned(c.at(0), 11, -1, 0)
	running.Revive(c.at(time.Minute), 2)
	if running.State != Running || running.Pid != 11 {
		t.Errorf("Revive touched a running slot: %+v", running)
	}
}

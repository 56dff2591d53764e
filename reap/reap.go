// Package reap owns every wait in the process.
//
// pidone is PID 1 (or a child subreaper), so every orphan in its namespace
// becomes its child and must be waited for, or it stays a zombie forever. A
// global wait4(-1) loop and a per-process wait (os/exec's Cmd.Wait) cannot
// live side by side: whichever reaps first steals the other's status
// (golang/go#60481). So this package is the only caller of wait4, and the
// rest of pidone learns about exits from it.
//
// Processes whose exit matters (the main child, workers) are started through
// Spawn, which registers them before the reaper can possibly reap them; their
// exits arrive on Exits. Every other reaped process is an orphan, handed to
// the OnOrphan callback.
package reap

import (
	"errors"
	"os"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"
)

// Exit is a reaped process and its wait status.
type Exit struct {
	Pid    int
	Status unix.WaitStatus
}

// signalExitBase is the offset shells and container runtimes add to a
// terminating signal's number to form an exit code (128+S).
const signalExitBase = 128

// Code decodes the status as a shell does: exit N gives N, death by signal S
// gives 128+S.
func (e Exit) Code() int {
	return ExitCode(e.Status)
}

// ExitCode decodes a wait status as a shell does: exit N gives N, death by
// signal S gives 128+S. Stopped and continued states never reach here: the
// reaper waits without WUNTRACED or WCONTINUED.
func ExitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return signalExitBase + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// Reaper runs the blocking wait loop. Create it with Start.
type Reaper struct {
	mu      sync.Mutex
	watched map[int]struct{}
	exits   chan Exit

	// wake is fed SIGCHLD by the runtime and a token by Spawn; the loop
	// blocks on it only while the process has no children at all (ECHILD),
	// so an idle init sleeps in wait4 and never wakes up.
	wake chan os.Signal

	onOrphan func(Exit)
}

// Start begins reaping. onOrphan, if not nil, is called on the reaper's
// goroutine for every reaped process that was not started through Spawn; it
// must not block.
func Start(onOrphan func(Exit)) *Reaper {
	r := &Reaper{
		watched:  make(map[int]struct{}),
		exits:    make(chan Exit, 16),
		wake:     make(chan os.Signal, 1),
		onOrphan: onOrphan,
	}
	// Registered before the first child exists, so the SIGCHLD of an orphan
	// re-parented while we have no children is never missed.
	signal.Notify(r.wake, unix.SIGCHLD)
	go r.loop()
	return r
}

// Exits delivers the exit of every process started through Spawn, once.
func (r *Reaper) Exits() <-chan Exit {
	return r.exits
}

// Spawn calls start, which must create exactly one child process and return
// its pid, and watches that pid. The reaper cannot publish any exit while
// start runs, so even a child that dies at once is reported on Exits rather
// than taken for an orphan.
func (r *Reaper) Spawn(start func() (pid int, err error)) (int, error) {
	r.mu.Lock()
	pid, err := start()
	if err == nil {
		r.watched[pid] = struct{}{}
	}
	r.mu.Unlock()
	if err == nil {
		// The loop may be parked after ECHILD: it has a child again.
		select {
		case r.wake <- unix.SIGCHLD:
		default:
		}
	}
	return pid, err
}

func (r *Reaper) loop() {
	for {
		var status unix.WaitStatus
		pid, err := unix.Wait4(-1, &status, 0, nil)
		switch {
		case err == nil:
			r.publish(Exit{Pid: pid, Status: status})
		case errors.Is(err, unix.ECHILD):
			// No children, not even zombies: sleep until one exists.
			<-r.wake
		case errors.Is(err, unix.EINTR):
			// Retried: the runtime's handlers use SA_RESTART, but be safe.
		default:
			// wait4(-1, 0) fails only with ECHILD, EINTR or EINVAL, and the
			// arguments are constant. Nothing to recover: crash loudly.
			panic(os.NewSyscallError("wait4", err))
		}
	}
}

func (r *Reaper) publish(e Exit) {
	r.mu.Lock()
	_, watched := r.watched[e.Pid]
	delete(r.watched, e.Pid)
	r.mu.Unlock()
	switch {
	case watched:
		r.exits <- e
	case r.onOrphan != nil:
		r.onOrphan(e)
	}
}

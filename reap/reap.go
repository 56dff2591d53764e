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
// exits arrive on Exits, each carrying the ID of the Spawn that made the
// process. Every other reaped process is an orphan, handed to the OnOrphan
// callback.
//
// Why an ID and not the pid: once wait4 has reaped a process its pid is free
// for the next fork, possibly before whoever reads Exits has seen the exit.
// A pid is a name only while its process is not yet reaped, and only the
// reaper knows when that stops; so the reaper, at the moment it reaps,
// attaches the one name that is never reused.
//
// Two more things only the waiter can know are published here too, so that
// nobody else ever needs to wait: when a watched process is stopped by a
// signal (Options.Stops, for terminal job control), and when pidone has no
// children left at all (NoChildren and HasChildren, for "exit the moment
// nothing is left").
package reap

import (
	"errors"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"time"

	"github.com/pidone/pidone/logging"
	"golang.org/x/sys/unix"
)

// Exit is a reaped process and its wait status.
type Exit struct {
	Pid    int
	Status unix.WaitStatus
	// Spawn is the ID of the Spawn that started the process, 0 for an
	// orphan. Key state by it, never by Pid (see the package comment).
	Spawn SpawnID
}

// SpawnID names one successful Spawn for the reaper's whole life.
type SpawnID uint64

// Child is a process started through Spawn.
type Child struct {
	Pid int
	ID  SpawnID
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

// Describe renders the status for logs: "exit status 3", "killed by
// SIGTERM", "killed by SIGSEGV (core dumped)" (logging.ExitStatus, which
// JSON logs turn into fields).
func (e Exit) Describe() string {
	return logging.ExitStatus(e.Status).String()
}

// Reaper runs the blocking wait loop. Create it with Start or StartWith.
type Reaper struct {
	mu sync.Mutex
	// watched maps the pid of every spawned process not yet reaped to its
	// spawn's ID; failedSpawn marks a child whose exec failed, whose exit
	// nobody wants. lastID counts the spawns.
	watched map[int]SpawnID
	lastID  SpawnID
	exits   chan Exit
	stops   chan Exit // nil unless Options.Stops
	// empty gets a token each time wait4 finds no children (ECHILD).
	empty chan struct{}
	// idle is true while the loop sleeps after ECHILD: every process it
	// reaped before has been published. Guarded by mu.
	idle bool

	// wake is fed SIGCHLD by the runtime and a token by Spawn; the loop
	// blocks on it only while the process has no children at all (ECHILD),
	// so an idle init sleeps in wait4 and never wakes up. SIGCHLD is
	// delivered only while the loop is there (sigchld.go).
	wake chan os.Signal

	onOrphan func(Exit)
}

// Options configures a Reaper.
type Options struct {
	// OnOrphan, if not nil, is called on the reaper's goroutine for every
	// reaped process that was not started through Spawn; it must not block.
	OnOrphan func(Exit)
	// Stops makes the reaper also report, on Stops, each time a process
	// started through Spawn is stopped by a signal (wait4 WUNTRACED). The
	// receiver must keep reading Stops, as it reads Exits.
	Stops bool
}

// Start begins reaping with only an orphan callback (see Options.OnOrphan).
func Start(onOrphan func(Exit)) *Reaper {
	return StartWith(Options{OnOrphan: onOrphan})
}

// StartWith begins reaping.
func StartWith(o Options) *Reaper {
	r := &Reaper{
		watched:  make(map[int]SpawnID),
		exits:    make(chan Exit, 16),
		empty:    make(chan struct{}, 1),
		wake:     make(chan os.Signal, 1),
		onOrphan: o.OnOrphan,
	}
	if o.Stops {
		r.stops = make(chan Exit, 4)
	}
	// Registered before the first child exists, so the SIGCHLD of an orphan
	// re-parented while we have no children is never missed.
	signal.Notify(r.wake, unix.SIGCHLD)
	go r.loop(newSigchldSwitch())
	return r
}

// Exits delivers the exit of every process started through Spawn, once.
func (r *Reaper) Exits() <-chan Exit {
	return r.exits
}

// Stops delivers a status each time a process started through Spawn is
// stopped (Status.Stopped() is true; StopSignal() says by what). It is nil,
// and blocks forever, unless the reaper was started with Options.Stops.
func (r *Reaper) Stops() <-chan Exit {
	return r.stops
}

// NoChildren receives a value each time the reaper finds that pidone has no
// children at all, zombies included (wait4 returned ECHILD). Repeats
// coalesce. It is a hint, not a fact: a value may be stale by the time it is
// read (a child spawned since, an orphan re-parented since), so confirm with
// Empty before acting on it.
func (r *Reaper) NoChildren() <-chan struct{} {
	return r.empty
}

// Empty reports whether nothing is left and nothing is on its way: pidone
// has no children at all, and every process reaped so far has been
// published (its exit is on Exits, its OnOrphan call has returned). The
// second half matters to an init about to exit, which must not lose the
// last exit to its own exit.
func (r *Reaper) Empty() bool {
	if r.HasChildren() {
		return false
	}
	// No children now. If the loop is asleep after ECHILD, it published
	// everything before it looked; if not, it is still publishing the last
	// ones, and a NoChildren hint will follow.
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.idle
}

// HasChildren reports whether pidone has any child right now, running,
// stopped or a zombie not yet reaped. It asks the kernel without reaping
// anything (waitid with WNOWAIT|WNOHANG), so it never takes an exit away
// from the reaper loop.
//
// For PID 1 and for a child subreaper "no children" means "no descendants":
// every orphan below pidone is re-parented to it, so a descendant whose
// parent chain does not reach pidone cannot exist.
func (r *Reaper) HasChildren() bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT|unix.WALL, nil)
		switch {
		case err == nil:
			return true
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ECHILD):
			return false
		default:
			panic(os.NewSyscallError("waitid", err))
		}
	}
}

// failedSpawn is the watched ID of a child that start reported as failed:
// it exists (its exec failed after the fork) and will exit at once, but it
// is neither the caller's nor an orphan, so its exit is dropped.
const failedSpawn SpawnID = 0

// Spawn calls start, which must create at most one child process and return
// its pid, and watches that pid. The reaper cannot publish any exit while
// start runs, so even a child that dies at once is reported on Exits, with
// the returned Child's ID, rather than taken for an orphan. A start that
// fails after it created its child (an exec error reported by the child)
// returns that pid with the error: the child's exit is then dropped.
func (r *Reaper) Spawn(start func() (pid int, err error)) (Child, error) {
	r.mu.Lock()
	pid, err := start()
	var c Child
	switch {
	case err == nil:
		r.lastID++
		c = Child{Pid: pid, ID: r.lastID}
		r.watched[pid] = c.ID
	case pid > 0:
		r.watched[pid] = failedSpawn
	}
	r.mu.Unlock()
	if pid > 0 {
		// The loop may be parked after ECHILD: it has a child again.
		select {
		case r.wake <- unix.SIGCHLD:
		default:
		}
	}
	if err != nil {
		return Child{}, err
	}
	return c, nil
}

// yieldEvery bounds how long the reaper runs without passing through the
// scheduler. The runtime's sysmon takes the processor away from a goroutine
// whose scheduling tick has not moved for 10 ms each time it finds it in a
// system call, so a reaper busy in wait4 for longer would lose and win back
// its processor on every wait4 that blocks, waking sysmon each time
// (docs/performance.md, change 1).
const yieldEvery = 5 * time.Millisecond

func (r *Reaper) loop(sigchld *sigchldSwitch) {
	// __WALL: also children created with an exit signal other than
	// SIGCHLD. pidone starts its own with SIGCHLD and the kernel resets an
	// orphan's to SIGCHLD when it re-parents it, so this only closes the
	// door on a child that could otherwise never be reaped.
	options := unix.WALL
	if r.stops != nil {
		options |= unix.WUNTRACED
	}
	sigchld.quiet()
	lastYield := time.Now()
	for {
		e, id, watched, err := r.reapOne(options)
		switch {
		case err == nil && e.Pid == 0:
			// Children, but none has changed state: sleep until one has,
			// without taking it (waitid WNOWAIT), so that the next
			// reapOne takes it under the lock.
			r.awaitChild(options)
		case err == nil && e.Status.Stopped():
			// Not an exit: the process is still there, and still watched.
			if watched && id != failedSpawn {
				e.Spawn = id
				r.stops <- e
			}
		case err == nil:
			r.publish(e, id, watched)
		case errors.Is(err, unix.ECHILD):
			// No children, not even zombies. Listen for SIGCHLD again,
			// then look once more: a child adopted and dead while
			// SIGCHLD was quiet sent no signal, but wait4 finds it.
			sigchld.listen()
			if r.HasChildren() {
				sigchld.quiet()
				continue
			}
			// Say so, then sleep until a child exists.
			r.mu.Lock()
			r.idle = true
			r.mu.Unlock()
			select {
			case r.empty <- struct{}{}:
			default:
			}
			<-r.wake
			sigchld.quiet()
			r.mu.Lock()
			r.idle = false
			r.mu.Unlock()
		case errors.Is(err, unix.EINTR):
			// Retried: the runtime's handlers use SA_RESTART, but be safe.
		default:
			// wait4(-1, WNOHANG) fails only with ECHILD, EINTR or EINVAL,
			// and the arguments are constant. Nothing to recover: crash
			// loudly.
			panic(os.NewSyscallError("wait4", err))
		}
		if now := time.Now(); now.Sub(lastYield) >= yieldEvery {
			runtime.Gosched()
			lastYield = now
		}
	}
}

// reapOne takes one child that has changed state, if any (Pid 0: none yet),
// and says which spawn it was. It reaps under the lock Spawn holds while it
// forks: the pid of a process is free for a new fork the moment wait4 has
// reaped it, and a Spawn between the reap and the lookup would give the
// number to a new process and its ID to this exit.
func (r *Reaper) reapOne(options int) (e Exit, id SpawnID, watched bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.Pid, err = unix.Wait4(-1, &e.Status, options|unix.WNOHANG, nil)
	if err != nil || e.Pid <= 0 {
		e.Pid = 0
		return e, 0, false, err
	}
	id, watched = r.watched[e.Pid]
	if !e.Status.Stopped() {
		delete(r.watched, e.Pid)
	}
	return e, id, watched, nil
}

// awaitChild sleeps until a child has changed state, without reaping it
// (waitid with WNOWAIT). ECHILD and EINTR end the wait too: the next
// reapOne says what there is.
func (r *Reaper) awaitChild(options int) {
	var info unix.Siginfo
	flags := unix.WEXITED | unix.WNOWAIT | unix.WALL
	if options&unix.WUNTRACED != 0 {
		flags |= unix.WSTOPPED
	}
	if err := unix.Waitid(unix.P_ALL, 0, &info, flags, nil); err != nil && !errors.Is(err, unix.ECHILD) && !errors.Is(err, unix.EINTR) {
		panic(os.NewSyscallError("waitid", err))
	}
}

// publish hands on an exit: to Exits if it is a spawn's (its ID on it),
// nowhere if the spawn had failed, else to OnOrphan.
func (r *Reaper) publish(e Exit, id SpawnID, watched bool) {
	switch {
	case watched && id == failedSpawn:
	case watched:
		e.Spawn = id
		r.exits <- e
	case r.onOrphan != nil:
		r.onOrphan(e)
	}
}

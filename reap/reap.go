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
// # One wait per orphan, and still exact
//
// The loop sleeps in a plain blocking wait4(-1), which reaps: one system
// call per reaped child and nothing more per wake-up, as tini and catatonit
// pay (issue 23). No lock is held while it sleeps. The attribution happens
// after it returns, under the lock that Spawn holds from before its fork to
// after its registration; so the one thing that can come between a reap and
// its lookup is a whole Spawn, whose child may have taken the pid just freed.
// Every wait has a number (epoch), and each registration records the number
// of the wait that was in flight when it was made. When the wait numbered E
// returns pid P, the registrations under P are, in order:
//
//   - one made before wait E began: its process held P, unreaped, when the
//     wait started (each lookup removes the process it reaped, so every
//     registration left names a live or zombie child), and no two unreaped
//     processes share a pid, so it is the one reaped. No system call.
//   - two made during wait E: the second process got P after the first
//     was reaped, and wait E is the only reap since the last lookup, so the
//     first is the one reaped.
//   - only one, made during wait E: either its child exited and wait E
//     reaped it (an instant exit), or wait E reaped an orphan that held P
//     and this spawn's fork took P after. Only the kernel can tell which
//     happened first, so Spawn keeps a pidfd of the child (CLONE_PIDFD,
//     duplicated) for as long as its registration is this uncertain, and
//     the lookup asks it: pidfd_send_signal(0) fails with ESRCH exactly when
//     the process behind it has been reaped; a pidfd names one process, never
//     a pid's next owner. Reaped: the exit is the spawn's. Not reaped: the
//     exit is the orphan's, and the spawn's own comes later.
//
// So a spawn that gets a reaped pid never receives that exit, and a spawn
// whose child dies at once is never taken for an orphan. Orphans pay
// nothing for it; a spawn made while a wait is in flight pays an fcntl and
// a close, and one pidfd_send_signal if that wait returns its pid.
// A registration without a pidfd (a spawn whose exec failed: spawn.Start
// closes its pidfd, and the exit is dropped anyway) asks waitid(P_PID,
// WNOWAIT) whether P still names an unreaped child instead; that is exact
// unless a process re-parented to pidone took P in between, which could
// only swap which of two dropped-or-orphan exits is logged for P.
//
// On a kernel without pidfds (before Linux 5.3, or a seccomp profile that
// refuses them) the loop instead reaps each child with wait4(WNOHANG) under
// the lock, so no Spawn can come between a reap and its lookup, and sleeps in
// waitid(WNOWAIT) when nothing is ready: exact too, at two more system calls
// per wake-up (issue 10).
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
	// watched holds, under the pid of every spawned process whose exit is
	// not yet attributed, its registrations in the order they were made
	// (two only while a reaped pid has just been given again: see the
	// package comment). lastID counts the spawns.
	watched map[int][]registration
	lastID  SpawnID
	// epoch numbers the wait the loop is in, or about to make; it moves on
	// each time a wait returns. pinned lists the pids whose registrations
	// hold a pidfd until the current wait has returned.
	epoch  uint64
	pinned []int
	// lockedReap: no pidfds here, so reap with WNOHANG under mu instead
	// of in a blocking wait4 (see the package comment).
	lockedReap bool
	// wait4 is the loop's blocking wait: unix.Wait4(-1, ..., options), a
	// seam for tests. The status comes back by value: a pointer passed
	// through a func value escapes, and would cost an allocation per wait.
	wait4 func(options int) (int, unix.WaitStatus, error)

	exits chan Exit
	stops chan Exit // nil unless Options.Stops
	// empty gets a token each time wait4 finds no children (ECHILD).
	empty chan struct{}
	// idle is true while the loop sleeps after ECHILD: every process it
	// reaped before has been published, and no wait is in flight. Guarded
	// by mu.
	idle bool

	// wake is fed SIGCHLD by the runtime and a token by Spawn; the loop
	// blocks on it only while the process has no children at all (ECHILD),
	// so an idle init sleeps in wait4 and never wakes up. SIGCHLD is
	// delivered only while the loop is there (sigchld.go).
	wake chan os.Signal

	onOrphan func(Exit)
}

// registration is one process started through Spawn.
type registration struct {
	id SpawnID
	// epoch is the number of the wait in flight (or about to be made) when
	// Spawn registered the process.
	epoch uint64
	// pidfd is the reaper's own pidfd for the process while the wait
	// numbered epoch may still return its pid, else -1.
	pidfd int
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
	r := newReaper(o)
	r.lockedReap = !pidfdsWork()
	r.start()
	return r
}

func newReaper(o Options) *Reaper {
	r := &Reaper{
		watched:  make(map[int][]registration),
		wait4:    waitAny,
		exits:    make(chan Exit, 16),
		empty:    make(chan struct{}, 1),
		wake:     make(chan os.Signal, 1),
		onOrphan: o.OnOrphan,
	}
	if o.Stops {
		r.stops = make(chan Exit, 4)
	}
	return r
}

func (r *Reaper) start() {
	go func() {
		// SIGCHLD matters only to the loop's sleep after ECHILD, and the
		// loop looks for children (wait4) before it ever sleeps: so the
		// registration need only come before the loop, not before the
		// first child. Made here, its round trip to the runtime's signal
		// thread (about 0.3 ms) runs beside the first spawn instead of
		// before it (issue 19).
		signal.Notify(r.wake, unix.SIGCHLD)
		r.loop(newSigchldSwitch())
	}()
}

// waitAny is the loop's blocking wait: any child (wait4(2)).
func waitAny(options int) (int, unix.WaitStatus, error) {
	var ws unix.WaitStatus
	pid, err := unix.Wait4(-1, &ws, options, nil)
	return pid, ws, err
}

// pidfdsWork reports whether this kernel (and seccomp profile) lets the
// reaper tell a reaped process from a live one by its pidfd: pidfd_open
// (Linux 5.3, after CLONE_PIDFD in 5.2) and pidfd_send_signal (5.1).
func pidfdsWork() bool {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.PidfdSendSignal(fd, 0, nil, 0) == nil
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
	return hasChild(unix.P_ALL, 0)
}

// hasChild reports whether the child (P_PID) or any child (P_ALL) that id
// names exists and is not yet reaped, without reaping it.
func hasChild(idtype, id int) bool {
	var info unix.Siginfo
	for {
		err := unix.Waitid(idtype, id, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT|unix.WALL, nil)
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
// its pid and, if the kernel gave one (CLONE_PIDFD), its pidfd, else -1;
// the caller keeps that pidfd (Spawn takes a copy when it needs one). Spawn
// watches the pid. The reaper cannot attribute any exit while start runs,
// so even a child that dies at once is reported on Exits, with the returned
// Child's ID, rather than taken for an orphan. A start that fails after it
// created its child (an exec error reported by the child) returns that pid
// with the error: the child's exit is then dropped.
func (r *Reaper) Spawn(start func() (pid, pidfd int, err error)) (Child, error) {
	r.mu.Lock()
	pid, pidfd, err := start()
	var c Child
	if pid > 0 {
		reg := registration{id: failedSpawn, epoch: r.epoch, pidfd: -1}
		if err == nil {
			r.lastID++
			c = Child{Pid: pid, ID: r.lastID}
			reg.id = c.ID
		}
		if pidfd >= 0 && !r.idle && !r.lockedReap {
			// A wait may be in flight, and may return pid for an orphan
			// that held it before this fork: keep the means to tell.
			// Without a copy (EMFILE) the lookup asks by pid.
			if fd, err := unix.FcntlInt(uintptr(pidfd), unix.F_DUPFD_CLOEXEC, 0); err == nil {
				reg.pidfd = fd
				r.pinned = append(r.pinned, pid)
			}
		}
		r.watched[pid] = append(r.watched[pid], reg)
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
	next := r.reapNext
	if r.lockedReap {
		next = r.reapLocked
	}
	sigchld.quiet()
	lastYield := time.Now()
	for {
		e, id, watched, err := next(options)
		switch {
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
			// What Spawn registered meanwhile was made before the next
			// wait: a new number tells the lookup so.
			r.mu.Lock()
			r.idle = false
			r.epoch++
			r.mu.Unlock()
		case errors.Is(err, unix.EINTR):
			// Retried: the runtime's handlers use SA_RESTART, but be safe.
		default:
			// wait4(-1) fails only with ECHILD, EINTR or EINVAL, and the
			// arguments are constant. Nothing to recover: crash loudly.
			panic(os.NewSyscallError("wait4", err))
		}
		// time.Since reads one clock, time.Now two: a storm pays this
		// check once per orphan.
		if time.Since(lastYield) >= yieldEvery {
			yield()
			lastYield = time.Now()
		}
	}
}

// reapNext sleeps in wait4 until a child has exited (or stopped) and reaps
// it, without the lock, then says which spawn it was (see the package
// comment for why that is exact).
func (r *Reaper) reapNext(options int) (e Exit, id SpawnID, watched bool, err error) {
	e.Pid, e.Status, err = r.wait4(options)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && e.Pid > 0 {
		id, watched = r.attribute(e)
	}
	r.endWait()
	return e, id, watched, err
}

// reapLocked is reapNext for kernels without pidfds: it reaps under the
// lock Spawn forks under, so no fork can take a pid between its reap and
// its lookup, and sleeps until a child is ready without taking it (waitid
// WNOWAIT) when none is.
func (r *Reaper) reapLocked(options int) (e Exit, id SpawnID, watched bool, err error) {
	for {
		r.mu.Lock()
		e.Pid, err = unix.Wait4(-1, &e.Status, options|unix.WNOHANG, nil)
		if err == nil && e.Pid > 0 {
			id, watched = r.attribute(e)
		}
		r.mu.Unlock()
		if err != nil || e.Pid > 0 {
			return e, id, watched, err
		}
		r.awaitChild(options)
	}
}

// attribute says which spawn, if any, the process e reports on was, and
// forgets it if e is its exit. Call it with mu held, before endWait.
func (r *Reaper) attribute(e Exit) (SpawnID, bool) {
	regs := r.watched[e.Pid]
	i := 0
	if !r.lockedReap && !e.Status.Stopped() {
		// A stop frees no pid, and a reap under the lock leaves no room
		// for a fork: in both cases the first registration is the one.
		i = reaped(regs, r.epoch, func(reg registration) bool { return isReaped(e.Pid, reg) })
	}
	if i < 0 || len(regs) == 0 {
		return 0, false
	}
	id := regs[i].id
	if !e.Status.Stopped() {
		if regs[i].pidfd >= 0 {
			unix.Close(regs[i].pidfd)
		}
		if len(regs) == 1 {
			delete(r.watched, e.Pid)
		} else {
			r.watched[e.Pid] = append(regs[:i:i], regs[i+1:]...)
		}
	}
	return id, true
}

// reaped picks, among the registrations under a pid that the wait
// numbered epoch has just reaped (in the order they were made), the one
// whose process it reaped: its index, or -1 if none (the exit is an
// orphan's). isReaped asks the kernel; it is called only when nothing else
// can tell (the package comment has the reasoning).
func reaped(regs []registration, epoch uint64, isReaped func(registration) bool) int {
	switch {
	case len(regs) == 0:
		return -1
	case regs[0].epoch < epoch || len(regs) > 1:
		return 0
	case isReaped(regs[0]):
		return 0
	}
	return -1
}

// isReaped reports whether the process that reg registered under pid has
// been reaped, asking its pidfd if it kept one, else whether pid names an
// unreaped child.
func isReaped(pid int, reg registration) bool {
	if reg.pidfd < 0 {
		return !hasChild(unix.P_PID, pid)
	}
	// ESRCH: "it has terminated and been waited on"
	// (pidfd_send_signal(2)); a zombie still takes signal 0.
	return errors.Is(unix.PidfdSendSignal(reg.pidfd, 0, nil, 0), unix.ESRCH)
}

// endWait closes the pidfds kept for the wait that has just returned (the
// registrations they covered are now older than any wait to come) and
// numbers the next wait. Call it with mu held.
func (r *Reaper) endWait() {
	for _, pid := range r.pinned {
		regs := r.watched[pid]
		for i := range regs {
			if regs[i].pidfd >= 0 {
				unix.Close(regs[i].pidfd)
				regs[i].pidfd = -1
			}
		}
	}
	r.pinned = r.pinned[:0]
	r.epoch++
}

// awaitChild sleeps until a child has changed state, without reaping it
// (waitid with WNOWAIT). ECHILD and EINTR end the wait too: the next
// reapLocked says what there is.
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

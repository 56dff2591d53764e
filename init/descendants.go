package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pidone/pidone/forward"
	"golang.org/x/sys/unix"
)

// sweeper signals every process below pidone: the side-effect half of the
// shutdown (shutdown.go decides, this sends).
//
// As PID 1 it uses kill(-1, sig), which reaches every process of the PID
// namespace but its init (kill(2)), setsid daemons and double-forked
// escapees included, in one atomic pass of the kernel over its task list:
// nothing alive at that instant is missed, and a fork racing with it gives
// the new child the signal too. So there is nothing to catch up with later.
//
// As a child subreaper it walks down from pidone through /proc's children
// files (listChildren), or, on kernels without them, scans /proc for the
// processes whose parent chain leads to pidone. That walk is not atomic, so each process is pinned with a
// pidfd, then checked again (same start time, so not a recycled pid; a
// parent that is pidone or an already verified descendant whose pidfd shows
// it still unreaped, so really below pidone) before the signal goes through
// the pidfd. What the walk missed (a process re-parented to pidone while the
// walk ran) is caught up with whenever the loop reaps something, and only
// processes that already existed when the stop began get the stop signal:
// what a stopping process starts afterwards is its shutdown work (a shell's
// trap running a cleanup command), exactly as with kill(-1).
type sweeper struct {
	log  *slog.Logger
	pid1 bool
	self int
	// procErr says why /proc cannot be walked (not mounted, or the /proc
	// of another PID namespace); then only the main child's process group
	// can be reached.
	procErr error
	// group is the main child's process group, for that fallback.
	group int
	// stopTick is when the stop began, in the clock ticks of
	// /proc/PID/stat's starttime.
	stopTick uint64
	// signalled holds the processes that got the stop signal.
	signalled map[procID]bool
	warned    bool
	// scan is set once the kernel has shown it has no children files:
	// walks then read all of /proc.
	scan bool
	// reads counts the /proc files and directories read, for the debug
	// log (and the test that the walk does not read the whole host).
	reads int
	// hasChildren, if set, is the reaper's HasChildren: a walk asks it
	// first, and reads nothing when pidone has no child.
	hasChildren func() bool
}

// procID names one process for good: a pid is recycled, a pid with its start
// time is not (in practice: 4 million pids within one 10 ms tick).
type procID struct {
	pid   int
	start uint64
}

func newSweeper(log *slog.Logger, pid1 bool, group int) *sweeper {
	s := &sweeper{log: log, pid1: pid1, self: os.Getpid(), group: group, signalled: map[procID]bool{}}
	if !pid1 {
		s.procErr = procIsOurs(s.self)
	}
	return s
}

// stopAll sends sig, then SIGCONT (a stopped process acts on neither until
// continued, as systemd does), to every descendant.
func (s *sweeper) stopAll(sig unix.Signal) {
	s.stopTick = bootTicks()
	if s.pid1 {
		s.killAllInNamespace(sig)
		if sig != unix.SIGCONT {
			s.killAllInNamespace(unix.SIGCONT)
		}
		return
	}
	s.catchUp(sig)
}

// catchUp sends sig (and SIGCONT) to descendants that existed when the stop
// began and have not had it yet. As PID 1 there are none (see sweeper).
func (s *sweeper) catchUp(sig unix.Signal) {
	if s.pid1 {
		return
	}
	// A few rounds at most: each finds only processes re-parented while
	// the previous one ran.
	for round := 0; round < 4; round++ {
		n := s.walk(sig, func(p procInfo) bool {
			id := procID{p.pid, p.start}
			if s.signalled[id] || p.start > s.stopTick {
				return false
			}
			s.signalled[id] = true
			return true
		})
		if n == 0 {
			return
		}
	}
}

// killAll sends SIGKILL to every descendant; the loop repeats it on every
// reap until none is left.
func (s *sweeper) killAll() {
	if s.pid1 {
		s.killAllInNamespace(unix.SIGKILL)
		return
	}
	s.walk(unix.SIGKILL, func(procInfo) bool { return true })
}

// signalRest sends sig once to every descendant (--wait-all forwarding).
func (s *sweeper) signalRest(sig unix.Signal) {
	if s.pid1 {
		s.killAllInNamespace(sig)
		return
	}
	s.walk(sig, func(procInfo) bool { return true })
}

func (s *sweeper) killAllInNamespace(sig unix.Signal) {
	// Only ever from a namespace's init: anywhere else kill(-1) would
	// signal every process the user may signal on the whole machine.
	if os.Getpid() != 1 {
		panic("kill(-1) from a process that is not PID 1")
	}
	if err := unix.Kill(-1, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		s.log.Warn("cannot signal every process", "signal", forward.Name(sig), "error", os.NewSyscallError("kill", err))
	}
}

// walk sends sig to every verified descendant that want accepts, and
// SIGCONT after a stop signal; it returns how many it signalled.
func (s *sweeper) walk(sig unix.Signal, want func(procInfo) bool) int {
	if s.procErr != nil {
		return s.fallback(sig)
	}
	start, readsBefore := time.Now(), s.reads
	below, err := s.list()
	if err != nil {
		s.log.Warn("cannot list processes", "error", err)
		return s.fallback(sig)
	}
	n := s.signal(below, sig, want)
	// The count of /proc reads is what test/e2e/walk_host_test.go checks:
	// it must follow pidone's descendants, not the host's processes.
	s.log.Debug("walked the processes below pidone", "found", len(below), "signalled", n,
		"proc_reads", s.reads-readsBefore, "scan", s.scan, "took", time.Since(start))
	return n
}

// list returns the processes below pidone, each parent before its
// children.
func (s *sweeper) list() ([]procInfo, error) {
	if s.hasChildren != nil && !s.hasChildren() {
		// No child at all, zombies included: nothing is below pidone,
		// since every descendant's parent chain reaches pidone through a
		// child (an orphan below a subreaper is re-parented to it). One
		// waitid instead of a read per thread of pidone: the common exit,
		// a main child that left nothing behind (issue 19).
		return nil, nil
	}
	if !s.scan {
		below, err := s.listChildren()
		if !errors.Is(err, fs.ErrNotExist) {
			return below, err
		}
		// pidone's own children file is missing: a kernel built without
		// CONFIG_PROC_CHILDREN. Only a scan of all of /proc can tell.
		s.scan = true
		s.log.Debug("no /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN): scanning all of /proc", "error", err)
	}
	return s.listScan()
}

// listChildren walks down from pidone: the children of each of its threads
// (a child belongs to the thread that forked it, and an orphan to whichever
// thread the kernel picks), then theirs, breadth first. It reads a few
// files per descendant, whatever runs elsewhere on the host.
//
// The children files are not a snapshot (proc(5): reliable only if the
// children are stopped or frozen). A process re-parented while the walk
// runs may be missed: it moved from a list not read yet to pidone's, read
// already. That is exact enough, because such a move goes one way, to pidone
// (PID 1 or a child subreaper: every orphan below it is re-parented to it,
// prctl(2)), and only when the parent dies. So the missed process is now
// pidone's own child, and the next walk finds it: catchUp walks again until
// a walk finds nothing new, and in the killing phase the ancestor that held
// it got SIGKILL in this very walk, so pidone reaps something after the
// move and walks again (evReaped). pidone's exit never depends on a walk:
// it waits until the reaper finds no child at all (reap.Empty).
func (s *sweeper) listChildren() ([]procInfo, error) {
	var below []procInfo
	seen := map[int]bool{s.self: true}
	for queue := []int{s.self}; len(queue) > 0; queue = queue[1:] {
		kids, err := s.children(queue[0])
		if err != nil {
			if queue[0] == s.self {
				return nil, err
			}
			continue // it exited: its children are pidone's now
		}
		for _, pid := range kids {
			if seen[pid] {
				continue // listed by two threads while it moved
			}
			seen[pid] = true
			p, err := s.readProc(pid)
			if err != nil {
				continue // gone
			}
			below = append(below, p)
			if p.state != "Z" { // a zombie's children went to pidone
				queue = append(queue, pid)
			}
		}
	}
	return below, nil
}

// children lists the children of every thread of process pid, from
// /proc/PID/task/TID/children (Linux 3.5, CONFIG_PROC_CHILDREN).
func (s *sweeper) children(pid int) ([]int, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task/"
	s.reads++
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var kids []int
	for _, task := range tasks {
		s.reads++
		b, err := os.ReadFile(dir + task.Name() + "/children")
		if err != nil {
			if pid == s.self && errors.Is(err, fs.ErrNotExist) {
				if _, serr := os.Stat(dir + task.Name()); serr == nil {
					return nil, err // the thread is there, the file is not: not on this kernel
				}
			}
			continue // the thread ended; its children moved to another
		}
		for _, f := range strings.Fields(string(b)) {
			if kid, err := strconv.Atoi(f); err == nil {
				kids = append(kids, kid)
			}
		}
	}
	return kids, nil
}

// listScan reads every process of /proc and keeps those whose parent chain
// leads to pidone: O(processes on the host), for kernels without children
// files.
func (s *sweeper) listScan() ([]procInfo, error) {
	procs, err := readProcs(&s.reads)
	if err != nil {
		return nil, err
	}
	children := map[int][]procInfo{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p)
	}
	var below []procInfo
	for queue := []int{s.self}; len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			below = append(below, c)
			queue = append(queue, c.pid)
		}
	}
	return below, nil
}

// signal verifies each process of below (parents first) and sends sig to
// those want accepts; it returns how many it signalled.
func (s *sweeper) signal(below []procInfo, sig unix.Signal, want func(procInfo) bool) int {
	// verified maps a pid to the descendant verified under it; pidone
	// itself needs no pidfd (its pid cannot be recycled while it runs).
	verified := map[int]pinned{s.self: {fd: -1}}
	defer func() {
		for _, v := range verified {
			if v.fd >= 0 {
				unix.Close(v.fd)
			}
		}
	}()
	n, pin := 0, true
	for progress := true; progress && len(below) > 0; {
		progress = false
		var retry []procInfo
		for _, p := range below {
			v, ok, again := s.verify(p, verified, &pin)
			if again {
				retry = append(retry, p)
				continue
			}
			if !ok {
				continue
			}
			progress = true
			verified[p.pid] = v
			if p.state == "Z" || !want(p) {
				continue
			}
			n++
			v.send(p.pid, sig, s.log)
			if sig != unix.SIGKILL && sig != unix.SIGCONT {
				v.send(p.pid, unix.SIGCONT, s.log)
			}
		}
		below = retry
	}
	return n
}

// pinned is a verified descendant: a pidfd, or (kernels before 5.3, no
// pidfd_open) its start time to check again.
type pinned struct {
	fd    int
	start uint64
}

// alive reports whether pid still names the pinned process: not reaped, so
// its number cannot have been given to anybody else.
func (v pinned) alive(pid int) bool {
	if v.fd >= 0 {
		return unix.PidfdSendSignal(v.fd, 0, nil, 0) == nil
	}
	now, err := readProc(pid)
	return err == nil && now.start == v.start
}

func (v pinned) send(pid int, sig unix.Signal, log *slog.Logger) {
	var err error
	if v.fd >= 0 {
		err = os.NewSyscallError("pidfd_send_signal", unix.PidfdSendSignal(v.fd, sig, nil, 0))
	} else {
		err = os.NewSyscallError("kill", unix.Kill(pid, sig))
	}
	if err != nil && !errors.Is(err, unix.ESRCH) {
		log.Warn("cannot signal", "pid", pid, "signal", forward.Name(sig), "error", err)
	}
}

// verify pins p with a pidfd and checks that it is still the process the
// walk saw and still below pidone. again means its parent is not verified
// yet (it may come later in this walk).
//
// pin says whether this walk still pins processes. A walk holds a pidfd per
// process it verified; out of descriptors, it lets go of them all and goes
// on with start times, as on kernels without pidfd_open, rather than skip
// the rest of the walk: a process skipped by killAll would never be killed.
func (s *sweeper) verify(p procInfo, verified map[int]pinned, pin *bool) (v pinned, ok, again bool) {
	fd := -1
	if *pin {
		var err error
		fd, err = unix.PidfdOpen(p.pid, 0)
		switch {
		case errors.Is(err, unix.ENOSYS):
			fd = -1
		case outOfDescriptors(err):
			*pin = false
			unpin(verified)
			fd = -1
		case err != nil:
			return pinned{}, false, false // gone
		}
	}
	now, err := s.readProc(p.pid)
	if outOfDescriptors(err) && fd >= 0 {
		// The pidfd took the last descriptor.
		unix.Close(fd)
		fd = -1
		*pin = false
		unpin(verified)
		now, err = s.readProc(p.pid)
	}
	v = pinned{fd: fd, start: p.start}
	fail := func(again bool) (pinned, bool, bool) {
		if fd >= 0 {
			unix.Close(fd)
		}
		return pinned{}, false, again
	}
	if err != nil || now.start != p.start {
		return fail(false) // exited, or the pid was recycled
	}
	if now.ppid != s.self {
		parent, known := verified[now.ppid]
		if !known {
			return fail(true)
		}
		// The parent's pid still names the process verified before,
		// unless that one has been reaped since: then its number may
		// be anybody's.
		if !parent.alive(now.ppid) {
			return fail(false)
		}
	}
	return v, true, false
}

// outOfDescriptors reports whether err says that no descriptor is left.
func outOfDescriptors(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)
}

// unpin closes the pidfds of verified; each keeps its start time, which is
// then what alive checks.
func unpin(verified map[int]pinned) {
	for pid, v := range verified {
		if v.fd >= 0 {
			unix.Close(v.fd)
			verified[pid] = pinned{fd: -1, start: v.start}
		}
	}
}

// fallback reaches what it can without /proc: the main child's process
// group.
func (s *sweeper) fallback(sig unix.Signal) int {
	if !s.warned {
		s.warned = true
		s.log.Warn("cannot find every process below pidone; signalling the main child's process group only", "reason", s.procErr)
	}
	if s.group <= 0 {
		return 0
	}
	if err := unix.Kill(-s.group, sig); err != nil {
		return 0
	}
	if sig != unix.SIGKILL && sig != unix.SIGCONT {
		_ = unix.Kill(-s.group, unix.SIGCONT)
	}
	return 0 // nothing to count: a group cannot be caught up with
}

// procIsOurs checks that /proc shows pidone's own PID namespace: its NSpid
// line lists the pid in every namespace from the one /proc was mounted for
// down to ours, so exactly one entry, equal to our pid, means they match.
func procIsOurs(self int) error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("/proc is not readable: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "NSpid:" {
			continue
		}
		if len(f) == 2 && f[1] == strconv.Itoa(self) {
			return nil
		}
		return fmt.Errorf("/proc belongs to another PID namespace (NSpid %v, our pid %d)", f[1:], self)
	}
	return errors.New("/proc/self/status has no NSpid line")
}

// procInfo is one process as /proc/PID/stat shows it.
type procInfo struct {
	pid, ppid int
	pgrp      int    // field 5: its process group (workers mode's leftovers)
	comm      string // field 2, as /proc/PID/comm has it: the report reads no second file
	state     string
	start     uint64 // field 22, clock ticks after boot
}

// readProcs reads every process of /proc, adding to *reads the files it
// read.
func readProcs(reads *int) ([]procInfo, error) {
	*reads++
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var procs []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		*reads++
		if p, err := readProc(pid); err == nil {
			procs = append(procs, p)
		}
	}
	return procs, nil
}

// readProc is readProc, counted.
func (s *sweeper) readProc(pid int) (procInfo, error) {
	s.reads++
	return readProc(pid)
}

func readProc(pid int) (procInfo, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, err
	}
	return parseStat(pid, string(b))
}

// parseStat reads the fields pidone needs from a /proc/PID/stat line. The
// command name (field 2) may hold spaces and parentheses, so the fields are
// counted from the last ')'.
func parseStat(pid int, s string) (procInfo, error) {
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return procInfo{}, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	open := strings.IndexByte(s, '(')
	f := strings.Fields(s[end+1:]) // f[0] is field 3
	if len(f) < 20 {
		return procInfo{}, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ppid, err1 := strconv.Atoi(f[1])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	pgrp, err3 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return procInfo{}, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	comm := ""
	if open >= 0 && open < end {
		comm = s[open+1 : end]
	}
	return procInfo{pid: pid, ppid: ppid, pgrp: pgrp, comm: comm, state: f[0], start: start}, nil
}

// userHZ is the unit of /proc's starttime: USER_HZ, 100 on every Linux
// architecture Go supports (proc(5), sysconf(_SC_CLK_TCK)).
const userHZ = 100

// bootTicks is now, in the clock of /proc/PID/stat's starttime (time since
// boot, CLOCK_BOOTTIME on current kernels).
func bootTicks() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return ^uint64(0) // everything counts as older than the stop
	}
	return uint64(ts.Sec)*userHZ + uint64(ts.Nsec)/(1e9/userHZ)
}

// Package spawn is the only code in pidone that creates processes: the main
// child and every worker.
//
// syscall.ForkExec cannot start a child the way the inits pidone replaces
// do: it gives the child the forking thread's signal mask and SIG_DFL for
// every signal the runtime handled, so inherited SIG_IGN dispositions and
// the inherited mask are lost, and it cannot set resource limits, the
// umask, no_new_privs or the child's own pid in LISTEN_PID. So pidone forks
// by itself: a plain clone (not CLONE_VM: the child cannot touch pidone's
// memory) with every signal blocked, then in the child, with raw system
// calls only (child.go), every setting in a fixed order and execve. The
// child reports a failure, and the step that failed, through a close-on-exec
// pipe; Start returns only once the child has exec'd or failed, so that its
// process group exists before anything is sent to it.
package spawn

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"github.com/pidone/pidone/internal/sigsys"
	"golang.org/x/sys/unix"
)

// Credential is the identity a child runs as.
type Credential struct {
	UID, GID uint32
	// Groups are the supplementary groups; nil leaves them as they are
	// (setgroups is not called), empty clears them.
	Groups []uint32
}

// Rlimit is one resource limit to set in the child (prlimit64).
type Rlimit struct {
	Resource int
	Cur, Max uint64
}

// Signals is the signal state a child starts with: Mask blocked, Ignored at
// SIG_IGN, every other signal at SIG_DFL (bit sig-1 for signal sig).
type Signals struct {
	Mask, Ignored uint64
	// ParentIgnored lists every signal that may be at SIG_IGN in this
	// process when it forks. The child then sets SIG_DFL for those alone
	// (and SIG_IGN for Ignored): exec turns a handler into SIG_DFL by
	// itself, and a SIG_DFL stays. Zero means not known: the child sets
	// every signal, some 60 system calls (about 0.1 ms here).
	ParentIgnored uint64
}

// Attr says how to start a child.
type Attr struct {
	// Argv[0] is looked up as execvp(3) does: a name with a slash is used
	// as it is, else each directory of PATH (taken from Env) in turn; a
	// file the kernel cannot run by itself (ENOEXEC) is run by /bin/sh.
	Argv []string
	Env  []string
	// Dir is the child's working directory ("" keeps pidone's), entered
	// after the credentials change, as the new user.
	Dir string
	// Files are the child's descriptors 0..len-1: Files[i] becomes fd i
	// (-1 closes it). Nil leaves every descriptor as it is.
	Files []int
	// Setsid makes the child lead a new session, Setpgid a new process
	// group in pidone's session.
	Setsid, Setpgid bool
	// Setctty makes fd 0 the new session's controlling terminal.
	Setctty bool
	// Foreground makes the child's process group the foreground group of
	// the terminal on fd 0 (tcsetpgrp).
	Foreground bool
	Rlimits    []Rlimit
	// Umask is set if not -1.
	Umask      int
	Cred       *Credential
	NoNewPrivs bool
	// Pdeathsig is the signal the child gets when pidone dies (0: none).
	// The kernel ties it to the thread that forked (prctl(2)
	// PR_SET_PDEATHSIG, golang/go#27505), so such a child is forked on
	// a thread kept for the purpose that never exits (fork).
	Pdeathsig unix.Signal
	// ListenPID sets LISTEN_PID to the child's own pid (socket activation
	// passed through; sd_listen_fds(3) checks it).
	ListenPID bool
	Signals   Signals
}

// Step names what the child was doing when it failed.
type Step uint32

// The steps, in the order the child takes them (child.go), and the two the
// parent takes before it.
const (
	StepPipe  Step = iota + 1 // parent: the report pipe
	StepClone                 // parent: the fork itself
	StepFiles
	StepSession
	StepTerminal
	StepForeground
	StepRlimit
	StepGroups
	StepGID
	StepUID
	StepDir
	StepNoNewPrivs
	StepPdeathsig
	StepSignals
	StepExec
)

var stepNames = [...]string{StepPipe: "pipe2", StepClone: "clone", StepFiles: "dup3", StepSession: "setsid/setpgid",
	StepTerminal: "ioctl(TIOCSCTTY)", StepForeground: "tcsetpgrp", StepRlimit: "prlimit64", StepGroups: "setgroups",
	StepGID: "setgid", StepUID: "setuid", StepDir: "chdir", StepNoNewPrivs: "prctl(PR_SET_NO_NEW_PRIVS)",
	StepPdeathsig: "prctl(PR_SET_PDEATHSIG)", StepSignals: "rt_sigaction", StepExec: "execve"}

// Error is a child that could not be started.
type Error struct {
	Step  Step
	Errno unix.Errno
	// Name is what the step was about: the command for StepExec, the
	// directory for StepDir.
	Name string
	// Searched: StepExec looked for Name in PATH.
	Searched bool
}

func (e *Error) Error() string {
	switch {
	case e.Step == StepExec && e.Searched && e.Errno == unix.ENOENT:
		return fmt.Sprintf("%q: executable file not found in $PATH", e.Name)
	case e.Name != "":
		return fmt.Sprintf("%s %q: %v", stepNames[e.Step], e.Name, e.Errno)
	}
	return fmt.Sprintf("%s: %v", stepNames[e.Step], e.Errno)
}

func (e *Error) Unwrap() error { return e.Errno }

// InPidone reports whether pidone itself failed (no descriptor for the pipe,
// no process for the fork), not the child's setup or exec.
func (e *Error) InPidone() bool { return e.Step == StepPipe || e.Step == StepClone }

// Start starts a child and returns its pid and a pidfd for it (-1 if the
// kernel gives none). It returns once the child has exec'd. If the child
// failed before it could exec, the error is an *Error and pid is still the
// child's: it has exited, and its exit is for the caller's reaper to
// collect (and drop).
func Start(a *Attr) (pid, pidfd int, err error) {
	if len(a.Argv) == 0 || a.Argv[0] == "" {
		// execvp gives ENOENT for an empty name without trying anything.
		return 0, -1, &Error{Step: StepExec, Errno: unix.ENOENT, Name: ""}
	}
	p, err := newPlan(a)
	if err != nil {
		return 0, -1, err
	}
	var pipe [2]int
	// ForkLock: no descriptor another goroutine is creating without
	// close-on-exec may leak into the child.
	syscall.ForkLock.Lock()
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		syscall.ForkLock.Unlock()
		return 0, -1, &Error{Step: StepPipe, Errno: err.(unix.Errno)}
	}
	p.pipe = pipe[1]
	p.nextFD = max(p.nextFD, pipe[1]+1)
	r, fd, errno := fork(p, a.Pdeathsig != 0)
	syscall.ForkLock.Unlock()
	unix.Close(pipe[1])
	runtime.KeepAlive(p)
	defer unix.Close(pipe[0])
	if errno != 0 {
		return 0, -1, &Error{Step: StepClone, Errno: errno}
	}
	pid, pidfd = int(r), int(fd)
	// EOF: exec closed the child's end. Eight bytes: the step and errno
	// of a failure.
	var report [8]byte
	n, rerr := readFull(pipe[0], report[:])
	if n == 0 && rerr == nil {
		return pid, pidfd, nil
	}
	if pidfd >= 0 {
		unix.Close(pidfd)
	}
	if n != len(report) {
		// The child died between fork and exec without a word (a
		// signal, say): pidone cannot tell why.
		return pid, -1, &Error{Step: StepExec, Errno: unix.EIO, Name: a.Argv[0]}
	}
	e := &Error{
		Step:  Step(*(*uint32)(unsafe.Pointer(&report[0]))),
		Errno: unix.Errno(*(*uint32)(unsafe.Pointer(&report[4]))),
	}
	switch e.Step {
	case StepExec:
		e.Name, e.Searched = a.Argv[0], !strings.Contains(a.Argv[0], "/")
	case StepDir:
		e.Name = a.Dir
	}
	return pid, -1, e
}

// ParentDeathSignal is the Pdeathsig for pidone's main child and its
// workers: SIGKILL when pidone is not PID 1, so that they do not outlive a
// pidone that is itself SIGKILLed (issue 19, item 3; docs/lifecycle.md).
// SIGKILL because it is certain: a SIGTERM could be caught or ignored, and
// nobody is left to follow it up. As PID 1, none: pidone's death ends the
// namespace, and every process in it gets SIGKILL from the kernel anyway.
func ParentDeathSignal() unix.Signal {
	if os.Getpid() == 1 {
		return 0
	}
	return unix.SIGKILL
}

// fork runs forkExec. A child with a parent-death signal is forked on the
// forker thread: the kernel sends that signal when the thread that forked
// the child exits, even while the process lives on (prctl(2)), and only a
// thread locked for good by a goroutine that never ends is sure never to
// exit before pidone (the runtime ends a thread only when a goroutine
// locked to it ends). Any other child is forked where the caller runs,
// which saves the two thread hand-offs.
func fork(p *plan, pdeathsig bool) (pid uintptr, pidfd int32, errno unix.Errno) {
	if pdeathsig {
		forker.once.Do(startForker)
		forker.plans <- p
		res := <-forker.results
		return res.pid, res.pidfd, res.errno
	}
	// The signal mask is per thread: the fork and the restore after it
	// must happen on the same one.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return forkExec(p)
}

// forker is the thread that forks the children with a parent-death
// signal; Start's ForkLock makes one fork at a time.
var forker struct {
	once    sync.Once
	plans   chan *plan
	results chan forkResult
}

type forkResult struct {
	pid   uintptr
	pidfd int32
	errno unix.Errno
}

func startForker() {
	forker.plans, forker.results = make(chan *plan), make(chan forkResult)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as pidone
		for p := range forker.plans {
			pid, pidfd, errno := forkExec(p)
			forker.results <- forkResult{pid, pidfd, errno}
		}
	}()
}

// readFull reads until buf is full or EOF.
func readFull(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return n, err
		case m == 0:
			return n, nil
		}
		n += m
	}
	return n, nil
}

// plan is everything the child needs, prepared by the parent so that the
// child only reads memory and makes system calls.
type plan struct {
	paths  []*byte // execve candidates, in execvp's order
	argv   []*byte // nil-terminated
	shArgv []*byte // /bin/sh, the candidate, argv[1:]: for ENOEXEC
	shPath *byte
	env    []*byte
	// The same, as the raw pointers execve takes (no bounds checks in
	// the child); shScript is shArgv's slot for the candidate.
	argvPtr, envPtr, shArgvPtr uintptr
	shScript                   **byte
	// listenPID is the LISTEN_PID= entry of env, and listenPIDDigits
	// where the child writes its pid into it (nil: none).
	listenPID       []byte
	listenPIDDigits unsafe.Pointer

	files  []int // the child's copy is rearranged in place
	nextFD int   // above every descriptor in files and the pipe
	pipe   int

	setsid, setpgid, setctty bool
	foreground               bool
	rlimits                  []rlimit
	umask                    int
	setGroups, setGID        bool
	setUID                   bool
	uid, gid                 uintptr
	groups                   []uint32
	dir                      *byte
	noNewPrivs               bool
	pdeathsig                uintptr
	parent                   uintptr

	ignored uint64
	reset   uint64 // the signals the child sets: to SIG_IGN if ignored, else to SIG_DFL
	mask    unix.Sigset_t
	// all blocks every signal across the fork; old is the forking
	// thread's mask meanwhile.
	all, old unix.Sigset_t

	// Scratch space of forkExec and the child, kept here rather than
	// on the stack.
	clone cloneArgs
	pidfd int32
	act   sigsys.Action
}

type rlimit struct {
	resource int
	limit    unix.Rlimit
}

func newPlan(a *Attr) (*plan, error) {
	p := &plan{foreground: a.Foreground, umask: a.Umask, setsid: a.Setsid, setpgid: a.Setpgid && !a.Setsid,
		setctty: a.Setctty, noNewPrivs: a.NoNewPrivs, pdeathsig: uintptr(a.Pdeathsig), parent: uintptr(os.Getpid()),
		ignored: a.Signals.Ignored, reset: a.Signals.ParentIgnored | a.Signals.Ignored, mask: sigsys.Sigset(a.Signals.Mask), all: sigsys.Sigset(^uint64(0))}
	if a.Signals.ParentIgnored == 0 {
		p.reset = ^uint64(0) // not known: every signal
	}
	var err error
	if p.argv, err = syscall.SlicePtrFromStrings(a.Argv); err != nil {
		return nil, err
	}
	env := a.Env
	if a.ListenPID {
		env = make([]string, 0, len(a.Env)+1)
		for _, kv := range a.Env {
			if !strings.HasPrefix(kv, "LISTEN_PID=") {
				env = append(env, kv)
			}
		}
	}
	if p.env, err = syscall.SlicePtrFromStrings(env); err != nil {
		return nil, err
	}
	if a.ListenPID {
		// Room for any pid and the NUL, written by the child.
		p.listenPID = make([]byte, len("LISTEN_PID=")+21)
		at := copy(p.listenPID, "LISTEN_PID=")
		p.listenPIDDigits = unsafe.Pointer(&p.listenPID[at])
		p.env = append(p.env[:len(p.env)-1], &p.listenPID[0], nil)
	}
	for _, path := range candidates(a.Argv[0], envValue(env, "PATH")) {
		b, err := syscall.BytePtrFromString(path)
		if err != nil {
			return nil, err
		}
		p.paths = append(p.paths, b)
	}
	if p.shPath, err = syscall.BytePtrFromString("/bin/sh"); err != nil {
		return nil, err
	}
	p.shArgv = append([]*byte{p.shPath, nil}, p.argv[1:]...)
	p.shScript = &p.shArgv[1]
	p.argvPtr = uintptr(unsafe.Pointer(&p.argv[0]))
	p.envPtr = uintptr(unsafe.Pointer(&p.env[0]))
	p.shArgvPtr = uintptr(unsafe.Pointer(&p.shArgv[0]))
	if a.Dir != "" {
		if p.dir, err = syscall.BytePtrFromString(a.Dir); err != nil {
			return nil, err
		}
	}
	if a.Files != nil {
		p.files = append([]int(nil), a.Files...)
	}
	p.nextFD = len(p.files)
	for _, fd := range p.files {
		p.nextFD = max(p.nextFD, fd+1)
	}
	for _, rl := range a.Rlimits {
		p.rlimits = append(p.rlimits, rlimit{rl.Resource, unix.Rlimit{Cur: rl.Cur, Max: rl.Max}})
	}
	if c := a.Cred; c != nil {
		now, err := currentIdentity()
		if err != nil {
			return nil, err
		}
		p.setGroups, p.setGID, p.setUID = credentialSteps(*c, now)
		p.uid, p.gid, p.groups = uintptr(c.UID), uintptr(c.GID), c.Groups
	}
	return p, nil
}

// identity is the credentials a process has: real, effective and saved
// ids, and the supplementary groups.
type identity struct {
	uids, gids [3]uint32
	groups     []uint32
}

// currentIdentity is pidone's identity, which a child it forks starts with.
func currentIdentity() (identity, error) {
	var id identity
	r, e, s := unix.Getresuid()
	id.uids = [3]uint32{uint32(r), uint32(e), uint32(s)}
	r, e, s = unix.Getresgid()
	id.gids = [3]uint32{uint32(r), uint32(e), uint32(s)}
	groups, err := unix.Getgroups()
	if err != nil {
		return identity{}, os.NewSyscallError("getgroups", err)
	}
	for _, g := range groups {
		id.groups = append(id.groups, uint32(g))
	}
	return id, nil
}

// credentialSteps says which of setgroups, setgid and setuid a child that
// starts as now must call to become c. A step whose result the child has
// already is skipped: it would change nothing, and setgroups needs
// CAP_SETGID even to set the groups a process has, so a pidone that is
// not root failed --user naming its own ids (issue 18). A step that does
// change something is made, and fails as the kernel says if pidone may
// not make it.
func credentialSteps(c Credential, now identity) (groups, gid, uid bool) {
	groups = c.Groups != nil && !sameGroups(c.Groups, now.groups)
	gid = now.gids != [3]uint32{c.GID, c.GID, c.GID}
	uid = now.uids != [3]uint32{c.UID, c.UID, c.UID}
	return groups, gid, uid
}

// sameGroups says whether a and b hold the same groups, in any order.
func sameGroups(a, b []uint32) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// defaultPath is the search path without PATH in the environment.
const defaultPath = "/usr/local/bin:/usr/bin:/bin"

// candidates lists the paths execvp(3) tries for file, in order: file
// itself if it has a slash, else file in each directory of path (an empty
// entry is the working directory).
func candidates(file, path string) []string {
	if strings.Contains(file, "/") {
		return []string{file}
	}
	if path == "" {
		path = defaultPath
	}
	var list []string
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		list = append(list, dir+"/"+file)
	}
	return list
}

// envValue is the last value of key in env, as getenv sees it.
func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

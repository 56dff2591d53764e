package workers

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/pidone/pidone/internal/entry"
	"github.com/pidone/pidone/reap"
	"github.com/pidone/pidone/spawn"
	"golang.org/x/sys/unix"
)

// The environment every worker gets on top of its own.
const (
	EnvIndex      = "PIDONE_WORKER_INDEX"      // 0-based slot number within the group
	EnvCount      = "PIDONE_WORKER_COUNT"      // slots in the group when the worker started
	EnvGeneration = "PIDONE_WORKER_GENERATION" // configuration generation: 1, +1 per applied reload
	EnvGroup      = "PIDONE_WORKER_GROUP"      // group name ("main" for a command or --spec)
)

// Exit codes a failed spawn counts as, as POSIX shells use them.
const (
	codeNotFound      = 127
	codeNotExecutable = 126
)

// spawnCode is the exit code a failed spawn counts as: the command not
// found, or found but not runnable (its setup included).
func spawnCode(err error) int {
	var se *spawn.Error
	if errors.As(err, &se) && se.Step == spawn.StepExec && se.Errno == unix.ENOENT {
		return codeNotFound
	}
	return codeNotExecutable
}

// startWorker starts one worker of spec for slot s through the reaper
// (spawn.Start: the reaper must never race another waiter), so that its
// exit is reported on the reaper's Exits even if it dies at once.
//
// The worker gets its own process group (so a signal meant for one worker,
// or for its children, never reaches its siblings), a pidfd, stdio of
// pidone, the spec's limits, umask, identity, directory and no_new_privs,
// and the signal state sigs.
func startWorker(r *reap.Reaper, spec *GroupSpec, s *Slot, sigs spawn.Signals) (child reap.Child, pidfd int, err error) {
	p := &spec.Process
	env := workerEnv(p.Env, spec, s)
	// The group's listening sockets as fds 3.. and the variables that go
	// with them (listen.go).
	env, sockets, listenPID := handoff(spec, env)
	a := &spawn.Attr{
		Argv:       p.Args,
		Env:        env,
		Files:      append([]int{0, 1, 2}, sockets...),
		ListenPID:  listenPID,
		Dir:        p.Cwd,
		Setpgid:    true,
		Umask:      -1,
		Cred:       credential(p),
		NoNewPrivs: p.NoNewPrivileges,
		Signals:    sigs,
		Pdeathsig:  spawn.ParentDeathSignal(),
	}
	if lim, ok := entry.InheritedNofile(); ok {
		a.Rlimits = append(a.Rlimits, spawn.Rlimit{Resource: unix.RLIMIT_NOFILE, Cur: lim.Cur, Max: lim.Max})
	}
	for _, rl := range p.Rlimits {
		a.Rlimits = append(a.Rlimits, spawn.Rlimit{Resource: rl.Resource, Cur: rl.Soft, Max: rl.Hard})
	}
	if p.User != nil && p.User.Umask != nil {
		a.Umask = int(*p.User.Umask)
	}
	pidfd = -1
	child, err = r.Spawn(func() (int, int, error) {
		pid, fd, err := spawn.Start(a)
		pidfd = fd
		return pid, fd, err
	})
	if err != nil {
		return reap.Child{}, -1, fmt.Errorf("cannot run %q: %w", p.Args[0], err)
	}
	return child, pidfd, nil
}

// workerEnv is base (pidone's environment when nil) without any
// PIDONE_WORKER_* it carries, plus this worker's.
func workerEnv(base []string, spec *GroupSpec, s *Slot) []string {
	if base == nil {
		base = os.Environ()
	}
	env := make([]string, 0, len(base)+4)
	for _, kv := range base {
		if !strings.HasPrefix(kv, "PIDONE_WORKER_") {
			env = append(env, kv)
		}
	}
	return append(env,
		EnvIndex+"="+strconv.Itoa(s.Index),
		EnvCount+"="+strconv.Itoa(spec.Count),
		EnvGeneration+"="+strconv.Itoa(s.Gen),
		EnvGroup+"="+spec.Name,
	)
}

// credential is the identity to switch to, or nil to keep pidone's. As root
// the spec's user is applied exactly (setgroups included, so the worker does
// not keep root's supplementary groups). Without privilege, asking for
// pidone's own ids changes nothing and setgroups would fail, so it is
// skipped; anything else is attempted and fails the spawn.
func credential(p *Process) *spawn.Credential {
	u := p.User
	if u == nil {
		return nil
	}
	euid, egid := os.Geteuid(), os.Getegid()
	if euid != 0 && int(u.UID) == euid && int(u.GID) == egid && len(u.AdditionalGids) == 0 {
		return nil
	}
	groups := u.AdditionalGids
	if groups == nil {
		groups = []uint32{}
	}
	return &spawn.Credential{UID: u.UID, GID: u.GID, Groups: groups}
}

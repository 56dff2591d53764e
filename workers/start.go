package workers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/pidone/pidone/reap"
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

// spawnCode is the exit code a failed spawn counts as.
func spawnCode(err error) int {
	if errors.Is(err, fs.ErrNotExist) {
		return codeNotFound
	}
	return codeNotExecutable
}

// startWorker starts one worker of spec for slot s through the reaper, so
// that its exit is reported on the reaper's Exits even if it dies at once.
//
// It uses syscall.ForkExec rather than os/exec: Cmd.Wait would race the
// reaper for the status. The worker gets its own process group (so a signal
// meant for one worker, or for its children, never reaches its siblings), a
// pidfd, stdio of pidone, and default signal handlers (exec resets the
// handlers pidone installed; ForkExec restores the signal mask pidone
// started with).
func startWorker(r *reap.Reaper, spec *GroupSpec, s *Slot) (pid, pidfd int, err error) {
	p := &spec.Process
	env := workerEnv(p.Env, spec, s)
	// The group's listening sockets as fds 3.. and the variables that go
	// with them (listen.go).
	env, sockets, listenPID := handoff(spec, env)
	path, err := lookPath(p.Args[0], envValue(env, "PATH"), p.Cwd)
	if err != nil {
		return 0, -1, err
	}
	pidfd = -1
	sys := &syscall.SysProcAttr{Setpgid: true, PidFD: &pidfd}
	attr := &syscall.ProcAttr{Env: env, Files: []uintptr{0, 1, 2}, Sys: sys}
	for _, fd := range sockets {
		attr.Files = append(attr.Files, uintptr(fd))
	}
	argv0, argv := path, p.Args
	if p.needsHelper() || listenPID {
		// Identity and directory are the helper's to set, after the
		// limits (exec_helper.go); so is LISTEN_PID, the worker's own
		// pid, which only the child knows.
		argv0, argv = "/proc/self/exe", helperArgs(p, path, listenPID)
	} else {
		attr.Dir = p.Cwd
		sys.Credential = credential(p)
	}
	pid, err = r.Spawn(func() (int, error) {
		return syscall.ForkExec(argv0, argv, attr)
	})
	if err != nil {
		return 0, -1, fmt.Errorf("cannot run %q: %w", p.Args[0], err)
	}
	return pid, pidfd, nil
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

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// lookPath finds file as execvp(3) would with the worker's PATH (an OCI
// process names args[0] in its own environment). A name with a slash is
// taken as given, relative to the worker's directory cwd. The result is
// absolute, since the child changes directory before exec.
func lookPath(file, path, cwd string) (string, error) {
	abs := func(p string) (string, error) {
		if filepath.IsAbs(p) {
			return p, nil
		}
		if cwd != "" {
			return filepath.Join(cwd, p), nil
		}
		return filepath.Abs(p)
	}
	if strings.Contains(file, "/") {
		return abs(file)
	}
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin" // execvp's default, more or less
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		candidate := filepath.Join(dir, file)
		if fi, err := os.Stat(candidate); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return abs(candidate)
		}
	}
	return "", fmt.Errorf("cannot run %q: not found in PATH %q: %w", file, path, fs.ErrNotExist)
}

// credential is the identity to switch to, or nil to keep pidone's. As root
// the spec's user is applied exactly (setgroups included, so the worker does
// not keep root's supplementary groups). Without privilege, asking for
// pidone's own ids changes nothing and setgroups would fail, so it is
// skipped; anything else is attempted and fails the spawn.
func credential(p *Process) *syscall.Credential {
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
	return &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: groups}
}

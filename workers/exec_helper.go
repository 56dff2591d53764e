package workers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The exec helper applies what syscall.ForkExec cannot set in a child:
// resource limits, the umask, no_new_privs, and LISTEN_PID (the child's own
// pid, for the sockets of --listen).
//
// prlimit(2) on the worker after it started would race the worker itself: it
// may read or use its limits before we set them (a server sizing its fd
// table from RLIMIT_NOFILE at start-up). Setting them on the master around
// the fork would change the master's own limits, and a lowered hard limit
// cannot be raised again without privilege. So a worker that needs any of
// them starts as pidone itself, re-executed from /proc/self/exe with
// argv[0] == helperName; that process sets everything on itself and then
// execs the command. The command never runs with other settings, and it
// keeps the pid, the pidfd and the process group of the fork. The price is
// one more exec of pidone per start (about a millisecond).
//
// Order matters: limits first (raising a hard limit needs CAP_SYS_RESOURCE,
// which setuid drops), then umask, groups, gid, uid (Go applies these to
// every thread), then the working directory as the new user (as runc does),
// then no_new_privs, which belongs to the calling thread, so the goroutine is
// locked to the thread that execs.
//
// main calls RunExecHelper before anything else, before forward.Catch in
// particular: a signal that reaches the helper must do what it would do to
// the command (kill it), not be caught and dropped.

// helperName is argv[0] of a helper. The parenthesis keeps it from being a
// program name anyone types.
const helperName = "pidone (worker exec)"

// IsExecHelper reports whether args (os.Args) make this process an exec
// helper.
func IsExecHelper(args []string) bool {
	return len(args) > 0 && args[0] == helperName
}

// helperArgs builds the helper's argv for a worker: settings as KEY=VALUE
// words, "--", then the resolved path and the command's argv.
func helperArgs(p *Process, path string, listenPID bool) []string {
	args := []string{helperName}
	for _, rl := range p.Rlimits {
		args = append(args, fmt.Sprintf("rlimit=%d:%d:%d", rl.Resource, rl.Soft, rl.Hard))
	}
	if p.User != nil && p.User.Umask != nil {
		args = append(args, fmt.Sprintf("umask=%d", *p.User.Umask))
	}
	if c := credential(p); c != nil {
		args = append(args, "groups="+joinIDs(c.Groups), fmt.Sprintf("gid=%d", c.Gid), fmt.Sprintf("uid=%d", c.Uid))
	}
	if p.Cwd != "" {
		args = append(args, "cwd="+p.Cwd)
	}
	if p.NoNewPrivileges {
		args = append(args, "nnp=1")
	}
	if listenPID {
		args = append(args, "listenpid=1")
	}
	return append(append(args, "--", path), p.Args...)
}

func joinIDs(ids []uint32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(s, ",")
}

// RunExecHelper is the helper's main: it applies the settings in args and
// execs the command. It returns only on failure, with the exit code a shell
// would give (127 not found, 126 otherwise) after saying why on stderr.
func RunExecHelper(args []string) int {
	runtime.LockOSThread() // no_new_privs is per thread; exec from this one
	err := execHelper(args[1:])
	fmt.Fprintf(os.Stderr, "pidone: worker: %v\n", err)
	if errors.Is(err, fs.ErrNotExist) {
		return 127
	}
	return 126
}

func execHelper(args []string) error {
	sep := -1
	for i, a := range args {
		if a == "--" {
			sep = i
			break
		}
	}
	if sep < 0 || len(args) < sep+3 {
		return errors.New("exec helper: malformed arguments")
	}
	path, argv := args[sep+1], args[sep+2:]
	for _, a := range args[:sep] {
		k, v, _ := strings.Cut(a, "=")
		if err := helperStep(k, v); err != nil {
			return fmt.Errorf("%s %s: %w", argv[0], k, err)
		}
	}
	err := syscall.Exec(path, argv, os.Environ())
	return &os.PathError{Op: "exec", Path: path, Err: err}
}

// helperStep applies one setting.
func helperStep(key, value string) error {
	switch key {
	case "rlimit":
		f := strings.Split(value, ":")
		if len(f) != 3 {
			return fmt.Errorf("malformed %q", value)
		}
		res, err1 := strconv.Atoi(f[0])
		soft, err2 := strconv.ParseUint(f[1], 10, 64)
		hard, err3 := strconv.ParseUint(f[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return err
		}
		return os.NewSyscallError("setrlimit", unix.Setrlimit(res, &unix.Rlimit{Cur: soft, Max: hard}))
	case "umask":
		m, err := strconv.Atoi(value)
		if err != nil {
			return err
		}
		syscall.Umask(m)
		return nil
	case "groups":
		gids := []int{}
		for _, s := range strings.Split(value, ",") {
			if s == "" {
				continue
			}
			g, err := strconv.Atoi(s)
			if err != nil {
				return err
			}
			gids = append(gids, g)
		}
		return os.NewSyscallError("setgroups", syscall.Setgroups(gids))
	case "gid":
		id, err := strconv.Atoi(value)
		if err != nil {
			return err
		}
		return os.NewSyscallError("setgid", syscall.Setgid(id))
	case "uid":
		id, err := strconv.Atoi(value)
		if err != nil {
			return err
		}
		return os.NewSyscallError("setuid", syscall.Setuid(id))
	case "cwd":
		return os.NewSyscallError("chdir", unix.Chdir(value))
	case "nnp":
		return os.NewSyscallError("prctl(PR_SET_NO_NEW_PRIVS)", unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
	case "listenpid":
		return os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	return fmt.Errorf("unknown setting %q", key)
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// runConfine runs a command inside limits, set up as a container runtime
// sets them up before it execs the container's init, and then execs the
// command in its own place (exec keeps the pid: PID 1 stays PID 1):
//
//	-cgroup DIR       join the cgroup DIR (repeatable: one per v1 hierarchy)
//	-nofile SOFT:HARD RLIMIT_NOFILE
//	-nproc SOFT:HARD  RLIMIT_NPROC
//	-uid N -gid N     drop root for good (RLIMIT_NPROC binds only non-root)
//
// Usage: confine [options] -- COMMAND [ARGS...]
func runConfine(args []string) error {
	fs := flag.NewFlagSet("confine", flag.ContinueOnError)
	var cgroups []string
	fs.Func("cgroup", "join the cgroup `DIR` (repeatable)", func(s string) error {
		cgroups = append(cgroups, s)
		return nil
	})
	nofile := fs.String("nofile", "", "RLIMIT_NOFILE as SOFT:HARD")
	nproc := fs.String("nproc", "", "RLIMIT_NPROC as SOFT:HARD")
	uid := fs.Int("uid", -1, "user id to run as")
	gid := fs.Int("gid", -1, "group id to run as")
	if err := fs.Parse(args); err != nil {
		return err
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return errors.New("usage: confine [-cgroup DIR] [-nofile S:H] [-nproc S:H] [-uid N -gid N] -- COMMAND [ARGS...]")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return err
	}
	for _, dir := range cgroups {
		// "0" is the writing process itself, in any PID namespace.
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte("0"), 0); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	for _, l := range []struct {
		resource int
		value    string
	}{{unix.RLIMIT_NOFILE, *nofile}, {unix.RLIMIT_NPROC, *nproc}} {
		if l.value == "" {
			continue
		}
		lim, err := parseLimit(l.value)
		if err != nil {
			return err
		}
		if err := unix.Setrlimit(l.resource, &lim); err != nil {
			return fmt.Errorf("setrlimit(%d, %s): %w", l.resource, l.value, err)
		}
	}
	if *gid >= 0 {
		if err := syscall.Setgroups(nil); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setgid(*gid); err != nil {
			return fmt.Errorf("setgid: %w", err)
		}
	}
	if *uid >= 0 {
		if err := syscall.Setuid(*uid); err != nil {
			return fmt.Errorf("setuid: %w", err)
		}
	}
	return syscall.Exec(path, argv, os.Environ())
}

// parseLimit reads SOFT:HARD.
func parseLimit(s string) (unix.Rlimit, error) {
	soft, hard, ok := strings.Cut(s, ":")
	cur, err1 := strconv.ParseUint(soft, 10, 64)
	max, err2 := strconv.ParseUint(hard, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return unix.Rlimit{}, fmt.Errorf("limit %q is not SOFT:HARD", s)
	}
	return unix.Rlimit{Cur: cur, Max: max}, nil
}

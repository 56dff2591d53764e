package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// initSpec is one init under comparison and the way it is told to run a
// command with signals going to the command's process group.
type initSpec struct {
	Name string
	Path string
	Args []string // between the binary and the command
	// Floor marks a floor of the design (benchkid's minexact, mininit):
	// measured in the start-up rows beside the inits, never a peer.
	Floor bool `json:",omitempty"`
}

// floors are benchkid's floors under their names (benchkid tells them by
// argv[0]), as links in dir: every start-up run measures them, so that
// pidone's ratio to them is read within one run (issue 19).
func floors(benchkid, dir string) ([]initSpec, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var specs []initSpec
	for _, name := range []string{"minexact", "mininit"} {
		link := filepath.Join(dir, name)
		_ = os.Remove(link)
		if err := os.Symlink(benchkid, link); err != nil {
			return nil, err
		}
		specs = append(specs, initSpec{Name: name, Path: link, Args: []string{"--"}, Floor: true})
	}
	return specs, nil
}

// shown is how result files name an init's binary: a floor by its name, a
// binary below the directory pidbench runs in (make bench: the tree) by
// its path from there, a system one (/usr/bin/tini) as it is, anything
// else by its file name; never the build machine's paths.
func (s initSpec) shown() string {
	if s.Floor {
		return s.Name
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, s.Path); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	if strings.HasPrefix(s.Path, "/usr/") || strings.HasPrefix(s.Path, "/bin/") || strings.HasPrefix(s.Path, "/sbin/") {
		return s.Path
	}
	return filepath.Base(s.Path)
}

// argv returns the init's command line for running cmd.
func (s initSpec) argv(cmd ...string) []string {
	a := append([]string{s.Path}, s.Args...)
	return append(a, cmd...)
}

// peers are the C inits pidone is compared with, with the flags the issue
// fixes: group forwarding, like pidone's default.
func peers() []initSpec {
	return []initSpec{
		{Name: "tini", Path: "/usr/bin/tini", Args: []string{"-g", "--"}},
		{Name: "dumb-init", Path: "/usr/bin/dumb-init", Args: []string{"--"}}, // setsid + group by default
		{Name: "catatonit", Path: "/usr/bin/catatonit", Args: []string{"-g", "--"}},
	}
}

func pidoneSpec(path string) initSpec {
	return initSpec{Name: "pidone", Path: path, Args: []string{"--"}}
}

// rotate returns inits starting at index r mod len, so that over the rounds
// of a metric each init runs in each position equally often.
func rotate[T any](xs []T, r int) []T {
	out := make([]T, 0, len(xs))
	for i := range xs {
		out = append(out, xs[(i+r)%len(xs)])
	}
	return out
}

// procNS, when set, is benchkid: every init starts through `benchkid procns`,
// which mounts a /proc of the new PID namespace, as a container has, and
// execs the init as PID 1. pidone looks at /proc (to find every process
// below it); without its own /proc it warns and takes a fallback path.
var procNS string

// startInNewPIDNS starts argv as PID 1 of a fresh PID namespace (and mount
// namespace, with its own /proc when procNS is set) with the given stdin,
// stdout and stderr, and returns its host pid. It is in its own process
// group, and dies (taking the namespace with it) if the harness dies.
func startInNewPIDNS(argv []string, stdin, stdout, stderr int) (int, error) {
	flags := uintptr(syscall.CLONE_NEWPID)
	if procNS != "" {
		argv = append([]string{procNS, "procns"}, argv...)
		flags |= syscall.CLONE_NEWNS
	}
	return syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{uintptr(stdin), uintptr(stdout), uintptr(stderr)},
		Sys: &syscall.SysProcAttr{
			Cloneflags: flags,
			Setpgid:    true,
			Pdeathsig:  syscall.SIGKILL,
		},
	})
}

// wait reaps pid and returns its wait status.
func wait(pid int) (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		return ws, err
	}
}

// pipe returns a blocking, close-on-exec pipe: reads on it are plain
// read(2) calls, without the Go netpoller's extra wake-up in the path.
func pipe() (r, w int, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return -1, -1, os.NewSyscallError("pipe2", err)
	}
	return p[0], p[1], nil
}

// readByteWithin reads one byte from fd, failing on EOF or when nothing
// comes within d.
func readByteWithin(fd int, d time.Duration) (byte, error) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return 0, fmt.Errorf("nothing within %v", d)
		}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n > 0 {
			return readByte(fd)
		}
	}
}

// readByte reads one byte from fd, failing on EOF.
func readByte(fd int) (byte, error) {
	var b [1]byte
	for {
		n, err := unix.Read(fd, b[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, fmt.Errorf("EOF")
		}
		return b[0], nil
	}
}

// startReady starts argv as PID 1 of a new PID namespace, its stdout on a
// pipe (out), and waits for its child's ready line there; on failure
// nothing is left running or open.
func startReady(argv []string, null, logFd int) (pid, out int, err error) {
	r, w, err := pipe()
	if err != nil {
		return 0, -1, err
	}
	pid, err = startInNewPIDNS(argv, null, w, logFd)
	unix.Close(w)
	if err != nil {
		unix.Close(r)
		return 0, -1, err
	}
	if err := awaitReady(r, 10*time.Second); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		wait(pid)
		unix.Close(r)
		return 0, -1, err
	}
	return pid, r, nil
}

// ready is an init started by startAll whose child has said it is ready.
type ready struct {
	spec initSpec
	pid  int // the init's host pid
	out  int // read end of the child's stdout
}

// startAll starts every init at once over `benchkid mode`, each as PID 1
// of a namespace of its own, with stdin from /dev/null and stderr to the
// group's log, and waits until each child is ready. stop kills and reaps
// those started and closes their pipes: defer it even when err is not nil.
func startAll(cfg *config, group string, inits []initSpec, mode string) (rs []*ready, stop func(), err error) {
	var closers []int
	stop = func() {
		for _, r := range rs {
			unix.Kill(r.pid, unix.SIGKILL)
			wait(r.pid)
			unix.Close(r.out)
		}
		for _, fd := range closers {
			unix.Close(fd)
		}
	}
	logFd, err := cfg.logFile(group)
	if err != nil {
		return nil, stop, err
	}
	closers = append(closers, logFd)
	null, err := devNull()
	if err != nil {
		return nil, stop, err
	}
	closers = append(closers, null)
	for _, in := range inits {
		pid, out, err := startReady(in.argv(cfg.benchkid, mode), null, logFd)
		if err != nil {
			return rs, stop, fmt.Errorf("%s: %v", in.Name, err)
		}
		rs = append(rs, &ready{spec: in, pid: pid, out: out})
	}
	return rs, stop, nil
}

// awaitReady waits at most d for the child's line "R" (see benchkid).
func awaitReady(fd int, d time.Duration) error {
	done := make(chan error, 1)
	go func() {
		var got []byte
		for _, want := range []byte("R\n") {
			b, err := readByte(fd)
			got = append(got, b)
			if err != nil || b != want {
				done <- fmt.Errorf("child wrote %q before ready (%v)", got, err)
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return fmt.Errorf("child not ready after %v", d)
	}
}

// devNull opens /dev/null for reading and writing.
func devNull() (int, error) {
	return unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
}

// fdReader reads a raw descriptor. Unlike an *os.File it has no finalizer,
// which could close the descriptor number long after the harness closed it
// itself and reused the number for another pipe.
type fdReader int

func (fd fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(fd), p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

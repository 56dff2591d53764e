package spawn

import (
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// run starts a with its stdout on a pipe and extra as fds 3.., waits for
// it (this test binary is its parent, not pidone: here the test may wait)
// and returns what it printed and its exit status.
func run(t *testing.T, a Attr, extra ...int) (string, unix.WaitStatus) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a.Files = append([]int{0, int(w.Fd()), 2}, extra...)
	if a.Umask == 0 {
		a.Umask = -1
	}
	pid, pidfd, err := Start(&a)
	w.Close()
	if err != nil {
		t.Fatalf("Start(%q): %v", a.Argv, err)
	}
	if pidfd < 0 {
		t.Errorf("no pidfd for pid %d", pid)
	} else {
		unix.Close(pidfd)
	}
	out := new(strings.Builder)
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatalf("wait4(%d): %v", pid, err)
	}
	return out.String(), ws
}

// statusField returns a field of /proc/self/status as the child printed it.
func statusField(status, name string) string {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func TestChildSignalState(t *testing.T) {
	for _, tc := range []struct {
		doc string
		sig Signals
	}{
		{"nothing blocked or ignored", Signals{}},
		{"tini with TERM and USR1 blocked, INT and PIPE ignored", Signals{Mask: 1<<(unix.SIGTERM-1) | 1<<(unix.SIGUSR1-1), Ignored: 1<<(unix.SIGINT-1) | 1<<(unix.SIGPIPE-1)}},
		{"realtime and HUP", Signals{Mask: 1<<(40-1) | 1<<(64-1), Ignored: 1<<(unix.SIGHUP-1) | 1<<(35-1)}},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			out, ws := run(t, Attr{Argv: []string{"cat", "/proc/self/status"}, Env: os.Environ(), Signals: tc.sig})
			if ws.ExitStatus() != 0 {
				t.Fatalf("cat: %v", ws)
			}
			for field, want := range map[string]uint64{"SigBlk": tc.sig.Mask, "SigIgn": tc.sig.Ignored, "SigCgt": 0} {
				if got := statusField(out, field); got != hex16(want) {
					t.Errorf("%s = %s, want %s", field, got, hex16(want))
				}
			}
		})
	}
}

// A signal this process ignores is inherited ignored unless the child
// resets it: always when ParentIgnored is not known, else when listed.
func TestParentIgnoredIsReset(t *testing.T) {
	signal.Ignore(unix.SIGUSR2)
	defer signal.Reset(unix.SIGUSR2)
	usr2 := uint64(1) << (unix.SIGUSR2 - 1)
	// Whatever else this process ignores (the race detector's runtime
	// ignores 32) is listed too, as the contract asks.
	self, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	others, err := strconv.ParseUint(statusField(string(self), "SigIgn"), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	others = others&^usr2 | 1<<(unix.SIGHUP-1)
	for _, tc := range []struct {
		doc  string
		sig  Signals
		want uint64
	}{
		{"not known", Signals{}, 0},
		{"listed", Signals{ParentIgnored: others | usr2}, 0},
		{"listed and to be ignored", Signals{Ignored: usr2, ParentIgnored: others | usr2}, usr2},
		{"not listed: the contract is the caller's", Signals{ParentIgnored: others}, usr2},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			out, ws := run(t, Attr{Argv: []string{"cat", "/proc/self/status"}, Env: os.Environ(), Signals: tc.sig})
			if ws.ExitStatus() != 0 {
				t.Fatalf("cat: %v", ws)
			}
			if got := statusField(out, "SigIgn"); got != hex16(tc.want) {
				t.Errorf("SigIgn = %s, want %s", got, hex16(tc.want))
			}
		})
	}
}

func hex16(v uint64) string {
	s := strconv.FormatUint(v, 16)
	return strings.Repeat("0", 16-len(s)) + s
}

func TestExecvpFailures(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "noexec")
	os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o644)
	for _, tc := range []struct {
		doc   string
		argv0 string
		path  string
		step  Step
		errno unix.Errno
	}{
		{"empty name", "", "/bin", StepExec, unix.ENOENT},
		{"not in PATH", "no-such-command", "/bin:/usr/bin", StepExec, unix.ENOENT},
		{"no such file", "/no/such/file", "", StepExec, unix.ENOENT},
		{"not executable", script, "", StepExec, unix.EACCES},
		{"a directory", dir, "", StepExec, unix.EACCES},
		{"found only without permission", "noexec", dir + ":/bin", StepExec, unix.EACCES},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			pid, _, err := Start(&Attr{Argv: []string{tc.argv0}, Env: []string{"PATH=" + tc.path}, Umask: -1})
			var e *Error
			if !errors.As(err, &e) || e.Step != tc.step || e.Errno != tc.errno {
				t.Fatalf("Start(%q) = %v, want step %d errno %v", tc.argv0, err, tc.step, tc.errno)
			}
			if e.InPidone() {
				t.Errorf("%v counted as pidone's own failure", err)
			}
			if pid > 0 {
				unix.Wait4(pid, nil, 0, nil)
			}
		})
	}
}

func TestScriptWithoutInterpreterRunsWithSh(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "plain")
	os.WriteFile(script, []byte("echo from-sh \"$1\"\n"), 0o755)
	out, ws := run(t, Attr{Argv: []string{"plain", "arg"}, Env: []string{"PATH=/nonexistent:" + dir}})
	if ws.ExitStatus() != 0 || out != "from-sh arg\n" {
		t.Errorf("got %q, %v", out, ws)
	}
}

func TestChildSettings(t *testing.T) {
	dir := t.TempDir()
	out, ws := run(t, Attr{
		Argv:      []string{"/bin/sh", "-c", `echo "$LISTEN_PID $$ $(pwd) $(umask) $(ulimit -Sn) $(ulimit -Hn)"; ps -o pid= -o pgid= -o sid= -p $$ 2>/dev/null || cat /proc/self/stat`},
		Env:       []string{"LISTEN_PID=1", "PATH=/bin:/usr/bin"},
		Dir:       dir,
		Umask:     0o027,
		ListenPID: true,
		Setpgid:   true,
		Rlimits:   []Rlimit{{Resource: unix.RLIMIT_NOFILE, Cur: 77, Max: 99}},
	})
	if ws.ExitStatus() != 0 {
		t.Fatalf("sh: %v: %s", ws, out)
	}
	f := strings.Fields(strings.SplitN(out, "\n", 2)[0])
	want := []string{f[1], f[1], dir, "0027", "77", "99"}
	if strings.Join(f, " ") != strings.Join(want, " ") {
		t.Errorf("LISTEN_PID pid cwd umask nofile = %q, want %q", f, want)
	}
}

func TestFilesAreRearranged(t *testing.T) {
	// fds 3 and 4 swap places in the child: each must end where asked,
	// whatever the order of the dups.
	a, b := pipeWithText(t, "A"), pipeWithText(t, "B")
	out, ws := run(t, Attr{
		Argv: []string{"/bin/sh", "-c", "cat <&3; cat <&4"},
		Env:  []string{"PATH=/bin:/usr/bin"},
	}, b, a)
	if ws.ExitStatus() != 0 || out != "BA" {
		t.Errorf("got %q, %v; want BA", out, ws)
	}
}

func pipeWithText(t *testing.T, s string) int {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	unix.Write(p[1], []byte(s))
	unix.Close(p[1])
	t.Cleanup(func() { unix.Close(p[0]) })
	return p[0]
}

func TestCredentialsAndNoNewPrivs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("setuid to another user needs root; `make test` runs as root in CI")
	}
	out, ws := run(t, Attr{
		Argv:       []string{"/bin/sh", "-c", `echo "$(id -u) $(id -g) $(id -G)"; grep NoNewPrivs /proc/self/status`},
		Env:        []string{"PATH=/bin:/usr/bin"},
		Cred:       &Credential{UID: 65534, GID: 65533, Groups: []uint32{65532}},
		NoNewPrivs: true,
	})
	if ws.ExitStatus() != 0 {
		t.Fatalf("sh: %v: %s", ws, out)
	}
	lines := strings.Split(out, "\n")
	if lines[0] != "65534 65533 65533 65532" && lines[0] != "65534 65533 65532 65533" {
		t.Errorf("uid gid groups = %q, want 65534 65533 with groups 65533 65532", lines[0])
	}
	if strings.Join(strings.Fields(lines[1]), " ") != "NoNewPrivs: 1" {
		t.Errorf("%q, want NoNewPrivs: 1", lines[1])
	}
}

func TestSetupFailureNamesTheStep(t *testing.T) {
	pid, _, err := Start(&Attr{Argv: []string{"/bin/true"}, Dir: "/no/such/dir", Umask: -1})
	var e *Error
	if !errors.As(err, &e) || e.Step != StepDir || e.Errno != unix.ENOENT || !strings.Contains(err.Error(), "/no/such/dir") {
		t.Fatalf("Start with a missing directory: %v", err)
	}
	if pid <= 0 {
		t.Fatalf("pid %d: a child that failed after the fork must be named for its reaper", pid)
	}
	var ws unix.WaitStatus
	unix.Wait4(pid, &ws, 0, nil)
}

// TestFileBelowItsTargetIsNotClobbered: the child's fd 2 is pidone's fd 1,
// a source below its target, which the dup of another file onto fd 1 would
// overwrite unless it is moved out of the way first.
func TestFileBelowItsTargetIsNotClobbered(t *testing.T) {
	want, err := os.Readlink("/proc/self/fd/1")
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pid, _, err := Start(&Attr{
		Argv:  []string{"/bin/sh", "-c", "readlink /proc/self/fd/2"},
		Env:   []string{"PATH=/bin:/usr/bin"},
		Files: []int{0, int(w.Fd()), 1},
		Umask: -1,
	})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 4096)
	n, _ := r.Read(out)
	unix.Wait4(pid, nil, 0, nil)
	if got := strings.TrimSpace(string(out[:n])); got != want {
		t.Errorf("child's fd 2 is %q, want pidone's fd 1, %q", got, want)
	}
}

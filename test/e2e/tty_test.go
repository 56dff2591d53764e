package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"
	"github.com/pidone/pidone/test/internal/lines"
	"golang.org/x/sys/unix"
)

// Terminals and job control (docs/lifecycle.md), on a real pseudo-terminal:
// the process under test leads a new session whose controlling terminal is
// the pty's slave side, as runc sets up `docker run -it`, and the test types
// on the master side.

// onPty is a process whose stdin, stdout and stderr are a pty.
type onPty struct {
	t      *testing.T
	master console.Console
	out    *lines.Reader // everything written to the terminal, echoes included
	cmd    *exec.Cmd
	pid    int
	done   chan struct{}
}

// startOnPty starts argv as the leader of a new session on a new pty; with
// pid1 also as PID 1 of a new PID namespace.
func startOnPty(t *testing.T, pid1 bool, argv ...string) *onPty {
	t.Helper()
	master, slavePath, err := console.NewPty()
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if pid1 {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWPID
		if os.Geteuid() != 0 {
			cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
			cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
			cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %q: %v", argv, err)
	}
	slave.Close()
	// The reader gets its own descriptor: reading ends with EIO once the
	// last process on the slave side is gone. Close-on-exec: a plain dup
	// leaked into whatever a parallel test started meanwhile, which then
	// counted one descriptor more (TestLowDescriptorLimit, flaky).
	fd, err := unix.FcntlInt(master.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &onPty{t: t, master: master, out: lines.New("terminal", os.NewFile(uintptr(fd), "ptmx")), cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = unix.Kill(p.pid, unix.SIGKILL)
			_ = unix.Kill(p.pid, unix.SIGCONT)
			<-p.done
		}
		if t.Failed() {
			t.Logf("%q\nterminal:\n%s", argv, p.out.Tail(30))
		}
		master.Close()
		p.out.Close()
	})
	return p
}

func (p *onPty) typeIn(s string) {
	p.t.Helper()
	if _, err := p.master.Write([]byte(s)); err != nil {
		p.t.Fatalf("typing %q: %v", s, err)
	}
}

// foreground is the terminal's foreground process group (host pids).
func (p *onPty) foreground() int {
	pgrp, err := unix.IoctlGetInt(int(p.master.Fd()), unix.TIOCGPGRP)
	if err != nil {
		return -1
	}
	return pgrp
}

func (p *onPty) exitCode(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("did not exit within %v", timeout)
	}
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		p.t.Fatalf("died from signal %v, want an exit status", ws.Signal())
	}
	return ws.ExitStatus()
}

// probeLine matches ttyprobe's status line; the terminal adds \r.
var probeLine = regexp.MustCompile(`^probe pid=(\d+) pgrp=(\d+) sid=(\d+) fg=(true|false)\r?$`)

// probeSig matches the probe's report of sig; the terminal's echo of a
// control character ("^Z") may start the same line.
func probeSig(sig syscall.Signal) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`probe sig %d\r?$`, int(sig)))
}

func TestTerminalForegroundWinchCtrlZAndHandBack(t *testing.T) {
	t.Parallel()
	pidone, w := bins(t)
	// --wait-all and a daemon keep pidone alive after the probe exits, to
	// see it take the terminal back.
	p := startOnPty(t, true, pidone, "--wait-all", "--", w, "ttyprobe", "-daemon", "2s")
	m := p.out.WaitFor(t, probeLine, exitTimeout)
	if m[4] != "true" || m[1] != m[2] || m[3] != "1" {
		t.Fatalf("probe: pid %s, group %s, session %s, foreground %s; want its own group, in pidone's session (1), in the foreground",
			m[1], m[2], m[3], m[4])
	}

	// A resize signals the terminal's foreground group: the child.
	if err := p.master.Resize(console.WinSize{Height: 40, Width: 120}); err != nil {
		t.Fatal(err)
	}
	p.out.WaitFor(t, probeSig(syscall.SIGWINCH), exitTimeout)

	// Ctrl-Z stops the child; as PID 1 nothing could resume it, so pidone
	// continues it at once.
	p.typeIn("\x1a")
	p.out.WaitFor(t, probeSig(syscall.SIGCONT), exitTimeout)
	p.typeIn("status\n")
	eventually(t, exitTimeout, func() (bool, string) {
		return p.out.Count(regexp.MustCompile(`^probe pid=.* fg=true\r?$`)) == 2, "no second status line with the probe in the foreground"
	})

	// The child exits; pidone, still waiting for the daemon, takes the
	// terminal back for its own process group (its pid: it leads its
	// session).
	p.typeIn("quit\n")
	p.out.WaitFor(t, regexp.MustCompile(`^probe quitting\r?$`), exitTimeout)
	eventually(t, exitTimeout, func() (bool, string) {
		fg := p.foreground()
		return fg == p.pid, fmt.Sprintf("foreground group %d, want pidone's %d", fg, p.pid)
	})
	select {
	case <-p.done:
		t.Fatalf("pidone exited before the daemon: the hand-back was not observed while it ran")
	default:
	}
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

func TestTerminalCtrlCKillsTheChild(t *testing.T) {
	t.Parallel()
	pidone, w := bins(t)
	p := startOnPty(t, true, pidone, "--", w, "ttyprobe")
	p.out.WaitFor(t, probeLine, exitTimeout)
	p.typeIn("\x03")
	if code := p.exitCode(exitTimeout); code != 128+2 {
		t.Errorf("after Ctrl-C: exit %d, want 130 (the child killed by SIGINT)", code)
	}
}

// TestTerminalCtrlZBelowAShell: pidone not PID 1, run by something that
// does job control (here the test): when Ctrl-Z stops the child, pidone
// takes the terminal back and stops too, so that a shell would see its job
// stopped; SIGCONT (the shell's fg) gives the terminal back to the child
// and continues it.
func TestTerminalCtrlZBelowAShell(t *testing.T) {
	t.Parallel()
	pidone, w := bins(t)
	p := startOnPty(t, false, pidone, "--", w, "ttyprobe")
	if m := p.out.WaitFor(t, probeLine, exitTimeout); m[4] != "true" {
		t.Fatalf("probe not in the foreground: %q", m[0])
	}
	p.typeIn("\x1a")
	eventually(t, exitTimeout, func() (bool, string) {
		pr, err := readProc(p.pid)
		return err == nil && pr.state == "T" && p.foreground() == p.pid,
			fmt.Sprintf("pidone in state %s, foreground %d; want T and pidone's group %d", pr.state, p.foreground(), p.pid)
	})
	if err := unix.Kill(p.pid, unix.SIGCONT); err != nil {
		t.Fatal(err)
	}
	p.out.WaitFor(t, probeSig(syscall.SIGCONT), exitTimeout)
	p.typeIn("status\n")
	eventually(t, exitTimeout, func() (bool, string) {
		return p.out.Count(regexp.MustCompile(`^probe .* fg=true\r?$`)) == 2, "the probe did not report the foreground again"
	})
	p.typeIn("quit\n")
	if code := p.exitCode(exitTimeout); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

// TestTerminalPeers: every personality and its peer put the child where
// the peer documents it: tini and catatonit in the foreground of the same
// terminal session, dumb-init in a session of its own that has the
// terminal.
func TestTerminalPeers(t *testing.T) {
	t.Parallel()
	_, w := bins(t)
	for _, tc := range []struct {
		peer       string
		ownSession bool
	}{{"tini", false}, {"catatonit", false}, {"dumb-init", true}} {
		t.Run(tc.peer, func(t *testing.T) {
			t.Parallel()
			forEach(t, tc.peer, func(t *testing.T, bin string) {
				p := startOnPty(t, true, bin, "--", w, "ttyprobe")
				m := p.out.WaitFor(t, probeLine, exitTimeout)
				pid, _ := strconv.Atoi(m[1])
				sid, _ := strconv.Atoi(m[3])
				if m[4] != "true" {
					t.Errorf("%s: the child is not in the terminal's foreground", tc.peer)
				}
				if (sid == pid) != tc.ownSession {
					t.Errorf("%s: child pid %d, session %d; want its own session: %v", tc.peer, pid, sid, tc.ownSession)
				}
				p.typeIn("quit\n")
				if code := p.exitCode(exitTimeout); code != 0 {
					t.Errorf("exit %d, want 0", code)
				}
			})
		})
	}
}

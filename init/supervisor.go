package supervisor

import (
	"log/slog"
	"os"
	"strconv"

	"github.com/pidone/pidone/forward"
	"github.com/pidone/pidone/reap"
	"golang.org/x/sys/unix"
)

// Config is everything the supervisor needs; main builds it from argv.
type Config struct {
	// Command is the main child's argv; Command[0] is looked up in PATH.
	Command []string
	// SingleChild sends forwarded signals to the child alone instead of
	// its process group.
	SingleChild bool
	// RemapExit lists exit codes of the child that pidone reports as 0.
	RemapExit []int
	// WarnOnReap logs every reaped orphan at WARN.
	WarnOnReap bool
	Log        *slog.Logger
}

// Run starts the main command and supervises it. signals must come from
// forward.Catch, called before anything else in main. It returns pidone's
// exit code: the main child's decoded status, remapped as configured.
func Run(cfg Config, signals <-chan os.Signal) (int, error) {
	log := cfg.Log
	if os.Getpid() != 1 {
		// Below another init, orphans of our subtree would go past us; as a
		// subreaper they come to us and are reaped the same way.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return 0, os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err)
		}
	}

	r := reap.Start(func(e reap.Exit) {
		if cfg.WarnOnReap {
			log.Warn("reaped orphan", "pid", e.Pid, "status", describe(e.Status))
		}
	})
	child, err := start(r, cfg.Command)
	if err != nil {
		return 0, err
	}
	defer child.close()
	log.Info("started", "command", cfg.Command[0], "pid", child.pid)

	target := forward.Target{Pid: child.pid, PidFD: child.pidfd, Group: !cfg.SingleChild}
	for {
		select {
		case s := <-signals:
			sig := s.(unix.Signal)
			log.Debug("forwarding", "signal", forward.Name(sig), "pid", child.pid, "group", target.Group)
			if err := target.Send(sig); err != nil {
				log.Warn("cannot forward", "signal", forward.Name(sig), "error", err)
			}
		case e := <-r.Exits():
			if e.Pid != child.pid {
				continue
			}
			log.Info("main child exited", "pid", e.Pid, "status", describe(e.Status))
			return remap(e.Code(), cfg.RemapExit), nil
		}
	}
}

// remap turns the codes the user listed into 0 (tini's -e: a JVM that exits
// 143 on SIGTERM has shut down cleanly).
func remap(code int, toZero []int) int {
	for _, c := range toZero {
		if c == code {
			return 0
		}
	}
	return code
}

// describe renders a wait status for logs.
func describe(ws unix.WaitStatus) string {
	if ws.Signaled() {
		s := "killed by " + forward.Name(ws.Signal())
		if ws.CoreDump() {
			s += " (core dumped)"
		}
		return s
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}

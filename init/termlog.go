package supervisor

import (
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/pidone/pidone/forward"
	"golang.org/x/sys/unix"
)

// exitReason says in one line how the main child ended, for people reading
// `kubectl describe pod` (the termination message).
func exitReason(ws unix.WaitStatus, killedByPidone bool, grace string) string {
	if !ws.Signaled() {
		return "main child exited with status " + strconv.Itoa(ws.ExitStatus())
	}
	sig := ws.Signal()
	s := "main child was killed by " + forward.Name(sig) + " (signal " + strconv.Itoa(int(sig)) + ", exit code " +
		strconv.Itoa(128+int(sig)) + ")"
	if ws.CoreDump() {
		s += ", core dumped"
	}
	if sig == unix.SIGKILL && killedByPidone {
		s += ": pidone's SIGKILL when the " + grace + " grace period ran out"
	}
	return s
}

// writeTerminationLog replaces the file's content with reason and a newline.
// A failure is logged and changes nothing else: the exit code matters more.
func writeTerminationLog(cfg Config, log *slog.Logger, reason string) {
	if cfg.TerminationLog == "" {
		return
	}
	reason = strings.ReplaceAll(reason, "\n", " ")
	if err := os.WriteFile(cfg.TerminationLog, []byte(reason+"\n"), 0o644); err != nil {
		log.Warn("cannot write the termination log", "path", cfg.TerminationLog, "error", err)
	}
}

// closeInherited closes the descriptors above stderr that pidone inherited
// (sockets passed on for the child), once the child has its copies. They
// are told from pidone's own by the close-on-exec flag: Go opens everything
// with O_CLOEXEC (the runtime's epoll descriptor, pidfds), while a
// descriptor with that flag cannot have survived the exec into pidone.
func closeInherited(log *slog.Logger) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		log.Debug("cannot list inherited descriptors", "error", err)
		return
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue // gone (the listing's own), or pidone's
		}
		if err := unix.Close(fd); err != nil {
			log.Debug("cannot close an inherited descriptor", "fd", fd, "error", err)
		}
	}
}

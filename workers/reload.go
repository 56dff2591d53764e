package workers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pidone/pidone/forward"
	"golang.org/x/sys/unix"
)

// reloadHoldoff is how long after a reload further reload signals are held
// back. The first reload signal is acted on at once (the leading edge);
// the ones that arrive during its fan-out or within reloadHoldoff after it
// are merged into one more reload when the hold ends (the trailing edge),
// which reads the configuration as it stands after the last of them. A
// burst of reload signals (a config tool and logrotate, a user's double
// kill) thus gives at most two reloads, and a storm at most one reload per
// reloadHoldoff; and no signal is lost: one sent after a reload read the
// configuration is always followed by a reload that reads it again.
const reloadHoldoff = 100 * time.Millisecond

// reloadGate decides when reload signals become reloads. Its methods are
// pure transitions on the time passed in, so tests drive it with an
// injected clock. The zero value holds nothing back.
type reloadGate struct {
	holdUntil time.Time // reloads are held back until then
	pending   bool      // a reload signal came during the hold
	// mode is the burst's: that of its leading reload, or replace once
	// any of its signals asked for one.
	mode ReloadMode
}

// request records a reload signal at now. It returns the mode of a reload
// to make at once, or ok false when the signal is held for the trailing
// reload. A replace request wins over a plain reload in the same burst: a
// plain reload right after a restart does not abandon the replacement the
// restart began.
func (g *reloadGate) request(now time.Time, mode ReloadMode) (reload ReloadMode, ok bool) {
	if !g.pending && !now.Before(g.holdUntil) {
		g.mode = mode
		return mode, true
	}
	if mode == ReloadReplace {
		g.mode = ReloadReplace
	}
	g.pending = true
	return 0, false
}

// done records that a reload's fan-out ended at now: the hold starts.
func (g *reloadGate) done(now time.Time) {
	g.holdUntil = now.Add(reloadHoldoff)
}

// due returns the trailing reload once its hold has ended at now.
func (g *reloadGate) due(now time.Time) (reload ReloadMode, ok bool) {
	if !g.pending || now.Before(g.holdUntil) {
		return 0, false
	}
	g.pending = false
	return g.mode, true
}

// deadline is when the trailing reload is due; zero when none waits.
func (g *reloadGate) deadline() time.Time {
	if !g.pending {
		return time.Time{}
	}
	return g.holdUntil
}

// waiting reports whether a trailing reload is held back.
func (g *reloadGate) waiting() bool { return g.pending }

// cancel drops a held reload (the master is stopping).
func (g *reloadGate) cancel() { g.pending = false }

// A reload that cannot kill silently (issue 22). The reload signal is sent
// to every live worker; a worker that does not handle it dies of it (SIGHUP,
// the default, ends a process that has no handler: a libhv program, which
// reloads on SIGUSR1, loses every worker that way). The master records each
// reload's outcome in the status file, and logs every worker the reload
// signal killed at ERROR; pidone ctl reload waits for that outcome and
// fails, saying why and what to set, rather than report a reload that
// emptied the container as a success.

// reloadRecord is the outcome of the last reload, as the status file shows
// it to pidone ctl reload.
type reloadRecord struct {
	// Seq counts the reloads the master made, rejected ones included.
	Seq        int    `json:"seq"`
	Generation int    `json:"generation"`
	Mode       string `json:"mode,omitempty"`
	// Signal is the reload signal the workers were sent (mode signal).
	Signal    string `json:"signal,omitempty"`
	Signalled int    `json:"signalled"`
	// Killed counts the workers Signal was sent to that died of it.
	Killed int `json:"killed"`
	// Error says why the reload failed: its configuration was rejected,
	// or its signal killed workers.
	Error string `json:"error,omitempty"`
}

// reloadSettle is how long pidone ctl reload watches, once the master has
// made the reload, for workers killed by its signal. A process without a
// handler dies as the signal is delivered, within milliseconds; a second
// leaves room for a loaded machine.
const reloadSettle = time.Second

// reloadRejected records a reload whose configuration did not load.
func (m *master) reloadRejected(err error) {
	m.lastReload = reloadRecord{Seq: m.lastReload.Seq + 1, Generation: m.gen,
		Error: "configuration rejected, the workers are left as they are: " + err.Error()}
}

// reloadBegun records a reload being applied in mode.
func (m *master) reloadBegun(mode ReloadMode) {
	m.lastReload = reloadRecord{Seq: m.lastReload.Seq + 1, Generation: m.gen, Mode: mode.String()}
}

// sendReload sends the reload signal to a live worker, marking it with the
// reload, so that its death of that signal is known as the reload's doing.
func (m *master) sendReload(w *worker) {
	m.send(w, m.opts.ReloadSignal)
	w.ReloadSignalled = m.lastReload.Seq
	m.lastReload.Signal = forward.Name(m.opts.ReloadSignal)
	m.lastReload.Signalled++
}

// killedByReload reports whether the worker of w, which exited with ws,
// died of the reload signal a reload sent it; if so it logs that at ERROR,
// with the remedy, and counts it in the reload's outcome.
func (m *master) killedByReload(w *worker, ws unix.WaitStatus, exit []any) bool {
	if w.ReloadSignalled == 0 || !ws.Signaled() || ws.Signal() != m.opts.ReloadSignal {
		return false
	}
	if w.ReloadSignalled == m.lastReload.Seq {
		m.lastReload.Killed++
		m.lastReload.Error = reloadKilledError(m.lastReload)
	}
	m.log.Error("worker killed by the reload signal", append(exit, "hint", reloadHint(m.opts.ReloadSignal))...)
	return true
}

// reloadKilledError is the reason pidone ctl reload gives for r.
func reloadKilledError(r reloadRecord) string {
	return fmt.Sprintf("%d of the %d workers sent %s died of it", r.Killed, r.Signalled, r.Signal)
}

// reloadHint says what to do about workers the reload signal sig kills.
func reloadHint(sig unix.Signal) string {
	return fmt.Sprintf("the workers do not handle %s, whose default action ends a process: "+
		"start the master with --reload-signal set to the signal they reload on "+
		"(libhv's hmain reloads on SIGUSR1: --reload-signal USR1)", forward.Name(sig))
}

// ctlReload sends the master its reload signal and waits for the reload's
// outcome in the status file: made, and no worker killed by its signal
// within reloadSettle. It returns pidone ctl's exit code. A master whose
// status file cannot be read is only signalled, as before.
func ctlReload(p probe, sig unix.Signal, pidfile string, timeout time.Duration, say, complain func(string, ...any)) int {
	pid, statusPath := p.pid, pidfile+statusSuffix
	before, err := readStatus(statusPath, p.uid)
	switch {
	case err == nil && before.Pid == pid && before.Reload != nil:
	default:
		pidfd, err := signalMaster(p, sig)
		if err != nil {
			complain("%v", err)
			return CtlFailed
		}
		unix.Close(pidfd)
		say("reload requested (%s to pid %d); its outcome is unknown: no status file from the master", forward.Name(sig), pid)
		return CtlOK
	}
	// Watch the status file's directory before signalling: the master
	// replaces the file (rename), which IN_MOVED_TO reports.
	watch, err := watchDir(filepath.Dir(statusPath))
	if err != nil {
		complain("cannot watch %s: %v", filepath.Dir(statusPath), err)
		return CtlFailed
	}
	defer unix.Close(watch)
	pidfd, err := signalMaster(p, sig)
	if err != nil {
		complain("%v", err)
		return CtlFailed
	}
	defer unix.Close(pidfd)

	deadline := time.Now().Add(timeout)
	var madeAt time.Time
	for {
		st, err := readStatus(statusPath, p.uid)
		now := time.Now()
		final := !now.Before(deadline)
		if r := st.Reload; err == nil && st.Pid == pid && r != nil && r.Seq > before.Reload.Seq {
			if madeAt.IsZero() {
				madeAt = now
				if settle := madeAt.Add(reloadSettle); settle.Before(deadline) {
					deadline = settle
				}
			}
			settled := now.Sub(madeAt)
			if final {
				settled = reloadSettle
			}
			switch reloadVerdict(*r, settled) {
			case verdictFailed:
				complain("reload failed (%s to pid %d): %s", forward.Name(sig), pid, r.Error)
				if r.Killed > 0 {
					complain("hint: %s", reloadHint(sig))
				}
				return CtlFailed
			case verdictDone:
				say("reloaded (%s to pid %d): generation %d, %s", forward.Name(sig), pid, r.Generation, reloadSummary(*r))
				return CtlOK
			}
		} else if final {
			complain("pid %d did not make the reload within %v", pid, timeout)
			return CtlFailed
		}
		gone, err := waitWatch(watch, pidfd, deadline.Sub(now))
		switch {
		case err != nil:
			complain("waiting for the reload: %v", err)
			return CtlFailed
		case gone:
			complain("pid %d exited during the reload", pid)
			return CtlFailed
		}
	}
}

type verdict int

const (
	verdictPending verdict = iota
	verdictDone
	verdictFailed
)

// reloadVerdict judges reload r, made settled ago: failed once it has an
// error (a rejected configuration, or every worker it signalled killed);
// done when nothing it signalled can still die of it; pending otherwise.
// Some but not all workers killed fails when the settle time is over, with
// the final count.
func reloadVerdict(r reloadRecord, settled time.Duration) verdict {
	switch {
	case r.Error != "" && (r.Killed == 0 || r.Killed == r.Signalled || settled >= reloadSettle):
		return verdictFailed
	case r.Signalled == 0 || settled >= reloadSettle && r.Error == "":
		return verdictDone
	}
	return verdictPending
}

func reloadSummary(r reloadRecord) string {
	if r.Mode == ReloadReplace.String() {
		return "a new generation is starting"
	}
	plural := "s"
	if r.Signalled == 1 {
		plural = ""
	}
	return fmt.Sprintf("%s sent to %d worker%s", r.Signal, r.Signalled, plural)
}

// watchDir returns an inotify descriptor reporting files renamed into or
// written in dir.
func watchDir(dir string) (int, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return -1, os.NewSyscallError("inotify_init1", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("inotify_add_watch", err)
	}
	return fd, nil
}

// waitWatch waits at most d for an event on watch (drained) or the exit of
// the process behind pidfd (gone).
func waitWatch(watch, pidfd int, d time.Duration) (gone bool, err error) {
	fds := []unix.PollFd{{Fd: int32(watch), Events: unix.POLLIN}, {Fd: int32(pidfd), Events: unix.POLLIN}}
	_, err = unix.Poll(fds, int(d.Milliseconds())+1)
	if err != nil && !errors.Is(err, unix.EINTR) {
		return false, os.NewSyscallError("poll", err)
	}
	if fds[0].Revents != 0 {
		var buf [4096]byte
		for {
			if n, err := unix.Read(watch, buf[:]); n <= 0 || err != nil {
				break
			}
		}
	}
	return fds[1].Revents != 0, nil
}

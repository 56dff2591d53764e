package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// What the final SIGKILL is about to hit, for the log: at the default log
// level an operator must see that pidone killed something, and what, since a
// process that needed SIGKILL did not shut down cleanly (docs/lifecycle.md).

// maxNamed caps how many processes the kill line names.
const maxNamed = 8

// killReason says why pidone goes straight to SIGKILL.
func killReason(before phase, byTimer bool, grace time.Duration) string {
	switch {
	case before == stopping && byTimer:
		return fmt.Sprintf("the grace period (--grace %v) is over", grace)
	case before == stopping:
		return "a second stop request"
	}
	return "no grace period (--grace 0)"
}

// victims lists the processes below pidone that are alive (zombies are
// already dead and only wait to be reaped): as PID 1 every process of the
// namespace but pidone, as a subreaper its descendants. ok is false when
// /proc cannot tell.
func (s *sweeper) victims() (procs []procInfo, ok bool) {
	if s.pid1 && s.aloneInNamespace() {
		return nil, true
	}
	if s.procErr != nil {
		return nil, false
	}
	// As PID 1 the sweeper needs no /proc (kill(-1)), so nothing checked
	// yet that /proc is this namespace's and not the host's.
	if s.pid1 && procIsOurs(s.self) != nil {
		return nil, false
	}
	var all []procInfo
	var err error
	if s.pid1 {
		all, err = readProcs(&s.reads) // the namespace is pidone's
	} else {
		all, err = s.list()
	}
	if err != nil {
		return nil, false
	}
	for _, p := range all {
		if p.pid == s.self || p.state == "Z" {
			continue
		}
		procs = append(procs, p)
	}
	return procs, true
}

// aloneInNamespace reports whether pidone, as PID 1, is the only process
// of its namespace: no child (the reaper's waitid), and nothing a
// kill(-1, 0) reaches, which is every other process of the namespace, a
// `docker exec` one that is nobody's child here included (kill(2)). Root
// may signal them all, so ESRCH then means there are none; for anyone else
// it could mean another user's process, and /proc is read instead. The
// common exit, a main child that left nothing behind, then reads no /proc
// at all (issue 19).
func (s *sweeper) aloneInNamespace() bool {
	if s.hasChildren == nil || s.hasChildren() || os.Geteuid() != 0 {
		return false
	}
	return errors.Is(unix.Kill(-1, 0), unix.ESRCH)
}

// describeVictims renders procs as "12 (sleep), 14 (nginx)", naming at
// most maxNamed and counting the rest.
func describeVictims(procs []procInfo) string {
	var parts []string
	for i, p := range procs {
		if i == maxNamed {
			parts = append(parts, fmt.Sprintf("and %d more", len(procs)-maxNamed))
			break
		}
		parts = append(parts, fmt.Sprintf("%d (%s)", p.pid, p.name()))
	}
	return strings.Join(parts, ", ")
}

// victimList is the processes of the kill line: "12 (sleep), 14 (nginx)"
// in text, an array in JSON (docs/logs.md): [{"pid":12,"command":"sleep"},
// ...], at most maxNamed of them (the record's count says how many).
type victimList []procInfo

func (v victimList) String() string { return describeVictims(v) }

func (v victimList) MarshalJSON() ([]byte, error) {
	type named struct {
		Pid     int    `json:"pid"`
		Command string `json:"command"`
	}
	out := make([]named, 0, min(len(v), maxNamed))
	for _, p := range v[:min(len(v), maxNamed)] {
		out = append(out, named{p.pid, p.name()})
	}
	return json.Marshal(out)
}

// name is the process's command name: from the stat line it was read
// from, else from /proc/PID/comm.
func (p procInfo) name() string {
	if p.comm != "" {
		return p.comm
	}
	return comm(p.pid)
}

// comm is the process's command name (/proc/PID/comm), or "?" once it is
// gone.
func comm(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// logKill says, before the first SIGKILL, what it will hit and why: a WARN
// when processes are still alive, an INFO when nothing is left to kill.
// Under a peer's name (no StopOnRequest) it stays at INFO: the peers kill
// what is left without a word when their child exits, and their users'
// logs keep the peers' lines.
func (lp *loop) logKill(before phase, byTimer bool) {
	reason := killReason(before, byTimer, lp.cfg.Grace)
	level := slog.LevelWarn
	if !lp.cfg.StopOnRequest {
		level = slog.LevelInfo
	}
	ctx := context.Background()
	procs, ok := lp.sw.victims()
	switch {
	case !ok:
		lp.log.Log(ctx, level, "killing every remaining process (SIGKILL)", "reason", reason, "processes", "unknown: /proc is not this PID namespace's")
	case len(procs) == 0:
		lp.log.Info("killing every remaining process (SIGKILL): none is left", "reason", reason)
	default:
		lp.log.Log(ctx, level, "killing the remaining processes (SIGKILL)", "reason", reason,
			"count", len(procs), "processes", victimList(procs))
	}
}

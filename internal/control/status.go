// Package control is single mode's control socket (--control-socket PATH,
// issue 21): `pidone ctl status` asks a running pidone, from inside its
// container (docker exec), what the exit report would say now: the main
// child, uptime, orphans reaped so far, the processes below pidone.
//
// The protocol is one request line ("status\n", at most MaxRequest bytes)
// and one JSON document in answer (Status, or {"error": ...}), then the
// server closes the connection. The server runs on goroutines of its own
// and never on the supervisor's event loop; what it reports comes from a
// func the supervisor gives it (init/status.go). docs/exit-report.md,
// "Live status", documents the document field by field.
package control

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pidone/pidone/internal/exitreport"
)

// Schema is the version of the status document; it changes only when a
// field changes meaning or goes away (new fields keep it).
const Schema = 1

// Where pidone ctl finds the socket: its own --control-socket, else
// EnvSocket (docker exec inherits the container's environment, so the
// variable that made pidone listen also tells ctl where), else
// DefaultSocket.
const (
	EnvSocket     = "PIDONE_CONTROL_SOCKET"
	DefaultSocket = "/run/pidone.sock"
)

// Status is the answer to "status". The fields it shares with the exit
// report have the report's names and types (internal/exitreport).
type Status struct {
	Schema      int    `json:"schema"`
	Version     string `json:"version"`
	Mode        string `json:"mode"` // "single" (workers mode has its own status: pidone ctl --pidfile)
	Personality string `json:"personality"`
	PID1        bool   `json:"pid1"`
	// Pid is pidone's own pid.
	Pid       int     `json:"pid"`
	StartTime string  `json:"start_time"` // RFC 3339, UTC
	Now       string  `json:"now"`        // when this answer was made
	Uptime    float64 `json:"uptime_seconds"`

	MainChild *MainChild `json:"main_child"` // null in pause mode
	// StopRequest is the stop request pidone is acting on, null if none.
	StopRequest *exitreport.Signal `json:"stop_request"`

	OrphansReaped int `json:"orphans_reaped"`

	// The processes alive below pidone now, as the exit report's
	// leftovers would list them (end.how is "running" for each), but for
	// the client asking: at most exitreport.MaxLeftovers in full, the
	// rest counted. ProcessesKnown is false when /proc cannot tell.
	ProcessesKnown   bool                  `json:"processes_known"`
	ProcessesCount   int                   `json:"processes_count"`
	ProcessesOmitted int                   `json:"processes_omitted"`
	Processes        []exitreport.Leftover `json:"processes"`
}

// MainChild is the report's main child (end.how "running" while it runs)
// and when it started.
type MainChild struct {
	exitreport.MainChild
	StartTime string `json:"start_time"` // RFC 3339, UTC
}

// Bound keeps the first exitreport.MaxLeftovers processes and counts the
// rest, as the report bounds its leftovers.
func (s *Status) Bound() {
	s.ProcessesCount = len(s.Processes)
	if len(s.Processes) > exitreport.MaxLeftovers {
		s.ProcessesOmitted = len(s.Processes) - exitreport.MaxLeftovers
		s.Processes = s.Processes[:exitreport.MaxLeftovers]
	}
}

// userHZ is the unit of starttime: clock ticks after boot (proc(5)).
const userHZ = 100

// WriteText renders s for people, as `pidone ctl status` prints it; now
// is the client's time and bootTicks its CLOCK_BOOTTIME in clock ticks,
// to show how long each process has run.
func WriteText(w io.Writer, s *Status, now time.Time, bootTicks uint64) {
	pid1 := ""
	if s.PID1 {
		pid1 = ", PID 1"
	}
	fmt.Fprintf(w, "running (pid %d%s; pidone %s, %s mode, personality %s)\n", s.Pid, pid1, s.Version, s.Mode, s.Personality)
	fmt.Fprintf(w, "started %s, up %s\n", s.StartTime, since(s.StartTime, now))
	switch m := s.MainChild; {
	case m == nil:
		fmt.Fprintln(w, "main child: none (--pause)")
	case m.End.How == exitreport.Running:
		fmt.Fprintf(w, "main child: pid %d, running for %s: %s\n", m.Pid, since(m.StartTime, now), argvText(m.Argv, m.ArgvTruncated))
	default:
		fmt.Fprintf(w, "main child: pid %d, %s: %s\n", m.Pid, endText(m.End), argvText(m.Argv, m.ArgvTruncated))
	}
	if s.StopRequest != nil {
		fmt.Fprintf(w, "stopping: %s received\n", s.StopRequest.Name)
	}
	fmt.Fprintf(w, "orphans reaped: %d\n", s.OrphansReaped)
	if !s.ProcessesKnown {
		fmt.Fprintln(w, "processes below pidone: unknown (/proc is not this PID namespace's)")
		return
	}
	fmt.Fprintf(w, "processes below pidone: %d\n", s.ProcessesCount)
	if len(s.Processes) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tPPID\tCOMM\tELAPSED\tARGV")
	for _, p := range s.Processes {
		elapsed := "-"
		if bootTicks >= p.Starttime {
			elapsed = (time.Duration(bootTicks-p.Starttime) * (time.Second / userHZ)).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", p.Pid, p.PPid, p.Comm, elapsed, argvText(p.Argv, p.ArgvTruncated))
	}
	tw.Flush()
	if s.ProcessesOmitted > 0 {
		fmt.Fprintf(w, "... and %d more\n", s.ProcessesOmitted)
	}
}

// since is how long ago the RFC 3339 time t was, to the second.
func since(t string, now time.Time) string {
	at, err := time.Parse(time.RFC3339Nano, t)
	if err != nil {
		return "?"
	}
	return now.Sub(at).Round(time.Second).String()
}

// endText says how a process ended, in words.
func endText(e exitreport.End) string {
	var s string
	switch {
	case e.How == exitreport.Exited && e.Code != nil:
		s = "exited " + strconv.Itoa(*e.Code)
	case e.How == exitreport.Killed && e.Signal != nil:
		s = "killed by " + e.Signal.Name
	default:
		s = strings.ReplaceAll(e.How, "_", " ")
	}
	if e.AfterSeconds != nil {
		s += fmt.Sprintf(" after %gs", *e.AfterSeconds)
	}
	return s
}

// argvText is an argv on one line, a word with blanks or quotes quoted,
// "..." when it was cut; "-" when there is none (a kernel thread, or a
// process that exited while it was read).
func argvText(argv []string, cut bool) string {
	if len(argv) == 0 {
		return "-"
	}
	words := make([]string, len(argv))
	for i, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\") || !strconv.IsPrint(firstNonPrint(a)) {
			a = strconv.Quote(a)
		}
		words[i] = a
	}
	s := strings.Join(words, " ")
	if cut {
		s += " ..."
	}
	return s
}

// firstNonPrint returns the first rune of s that is not printable, or 'a'.
func firstNonPrint(s string) rune {
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return r
		}
	}
	return 'a'
}

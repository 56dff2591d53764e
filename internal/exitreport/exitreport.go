// Package exitreport is the document pidone leaves behind with
// --exit-report PATH (issue 21): how the main child ended, pidone's exit
// code and why, and every process that was still alive below pidone when
// the main child ended, with how each one ended. It is for test authors who
// want a verdict without scraping logs; docs/exit-report.md documents it
// field by field. Field names follow the kernel and /proc (pid, ppid, comm,
// starttime).
//
// The package is the document and its writing only; what goes in it comes
// from the supervisor's event loop (init/report.go).
package exitreport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pidone/pidone/internal/clip"
	"github.com/pidone/pidone/internal/safefile"
	"golang.org/x/sys/unix"
)

// Schema is the version of the document; it changes only when a field
// changes meaning or goes away (new fields keep it).
const Schema = 1

// Bounds: the report of a container that left 10,000 processes must stay
// small and quick to write.
const (
	// MaxLeftovers is how many leftovers are listed in full; the rest
	// are only counted (LeftoversOmitted).
	MaxLeftovers = 1000
	// MaxArgs is how many words of an argv are kept; each word is cut
	// as internal/clip cuts a value (clip.Max bytes and a note on its
	// length).
	MaxArgs = 32
	// MaxCmdline is how many bytes of /proc/PID/cmdline are read.
	MaxCmdline = 4096
)

// Report is the document. Times are RFC 3339 in UTC.
type Report struct {
	Schema      int     `json:"schema"`
	Version     string  `json:"version"`
	Mode        string  `json:"mode"`        // "single" or "workers"
	Personality string  `json:"personality"` // "pidone", "tini", "docker-init", "dumb-init", "catatonit"
	PID1        bool    `json:"pid1"`
	StartTime   string  `json:"start_time"`
	EndTime     string  `json:"end_time"`
	Duration    float64 `json:"duration_seconds"`

	MainChild *MainChild `json:"main_child"` // null in pause mode

	ExitCode   int    `json:"exit_code"`
	ExitReason string `json:"exit_reason"` // one of the Reason constants
	// Error says what went wrong when ExitReason is ReasonUsage,
	// ReasonInternal or ReasonRunning: the message pidone printed.
	Error string `json:"error,omitempty"`
	// StopRequest is the stop request pidone acted on (SIGTERM, SIGINT
	// after rewriting), null when there was none.
	StopRequest *Signal `json:"stop_request"`

	OrphansReaped          int `json:"orphans_reaped"`
	OrphansReapedAfterMain int `json:"orphans_reaped_after_main"`

	// LeftoversCount is how many processes were alive below pidone when
	// the main child ended (or, in pause mode, when the stop began);
	// Leftovers lists the first MaxLeftovers of them, LeftoversOmitted
	// counts the rest. LeftoversKnown is false when /proc could not
	// tell (not this PID namespace's).
	LeftoversKnown   bool       `json:"leftovers_known"`
	LeftoversCount   int        `json:"leftovers_count"`
	LeftoversOmitted int        `json:"leftovers_omitted"`
	Leftovers        []Leftover `json:"leftovers"`

	// Workers is every worker slot in workers mode, in the order `pidone
	// ctl status` lists them; absent in single mode.
	Workers []Worker `json:"workers,omitempty"`
}

// Worker is one worker slot (workers mode), named as `pidone ctl status`
// names it.
type Worker struct {
	Group      string `json:"group"`
	Slot       int    `json:"slot"`
	Generation int    `json:"generation"`
	// Starts counts every start of the slot's worker, failed starts
	// included; Crashes the deaths the master did not ask for with an
	// exit status other than 0 (a failed start is one).
	Starts  int `json:"starts"`
	Crashes int `json:"crashes"`
	// GivenUp: the restart policy gave the slot up (and no reload
	// revived it); Reason says why.
	GivenUp bool   `json:"given_up"`
	Reason  string `json:"reason,omitempty"`
}

// Reasons for ExitCode.
const (
	ReasonChild        = "child_status" // the main child's decoded status
	ReasonRemap        = "remap"        // the child's status, turned into 0 by --remap-exit
	ReasonStopRequest  = "stop_request" // pause mode: stopped on request, 0
	ReasonLeftovers    = "leftovers"    // --fail-on-leftovers
	ReasonStartFailure = "start_failure"
	// Workers mode.
	ReasonGaveUp   = "gave_up"  // every slot given up or finished, one given up at least: 1
	ReasonFinished = "finished" // every slot finished cleanly: 0
	// Before or instead of running anything.
	ReasonUsage    = "usage_error"     // a usage or configuration error: 2
	ReasonRunning  = "already_running" // workers mode: another master holds the pidfile: 3
	ReasonInternal = "internal_error"  // pidone itself failed: 125
)

// MainChild is the main command.
type MainChild struct {
	Pid           int      `json:"pid"` // 0 when it never started
	Argv          []string `json:"argv"`
	ArgvTruncated bool     `json:"argv_truncated"`
	End           End      `json:"end"`
}

// Leftover is one process alive below pidone when the main child ended.
type Leftover struct {
	Pid           int      `json:"pid"`
	PPid          int      `json:"ppid"`
	Comm          string   `json:"comm"`
	Argv          []string `json:"argv"`
	ArgvTruncated bool     `json:"argv_truncated"`
	// Starttime is /proc/PID/stat's field 22: clock ticks (USER_HZ)
	// after boot.
	Starttime uint64 `json:"starttime"`
	End       End    `json:"end"`
}

// How a process ended.
const (
	Exited     = "exited"      // Code is its exit status
	Killed     = "killed"      // Signal says by what
	NotStarted = "not_started" // the main child only; Error says why
	Running    = "running"     // still alive when pidone exited
	// Unknown: it is gone, but its own parent reaped it, so pidone never
	// saw its status.
	Unknown = "unknown"
)

// Who sent the signal that killed a leftover, as far as pidone knows.
const (
	ByStop = "pidone_stop" // pidone's stop signal (SIGTERM by default)
	ByKill = "pidone_kill" // pidone's SIGKILL after the grace period
)

// End is how a process ended.
type End struct {
	How    string  `json:"how"`
	Code   *int    `json:"code,omitempty"`
	Signal *Signal `json:"signal,omitempty"`
	// By is ByStop or ByKill when pidone had sent that very signal,
	// else absent.
	By string `json:"by,omitempty"`
	// AfterSeconds is when it ended, counted from the main child's end
	// (leftovers) or from pidone's start (the main child); absent when
	// unknown.
	AfterSeconds *float64 `json:"after_seconds,omitempty"`
	// Error is why the main child did not start.
	Error string `json:"error,omitempty"`
}

// Signal is a signal by name and number.
type Signal struct {
	Name   string `json:"name"`
	Number int    `json:"number"`
}

// ExitedWith is an End for exit status code.
func ExitedWith(code int) End { return End{How: Exited, Code: &code} }

// KilledBy is an End for death by signal.
func KilledBy(s Signal, by string) End { return End{How: Killed, Signal: &s, By: by} }

// After sets AfterSeconds to d (milliseconds kept).
func (e End) After(d time.Duration) End {
	s := float64(d.Milliseconds()) / 1000
	e.AfterSeconds = &s
	return e
}

// Times fills the start, end and duration fields.
func (r *Report) Times(start, end time.Time) {
	r.StartTime = start.UTC().Format(time.RFC3339Nano)
	r.EndTime = end.UTC().Format(time.RFC3339Nano)
	r.Duration = float64(end.Sub(start).Milliseconds()) / 1000
}

// BoundArgv keeps the first MaxArgs words of argv, each cut by clip; it
// says whether anything was cut.
func BoundArgv(argv []string) ([]string, bool) {
	cut := len(argv) > MaxArgs
	out := make([]string, 0, min(len(argv), MaxArgs))
	for _, a := range argv[:min(len(argv), MaxArgs)] {
		c := clip.String(a)
		cut = cut || c != a
		out = append(out, c)
	}
	return out, cut
}

// SplitCmdline turns /proc/PID/cmdline (NUL-terminated words, read up to
// MaxCmdline bytes; full says the read was cut) into a bounded argv.
func SplitCmdline(b []byte, full bool) ([]string, bool) {
	var argv []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		argv = append(argv, string(b[:i]))
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	out, cut := BoundArgv(argv)
	return out, cut || full
}

// ReadArgv reads a process's argv from /proc, bounded; nil once it is gone
// (or for a kernel thread, which has none).
func ReadArgv(pid int) ([]string, bool) {
	fd, _, err := safefile.Open(unix.AT_FDCWD, "/proc/"+strconv.Itoa(pid)+"/cmdline", 0)
	if err != nil {
		return nil, false
	}
	defer unix.Close(fd)
	b, err := safefile.ReadAtMost(fd, MaxCmdline+1, 0)
	if err != nil {
		return nil, false
	}
	return SplitCmdline(b[:min(len(b), MaxCmdline)], len(b) > MaxCmdline)
}

// Bound keeps the first MaxLeftovers leftovers and counts the rest.
func (r *Report) Bound() {
	if len(r.Leftovers) > MaxLeftovers {
		r.LeftoversOmitted = len(r.Leftovers) - MaxLeftovers
		r.Leftovers = r.Leftovers[:MaxLeftovers]
	}
}

// CheckPath says what is wrong with path as a place for the report, as far
// as can be known before pidone runs: its directory must exist and be
// writable, and path must not be a directory. A symbolic link at path is
// fine: the report replaces the link, it never writes through it.
func CheckPath(path string) error {
	if path == "" {
		return errors.New("the path is empty")
	}
	dir := filepath.Dir(path)
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("directory %s: %w", dir, err)
	}
	if !safefile.IsDir(st.Mode) {
		return fmt.Errorf("%s is %s, not a directory", dir, safefile.Kind(st.Mode))
	}
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return fmt.Errorf("directory %s is not writable: %w", dir, err)
	}
	if err := unix.Lstat(path, &st); err == nil && safefile.IsDir(st.Mode) {
		return fmt.Errorf("%s is a directory", path)
	}
	return nil
}

// Write writes r to path atomically: a new file in the same directory
// (O_EXCL|O_NOFOLLOW, so nothing already there is written through), fsync,
// rename over path. A reader sees the old file or the whole new one, never
// a part; on failure the temporary file is removed.
func Write(path string, r *Report) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // argv is for people and jq, not for HTML
	if err := enc.Encode(r); err != nil {
		return err
	}
	b := buf.Bytes()
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp := filepath.Join(dir, "."+base+".tmp-"+strconv.Itoa(os.Getpid())+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return &os.PathError{Op: "create", Path: tmp, Err: err}
	}
	f := os.NewFile(uintptr(fd), tmp)
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	// The rename itself is durable once the directory is synced.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

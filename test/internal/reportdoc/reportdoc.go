// Package reportdoc is schema 1 of the exit report as the test tiers read
// it: the fields docs/exit-report.md lists, written out here rather than
// taken from internal/exitreport, so that a field the implementation
// renames or drops fails the tests instead of following along. Decode is
// strict: a field the docs do not list fails too (the schema allows new
// fields; the tests must then learn them).
package reportdoc

import (
	"bytes"
	"encoding/json"
)

// Report is the whole document.
type Report struct {
	Schema                 int        `json:"schema"`
	Version                string     `json:"version"`
	Mode                   string     `json:"mode"`
	Personality            string     `json:"personality"`
	PID1                   bool       `json:"pid1"`
	StartTime              string     `json:"start_time"`
	EndTime                string     `json:"end_time"`
	Duration               float64    `json:"duration_seconds"`
	MainChild              *MainChild `json:"main_child"`
	ExitCode               int        `json:"exit_code"`
	ExitReason             string     `json:"exit_reason"`
	Error                  string     `json:"error"`
	StopRequest            *Signal    `json:"stop_request"`
	OrphansReaped          int        `json:"orphans_reaped"`
	OrphansReapedAfterMain int        `json:"orphans_reaped_after_main"`
	LeftoversKnown         bool       `json:"leftovers_known"`
	LeftoversCount         int        `json:"leftovers_count"`
	LeftoversOmitted       int        `json:"leftovers_omitted"`
	Leftovers              []Process  `json:"leftovers"`
	Workers                []Worker   `json:"workers"`
}

// Worker is one worker slot of a workers-mode report.
type Worker struct {
	Group      string `json:"group"`
	Slot       int    `json:"slot"`
	Generation int    `json:"generation"`
	Starts     int    `json:"starts"`
	Crashes    int    `json:"crashes"`
	GivenUp    bool   `json:"given_up"`
	Reason     string `json:"reason"`
}

// MainChild is the main child and how it ended.
type MainChild struct {
	Pid           int      `json:"pid"`
	Argv          []string `json:"argv"`
	ArgvTruncated bool     `json:"argv_truncated"`
	End           End      `json:"end"`
}

// Process is one leftover.
type Process struct {
	Pid           int      `json:"pid"`
	PPid          int      `json:"ppid"`
	Comm          string   `json:"comm"`
	Argv          []string `json:"argv"`
	ArgvTruncated bool     `json:"argv_truncated"`
	Starttime     uint64   `json:"starttime"`
	End           End      `json:"end"`
}

// End is how a process ended.
type End struct {
	How          string   `json:"how"`
	Code         *int     `json:"code"`
	Signal       *Signal  `json:"signal"`
	By           string   `json:"by"`
	AfterSeconds *float64 `json:"after_seconds"`
	Error        string   `json:"error"`
}

// Signal is a signal by name and number.
type Signal struct {
	Name   string `json:"name"`
	Number int    `json:"number"`
}

// Decode decodes a report strictly.
func Decode(b []byte) (Report, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var r Report
	err := d.Decode(&r)
	return r, err
}

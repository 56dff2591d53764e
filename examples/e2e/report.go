// Package e2e is an example for the author of end-to-end tests that run
// in containers (docs/testing.md): each test runs a command in a container
// whose init is pidone, reads the exit report pidone leaves in a
// bind-mounted directory, and fails when the command left a process
// behind. It needs only the standard library and a Docker engine.
//
// The types below are docs/exit-report.md's, word for word (report_test.go
// holds them to it).
package e2e

// Report is schema 1 of pidone's exit report (docs/exit-report.md).
type Report struct {
	Schema         int        `json:"schema"`
	Version        string     `json:"version"`
	Mode           string     `json:"mode"`
	Personality    string     `json:"personality"`
	PID1           bool       `json:"pid1"`
	StartTime      string     `json:"start_time"`
	EndTime        string     `json:"end_time"`
	Duration       float64    `json:"duration_seconds"`
	MainChild      *MainChild `json:"main_child"`
	ExitCode       int        `json:"exit_code"`
	ExitReason     string     `json:"exit_reason"`
	Error          string     `json:"error"`
	StopRequest    *Signal    `json:"stop_request"`
	OrphansReaped  int        `json:"orphans_reaped"`
	OrphansAfter   int        `json:"orphans_reaped_after_main"`
	LeftoversKnown bool       `json:"leftovers_known"`
	LeftoversCount int        `json:"leftovers_count"`
	Omitted        int        `json:"leftovers_omitted"`
	Leftovers      []Leftover `json:"leftovers"`
	Workers        []Worker   `json:"workers"`
}

type MainChild struct {
	Pid           int      `json:"pid"`
	Argv          []string `json:"argv"`
	ArgvTruncated bool     `json:"argv_truncated"`
	End           End      `json:"end"`
}

type Leftover struct {
	Pid           int      `json:"pid"`
	PPid          int      `json:"ppid"`
	Comm          string   `json:"comm"`
	Argv          []string `json:"argv"`
	ArgvTruncated bool     `json:"argv_truncated"`
	Starttime     uint64   `json:"starttime"`
	End           End      `json:"end"`
}

type End struct {
	How          string   `json:"how"`
	Code         *int     `json:"code"`
	Signal       *Signal  `json:"signal"`
	By           string   `json:"by"`
	AfterSeconds *float64 `json:"after_seconds"`
	Error        string   `json:"error"`
}

type Worker struct {
	Group      string `json:"group"`
	Slot       int    `json:"slot"`
	Generation int    `json:"generation"`
	Starts     int    `json:"starts"`
	Crashes    int    `json:"crashes"`
	GivenUp    bool   `json:"given_up"`
	Reason     string `json:"reason"`
}

type Signal struct {
	Name   string `json:"name"`
	Number int    `json:"number"`
}

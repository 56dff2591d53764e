package cli

import (
	"os"
	"strings"
	"time"

	"github.com/pidone/pidone/internal/exitreport"
)

// A usage error once the exit report's path is known still leaves a report
// (issue 21, item 1): a test that runs pidone with --exit-report and a
// mistake later on its command line reads exit_reason "usage_error" and the
// message rather than finding no file. The path is known when
// --exit-report came on the command line before the mistake, or
// PIDONE_EXIT_REPORT names a usable path (the environment is read before
// the command line). Only pidone's own name: the peers' usage errors keep
// their peers' behaviour.

// usageReported is usage(msg), with the report to write when the path is
// known: s is the settings as far as they were read (nil: none).
func usageReported(msg string, s *settings, environ []string) Config {
	c := usage(msg)
	path := ""
	if s != nil {
		path = s.exitReport
	}
	if path == "" {
		path = reportFromEnvironment(environ)
	}
	if path == "" {
		return c
	}
	mode := "single"
	if s != nil && s.workers != nil && s.workers.Enabled() {
		mode = "workers"
	}
	now := time.Now()
	r := &exitreport.Report{
		Schema: exitreport.Schema, Version: version, Mode: mode, Personality: "pidone", PID1: os.Getpid() == 1,
		ExitCode: ExitUsage, ExitReason: exitreport.ReasonUsage, Error: strings.ReplaceAll(msg, "\n", " "),
		LeftoversKnown: true, Leftovers: []exitreport.Leftover{},
	}
	r.Times(now, now)
	c.ExitReport, c.Report = path, r
	return c
}

// reportFromEnvironment is PIDONE_EXIT_REPORT if it names a usable path,
// else "" (a bad one is the usage error itself).
func reportFromEnvironment(environ []string) string {
	v, _ := lookupIn(environ)(envName("exit-report"))
	if v == "" || exitreport.CheckPath(v) != nil {
		return ""
	}
	return v
}

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
// the command line). Under a peer's name (tini, docker-init, ...) only a
// bad PIDONE_* variable beside a usable PIDONE_EXIT_REPORT leaves one (exit
// 1, the peers' usage code): the peer's own command-line mistakes keep the
// peer's behaviour.

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
	c.ExitReport, c.Report = path, usageReport(mode, "pidone", ExitUsage, msg)
	return c
}

// usageReport is the report of a usage error: exit code, reason and the
// message, nothing run.
func usageReport(mode, personality string, code int, msg string) *exitreport.Report {
	now := time.Now()
	r := &exitreport.Report{
		Schema: exitreport.Schema, Version: version, Mode: mode, Personality: personality, PID1: os.Getpid() == 1,
		ExitCode: code, ExitReason: exitreport.ReasonUsage, Error: strings.ReplaceAll(msg, "\n", " "),
		LeftoversKnown: true, Leftovers: []exitreport.Leftover{},
	}
	r.Times(now, now)
	return r
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

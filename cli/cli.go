// Package cli reads pidone's command line into a Config: pidone's own
// options (options.go, options_workers.go), or, installed as tini,
// docker-init, dumb-init or catatonit, that program's (personality.go,
// options_tini.go, ...); the usage and help texts, the suggestion for a
// misspelt option (suggest.go), the hint for a start failure (starthint.go),
// and the plans the mode decides: descriptors (descriptors.go), threads
// (threads.go), whether SIGURG is safe to forward (preempt.go). The man
// page, pidone(1), is generated from the same tables (manpage_test.go).
//
// cli decides and package main acts: Parse only reads its arguments, the
// environment function it is given and, for --user, the image's
// etc/passwd and etc/group, and returns what to do. Nothing here starts a
// process, sets a signal, writes output or exits; main prints, makes the
// reserves the plans describe (ReserveDescriptors, ThreadPlan.Reserve) and
// runs the mode.
package cli

import (
	"fmt"
	"log/slog"
	"strings"

	supervisor "github.com/pidone/pidone/init"
	"github.com/pidone/pidone/internal/entry"
	"github.com/pidone/pidone/internal/exitreport"
	"github.com/pidone/pidone/logging"
	"github.com/pidone/pidone/workers"
	"golang.org/x/sys/unix"
)

// version is set by the Makefile (-X github.com/pidone/pidone/cli.version).
var version = "dev"

// Exit codes of pidone's own failures; everything else is the child's.
const (
	ExitUsage    = 2
	ExitInternal = 125
	// DefaultLeftoversCode is --fail-on-leftovers' exit code: none of
	// pidone's own (2, 125-127), no 128+N of a signal, and not 124
	// (timeout(1)) or 123 (xargs), which test scripts meet often.
	DefaultLeftoversCode = 122
)

// Mode is what the command line asks pidone to do.
type Mode int

const (
	// Print: write Stdout and Stderr, exit with Code (help, version,
	// licence, a usage error); for a usage error once the exit report's
	// path was known, write Report to ExitReport first.
	Print Mode = iota
	// Ctl: pidone ctl, with CtlArgs (workers/ctl.go).
	Ctl
	// Supervise: run Supervisor, the main child's lifecycle (or --pause).
	Supervise
	// Master: workers mode, run Workers.
	Master
)

// Config is what the command line asks for, decided.
type Config struct {
	Mode Mode

	// Print.
	Code           int
	Stdout, Stderr string
	ExitReport     string
	Report         *exitreport.Report

	// Ctl: the words after "ctl".
	CtlArgs []string

	// Supervise and Master.
	Log *slog.Logger
	// BuildNotes: log what this build lacks (async preemption on, no
	// entry point). Only pidone's own mode: a peer's log keeps to the
	// peer's lines.
	BuildNotes bool
	// ParentDeathSignal, if not 0, is set before anything starts;
	// ParentDeathFailed is the exit code when it cannot be.
	ParentDeathSignal unix.Signal
	ParentDeathFailed int

	// Supervise: the supervisor's configuration (Running and Shortcut
	// are left to the caller), and what to log and exit with when the
	// command cannot be started.
	Supervisor  supervisor.Config
	StartFailed func(*supervisor.StartError) int

	// Master.
	Workers workers.Config
}

// Parse reads the command line: argv0 chooses the personality, args are
// the words after it, environ is os.Environ (PIDONE_<NAME> variables are
// options under every personality, environment.go; the peers read their
// own variables).
func Parse(argv0 string, args []string, environ []string) Config {
	if p := personalityOf(argv0); p != nil {
		return p.config(p.parse(p.argv0, args, lookupIn(environ)), environ)
	}
	return parsePidone(args, environ)
}

// lookupIn is os.LookupEnv over environ: the last of a repeated name wins,
// as in os.Getenv.
func lookupIn(environ []string) envFunc {
	return func(key string) (value string, found bool) {
		for _, kv := range environ {
			if k, v, ok := strings.Cut(kv, "="); ok && k == key {
				value, found = v, true
			}
		}
		return value, found
	}
}

// parsePidone reads pidone's own command line, over the options environ
// sets.
func parsePidone(args []string, environ []string) Config {
	if len(args) > 0 && args[0] == "ctl" {
		return Config{Mode: Ctl, CtlArgs: args[1:]}
	}
	s, err := parseArgsEnv(args, environ, pidoneOptions)
	if err != nil {
		return usageReported(err.Error(), s, environ)
	}
	switch {
	case s.showHelp:
		var b strings.Builder
		printHelp(&b, pidoneOptions)
		return Config{Mode: Print, Stdout: b.String()}
	case s.showVersion:
		return Config{Mode: Print, Stdout: fmt.Sprintf("pidone version %s\n", version)}
	case s.workers != nil && !s.workers.Enabled():
		return usageReported("workers options need --workers, --config or --spec"+s.fromEnvironment(isWorkersOption), s, environ)
	}
	log := logging.New(logging.Options{Format: s.logFormat, Level: s.level()})
	c := Config{Log: log, BuildNotes: true, ParentDeathSignal: s.pdeathsig, ParentDeathFailed: ExitInternal}
	if s.workers != nil {
		c.Mode, c.Workers = Master, s.workersConfig(log)
		return c
	}
	c.Mode = Supervise
	c.Supervisor = supervisor.Config{
		Command:        s.command,
		Pause:          s.pause,
		SingleChild:    s.singleChild,
		RemapExit:      s.remapExit,
		WarnOnReap:     s.warnOnReap,
		Log:            log,
		Grace:          s.grace,
		WaitAll:        s.waitAll,
		StopOnRequest:  true,
		Rewrites:       s.rewrites,
		Delays:         s.delays,
		TerminationLog: s.termLog,
		Session:        supervisor.Foreground,
		JobControl:     supervisor.JobFollow,
		ListenPID:      true,
		ChildSignals:   childSignals("pidone", entry.Signals()),
		User:           s.user(),
		NoNewPrivs:     s.noNewPrivs,
		DieWithPidone:  true,

		ExitReport:      s.exitReport,
		Version:         version,
		Personality:     "pidone",
		FailOnLeftovers: s.failOnLeftovers,
		LeftoversCode:   s.exitCodeOnLeftovers(),
		ControlSocket:   s.controlSocket,
	}
	c.StartFailed = func(e *supervisor.StartError) int {
		log.Error("cannot run command", startFailureAttrs(e, s.subreaperAsked)...)
		return e.ExitCode()
	}
	return c
}

// usage is pidone's answer to a command-line mistake.
func usage(msg string) Config {
	return Config{Mode: Print, Code: ExitUsage,
		Stderr: fmt.Sprintf("pidone: %s\n%s\nTry 'pidone --help' for more information.\n", msg, usageLine)}
}

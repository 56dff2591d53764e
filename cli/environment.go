package cli

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pidone/pidone/forward"
	"github.com/pidone/pidone/internal/clip"
	"github.com/pidone/pidone/workers"
)

// Every long option of pidone's table is also a variable, PIDONE_<NAME>
// (upper case, '-' as '_': --log-format is PIDONE_LOG_FORMAT), read under
// every personality, so that users who cannot change the init's flags
// (`docker run --init`, where dockerd runs pidone as docker-init with
// tini's; a Kubernetes image whose entry point is fixed) reach pidone's own
// features (issue 21). The names derive from the table, so a new option
// gets its variable for free. The command line wins; the peers' own
// variables keep their meaning (docs/personalities.md).

// envPrefix begins every variable pidone reads as an option.
const envPrefix = "PIDONE_"

// envName is the variable of long option name.
func envName(long string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(long, "-", "_"))
}

// notFromEnvironment are the long options with no variable: they print and
// exit, which a variable would make every start of the image do.
var notFromEnvironment = []string{"help", "version"}

// repeatableOptions take a list in their variable, separated by blanks
// (PIDONE_REWRITE="TERM:QUIT USR1:none"): a comma is part of some values
// (--fatal-exit 3,78, --listen unix:/p,mode=0660), a blank of none but a
// --listen socket path with one, which needs the command line. TestRepeatableOptions holds it to the table's help.
var repeatableOptions = []string{"remap-exit", "rewrite", "delay", "fatal-exit", "listen"}

// reservedEnv are PIDONE_ names that are not options and never a mistake:
// pidone gives the first four to its workers (workers/start.go), so a
// pidone started inside a worker sees them; the others are set by pidone's
// own build and tests (Makefile, test/), whose pidone children inherit the
// test's environment.
var reservedEnv = []string{
	workers.EnvIndex, workers.EnvCount, workers.EnvGeneration, workers.EnvGroup,
	"PIDONE_BIN", "PIDONE_NOENTRY_BIN", "PIDONE_IMAGE", "PIDONE_VERSION", "PIDONE_COMMIT",
	"PIDONE_E2E_PIDS", "PIDONE_ENTRY_REPORT", "PIDONE_TEST_ENTRY", "PIDONE_TEST_SDNOTIFY", "PIDONE_TEST_SDNOTIFY_STATE",
}

// envError is a bad PIDONE_ variable: unknown, or a value its option
// refuses. It names the variable.
type envError struct {
	variable string
	msg      string
	near     string // did you mean: a variable, or ""
}

func (e *envError) Error() string {
	msg := e.variable + ": " + e.msg
	if e.near != "" {
		msg += "\ndid you mean " + e.near + "?"
	}
	return msg
}

// envOptions returns the options of table that have a variable.
func envOptions(table []option) []option {
	var out []option
	for _, o := range table {
		if o.long != "" && !slices.Contains(notFromEnvironment, o.long) {
			out = append(out, o)
		}
	}
	return out
}

// applyEnvironment sets in s every option of table whose variable environ
// (os.Environ's form) holds, in table order, and returns the long names it
// set. An empty variable counts as unset: Docker and Kubernetes cannot
// unset a variable an image sets, but can empty it. The first mistake is
// returned as an *envError, unknown variables first.
func applyEnvironment(s *settings, environ []string, table []option) (map[string]bool, error) {
	values := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, envPrefix) {
			values[k] = v
		}
	}
	opts := envOptions(table)
	if err := unknownVariable(values, opts); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, o := range opts {
		name := envName(o.long)
		v := values[name]
		if v == "" {
			continue
		}
		if err := setFromEnvironment(s, o, v); err != nil {
			return nil, &envError{variable: name, msg: err.Error()}
		}
		set[o.long] = true
	}
	return set, nil
}

// unknownVariable returns the error for the first (by name) PIDONE_
// variable of values that is neither an option's nor reserved.
func unknownVariable(values map[string]string, opts []option) error {
	var names []string
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if slices.Contains(reservedEnv, k) || slices.ContainsFunc(opts, func(o option) bool { return envName(o.long) == k }) {
			continue
		}
		long := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, envPrefix), "_", "-"))
		msg := "not an option of pidone's (PIDONE_<NAME> is --name: pidone --help)"
		if slices.Contains(notFromEnvironment, long) {
			msg = fmt.Sprintf("--%s is not read from the environment", long)
		}
		// The name is echoed: cut, and quoted if it holds what a
		// terminal or a log reader would take for something else.
		e := &envError{variable: clip.String(k), msg: msg}
		if strconv.Quote(k) != `"`+k+`"` {
			e.variable = clip.Quote(k)
		}
		if len(long) <= clip.Max {
			if near := closestOption(long, opts); near != "" {
				e.near = envName(near)
			}
		}
		return e
	}
	return nil
}

// setFromEnvironment gives o the value v of its variable: a flag takes 1,
// true, 0 or false (0 and false leave it as it was); an option whose value
// may be left out ([=CODE]) takes the value, or true for none
// (PIDONE_FAIL_ON_LEFTOVERS=true is --fail-on-leftovers, =7 is
// --fail-on-leftovers=7); a repeatable option a blank-separated list; any
// other option the value as on the command line.
func setFromEnvironment(s *settings, o option, v string) error {
	if strings.HasPrefix(o.value, "[=") && v == "true" {
		return o.set(s, "")
	}
	if o.value == "" {
		switch v {
		case "1", "true":
			return o.set(s, "")
		case "0", "false":
			return nil
		}
		return fmt.Errorf("%s is not 1, true, 0 or false", clip.Quote(v))
	}
	if !slices.Contains(repeatableOptions, o.long) {
		return o.set(s, v)
	}
	items := strings.Fields(v)
	if len(items) == 0 {
		return errors.New("the list is empty")
	}
	for _, item := range items {
		if err := o.set(s, item); err != nil {
			return err
		}
	}
	return nil
}

// isWorkersOption reports whether long is one of workers mode's options.
func isWorkersOption(long string) bool {
	return slices.ContainsFunc(workerOptions, func(o option) bool { return o.long == long })
}

// parseArgsEnv is parseArgs over the options environ sets. A bad variable
// is a usage error unless the command line asks for --help or --version,
// which must answer whatever the environment holds. With an error it
// returns the settings as far as the command line was read (for the
// usage error's exit report, usagereport.go).
func parseArgsEnv(args, environ []string, table []option) (*settings, error) {
	s := defaultSettings()
	set, envErr := applyEnvironment(s, environ, table)
	if envErr != nil {
		s = defaultSettings()
	}
	s.fromEnv = set
	// PIDONE_PIDFILE alone does not ask for workers mode: pidone ctl reads
	// it too, so an image may set it for ctl (docs/workers.md).
	var pidfile string
	if set["pidfile"] && len(s.fromEnvironmentAll(isWorkersOption)) == 1 {
		pidfile, s.workers = s.workers.Pidfile, nil
	}
	envLevel := s.logLevel
	s, err := parseOver(s, args, table)
	switch {
	case err != nil:
		return s, err
	case s.showHelp || s.showVersion:
		return s, nil
	case envErr != nil:
		return s, &usageError{msg: envErr.Error()}
	}
	// -v on the command line wins over PIDONE_LOG_LEVEL as it would over
	// an earlier --log-level.
	if envLevel != nil && s.logLevel == envLevel && s.verbosity > 0 {
		s.logLevel = nil
	}
	if pidfile != "" && s.workers != nil && s.workers.Pidfile == "" {
		s.workers.Pidfile = pidfile
	}
	return s, nil
}

// is matches the long option long.
func is(long string) func(string) bool {
	return func(l string) bool { return l == long }
}

// fromEnvironmentAll returns the variables of the options matching pred
// that the environment set, sorted.
func (s *settings) fromEnvironmentAll(pred func(string) bool) []string {
	var names []string
	for long := range s.fromEnv {
		if pred(long) {
			names = append(names, envName(long))
		}
	}
	sort.Strings(names)
	return names
}

// fromEnvironment is " (PIDONE_X)" for a message about an option the
// environment set (the first of them, when several match), or "".
func (s *settings) fromEnvironment(pred func(string) bool) string {
	if names := s.fromEnvironmentAll(pred); len(names) > 0 {
		return " (" + names[0] + ")"
	}
	return ""
}

// applyEnvironment puts the options of pidone's that environ sets into a
// peer's run (peerOptions). The peer's command line and variables win where
// they speak to the same thing (c.given); lists add up (-e and
// PIDONE_REMAP_EXIT); a flag adds.
func (c *peerCall) applyEnvironment(environ []string) error {
	s := defaultSettings()
	set, err := applyEnvironment(s, environ, pidoneOptions)
	if err != nil {
		return err
	}
	for _, o := range envOptions(pidoneOptions) {
		if !set[o.long] || c.given[o.long] {
			continue
		}
		apply, ok := peerOptions[o.long]
		if !ok {
			return &envError{variable: envName(o.long), msg: "--" + o.long + " is pidone's own, not available under a peer's name (docs/personalities.md)"}
		}
		apply(c, s)
	}
	return nil
}

// peerOptions are the options of pidone's a peer's run takes from the
// environment, and how. Not here, and a usage error under a peer's name:
// --pause and the workers options, pidone's own modes (peerUnavailable;
// PIDONE_PIDFILE is ignored instead, as pidone ctl reads it too).
// TestPeerOptions makes a new option choose.
var peerOptions = map[string]func(c *peerCall, s *settings){
	"pidfile":   func(*peerCall, *settings) {},
	"subreaper": func(*peerCall, *settings) {},
	// Under tini and catatonit the default; -g wins (c.given). Under
	// dumb-init it is -c, read with its own variables (options_dumbinit.go).
	"single-child": func(c *peerCall, _ *settings) { c.cfg.SingleChild = true },
	"remap-exit":   func(c *peerCall, s *settings) { c.cfg.RemapExit = append(c.cfg.RemapExit, s.remapExit...) },
	"warn-on-reap": func(c *peerCall, _ *settings) { c.cfg.WarnOnReap = true },
	"pdeathsig":    func(c *peerCall, s *settings) { c.pdeathsig = s.pdeathsig },
	"rewrite": func(c *peerCall, s *settings) {
		// The peer's -r and its own rules (dumb-init's SIGSTOP for the
		// job-control signals, catatonit's drops) win.
		for from, to := range s.rewrites {
			if _, ok := c.cfg.Rewrites[from]; !ok {
				if c.cfg.Rewrites == nil {
					c.cfg.Rewrites = forward.Rewrites{}
				}
				c.cfg.Rewrites[from] = to
			}
		}
	},
	"delay":           func(c *peerCall, s *settings) { c.cfg.Delays = s.delays },
	"grace":           func(c *peerCall, s *settings) { c.cfg.Grace = s.grace },
	"wait-all":        func(c *peerCall, _ *settings) { c.cfg.WaitAll = true },
	"termination-log": func(c *peerCall, s *settings) { c.cfg.TerminationLog = s.termLog },
	"user":            func(c *peerCall, s *settings) { c.cfg.User = s.user() },
	"no-new-privs":    func(c *peerCall, _ *settings) { c.cfg.NoNewPrivs = true },
	"log-level":       func(c *peerCall, s *settings) { c.logLevel = *s.logLevel },
	"log-format":      func(c *peerCall, s *settings) { c.logFormat = s.logFormat },
	// The verdict of issue 21, for `docker run --init -e PIDONE_EXIT_REPORT=...`.
	"exit-report": func(c *peerCall, s *settings) { c.cfg.ExitReport = s.exitReport },
	// The live status, for `docker run --init -e PIDONE_CONTROL_SOCKET=...`
	// and then `docker exec c pidone ctl status`.
	"control-socket": func(c *peerCall, s *settings) { c.cfg.ControlSocket = s.controlSocket },
	"fail-on-leftovers": func(c *peerCall, s *settings) {
		c.cfg.FailOnLeftovers, c.cfg.LeftoversCode = true, s.exitCodeOnLeftovers()
	},
}

// peerUnavailable reports whether long is one of pidone's own modes, which
// a peer's run does not have.
func peerUnavailable(long string) bool {
	return long == "pause" || isWorkersOption(long) && long != "pidfile"
}

package cli

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pidone/pidone/forward"
	supervisor "github.com/pidone/pidone/init"
	"github.com/pidone/pidone/logging"
)

// tini 0.19 (Docker's --init, installed as docker-init): see
// docs/personalities.md for what differs and why.

// tiniVersion is the tini release whose interface this personality follows.
const tiniVersion = "0.19.0"

func tiniVersionLine() string {
	// dockerd runs `docker-init --version` for `docker info` and parses
	// "tini version X - git.C" (moby's parseInitVersion).
	return "tini version " + tiniVersion + " - git." + initCommit(version, commit)
}

var tiniOptions = []option{
	{'h', "", "", "print this help and exit", func(s *settings, _ string) error { s.showHelp = true; return nil }},
	{'s', "", "", "register as a child subreaper (pidone always is when not PID 1)", func(s *settings, _ string) error { s.subreaperAsked = true; return nil }},
	{'p', "", "SIGNAL", `signal pidone gets when its parent dies, e.g. "-p SIGKILL"`, func(s *settings, v string) (err error) {
		s.pdeathsig, err = forward.Parse(v)
		return err
	}},
	{'v', "", "", "more log output; repeat up to 3 times", func(s *settings, _ string) error { s.peerVerbosity++; return nil }},
	{'w', "", "", "log a warning for every reaped orphan", func(s *settings, _ string) error { s.warnOnReap = true; return nil }},
	{'g', "", "", "forward signals to the child's process group, not only the child", func(s *settings, _ string) error { s.signalGroup = true; return nil }},
	{'e', "", "EXIT_CODE", "report the child's EXIT_CODE (0 to 255) as 0; repeatable", func(s *settings, v string) error {
		code, err := strconv.Atoi(v)
		if err != nil || code < 0 || code > 255 {
			return fmt.Errorf("not a number from 0 to 255")
		}
		s.remapExit = append(s.remapExit, code)
		return nil
	}},
	{'l', "", "", "print the licence and exit", func(s *settings, _ string) error { s.showLicense = true; return nil }},
}

// parseTini reads tini's command line and environment. argv0 is as
// invoked: getopt's messages name it so, tini's usage by its base name.
func parseTini(argv0 string, args []string, env envFunc) peerCall {
	name := filepath.Base(argv0)
	// tini takes --version only as the one and only argument.
	if len(args) == 1 && args[0] == "--version" {
		return printExit(0, tiniVersionLine()+"\n", "")
	}
	s := defaultSettings()
	s.peerVerbosity = 1 // tini's default: warnings
	if oe := parseInto(s, args, tiniOptions, getoptSyntax); oe != nil {
		// A bad value of -p or -e gets one fatal line, anything else
		// getopt's line and the usage text, both on stderr and with
		// status 1.
		if oe.mistake == badValue {
			return printExit(usageExit, "", logging.PeerPrefix(logging.StyleTini, slog.LevelError)+
				"Not a valid option for "+oe.option+": "+oe.value+"\n")
		}
		return printExit(usageExit, "", oe.getoptMessage(argv0)+tiniUsage(name))
	}
	switch {
	case s.showHelp:
		return printExit(0, tiniUsage(name), "")
	case s.showLicense:
		return printExit(0, licence(name), "")
	case len(s.command) == 0:
		return printExit(usageExit, "", tiniUsage(name))
	}
	// Before the environment: what the command line said about the
	// options PIDONE_ variables also set (environment.go).
	verbosityAsked := s.peerVerbosity != 1
	// tini reads its environment after its options: TINI_VERBOSITY
	// replaces -v, the two others only add.
	if _, ok := env("TINI_SUBREAPER"); ok {
		s.subreaperAsked = true
	}
	if _, ok := env("TINI_KILL_PROCESS_GROUP"); ok {
		s.signalGroup = true
	}
	if v, ok := env("TINI_VERBOSITY"); ok {
		s.peerVerbosity, verbosityAsked = atoi(v), true
	}
	return peerCall{
		cfg: supervisor.Config{
			Command:     s.command,
			SingleChild: !s.signalGroup,
			RemapExit:   s.remapExit,
			WarnOnReap:  s.warnOnReap,
			// tini exits as soon as the main child does, and the kernel
			// SIGKILLs what is left of its PID namespace; pidone kills
			// it itself, also when it is only a subreaper.
			Grace:      0,
			Session:    supervisor.Foreground,
			JobControl: supervisor.JobForward,
		},
		logStyle:  logging.StyleTini,
		logLevel:  tiniLevel(s.peerVerbosity),
		pdeathsig: s.pdeathsig,
		given:     map[string]bool{"single-child": s.signalGroup, "pdeathsig": s.pdeathsig != 0, "log-level": verbosityAsked},
		startFailed: func(e *supervisor.StartError) (string, int) {
			// execvp's errno decides: ENOENT 127, EACCES 126, else 1.
			code := 1
			switch {
			case e.NotFound():
				code = supervisor.ExitNotFound
			case e.PermissionDenied():
				code = supervisor.ExitNotExecutable
			}
			return fmt.Sprintf("exec %s failed: %s", e.Command, strerror(e)), code
		},
	}
}

// tiniLevel maps tini's verbosity (0 fatal only, 1 warnings, 2 info, 3 debug)
// to a log level.
func tiniLevel(v int) slog.Level {
	switch {
	case v <= 0:
		return slog.LevelError
	case v == 1:
		return slog.LevelWarn
	case v == 2:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

// atoi is C's atoi(3): leading blanks, an optional sign, digits; anything
// else ends the number, and no digits at all is 0.
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' || n > 1<<30 {
			break
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		return -n
	}
	return n
}

func tiniUsage(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)\n", name, tiniVersionLine())
	fmt.Fprintf(&b, "Usage: %s [OPTIONS] PROGRAM -- [ARGS] | --version\n\n", name)
	fmt.Fprintf(&b, "Runs PROGRAM under an init that reaps orphans and forwards signals\n(pidone %s, installed as %s).\n\n", version, name)
	b.WriteString("Command line options:\n\n  --version: print the version and exit.\n")
	for _, o := range tiniOptions {
		opt := "-" + string(o.short)
		if o.value != "" {
			opt += " " + o.value
		}
		fmt.Fprintf(&b, "  %s: %s.\n", opt, o.help)
	}
	b.WriteString("\nEnvironment variables:\n\n" +
		"  TINI_SUBREAPER: same as -s.\n" +
		"  TINI_VERBOSITY: the verbosity, 0 to 3 (default: 1).\n" +
		"  TINI_KILL_PROCESS_GROUP: same as -g.\n\n")
	return b.String()
}

package cli

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/pidone/pidone/forward"
	supervisor "github.com/pidone/pidone/init"
	"github.com/pidone/pidone/logging"
	"golang.org/x/sys/unix"
)

// dumb-init 1.2.5: see docs/personalities.md for what differs and why.

const dumbInitVersion = "1.2.5"

// dumbInitOptions are in dumb-init's order, which getopt_long lists the
// candidates of an ambiguous abbreviation in.
var dumbInitOptions = []option{
	{'h', "help", "", "Print this help message and exit.", func(s *settings, _ string) error { s.showHelp = true; return nil }},
	{'c', "single-child", "", "Run in single-child mode: signals go to the direct child only.", func(s *settings, _ string) error { s.noSetsid = true; return nil }},
	{'r', "rewrite", "s:r", "Rewrite received signal s to new signal r before proxying; r 0 drops it. Repeatable.", func(s *settings, v string) error {
		from, to, err := forward.ParseRewrite(v)
		if err != nil {
			return err
		}
		if s.rewrites == nil {
			s.rewrites = forward.Rewrites{}
		}
		s.rewrites[from] = to
		return nil
	}},
	{'v', "verbose", "", "Print debugging information to stderr.", func(s *settings, _ string) error { s.peerDebug = true; return nil }},
	{'V', "version", "", "Print the current version and exit.", func(s *settings, _ string) error { s.showVersion = true; return nil }},
}

// rewriteUsage is what a bad -r value gets. dumb-init's own line says
// "<signum> is between 1 and 31"; this one starts with the same words but
// says what pidone accepts (docs/personalities.md).
const rewriteUsage = "Usage: -r option takes <signum>:<signum>, where <signum> is a signal " +
	"number or name (1 to 64; the target may be 0 or none to drop it).\n" +
	"This option can be specified multiple times.\nUse --help for full usage.\n"

// parseDumbInit reads dumb-init's command line and environment. argv0 is
// as invoked: dumb-init names itself so, as getopt does.
func parseDumbInit(argv0 string, args []string, env envFunc) peerCall {
	s := defaultSettings()
	if oe := parseInto(s, args, dumbInitOptions, getoptLongSyntax); oe != nil {
		// getopt_long's line alone, or for a bad -r value the usage of -r.
		if oe.mistake == badValue {
			return printExit(usageExit, "", rewriteUsage)
		}
		return printExit(usageExit, "", oe.getoptMessage(argv0))
	}
	switch {
	case s.showHelp:
		return printExit(0, "", dumbInitHelp(argv0))
	case s.showVersion:
		// dumb-init prints its version on stderr.
		return printExit(0, "", fmt.Sprintf("dumb-init v%s (pidone %s)\n", dumbInitVersion, version))
	case len(s.command) == 0:
		return printExit(usageExit, "", fmt.Sprintf("Usage: %s [option] program [args]\nTry %s --help for full usage.\n", argv0, argv0))
	}
	if v, ok := env("DUMB_INIT_DEBUG"); ok && v == "1" {
		s.peerDebug = true
	}
	if v, ok := env("DUMB_INIT_SETSID"); ok && v == "0" {
		s.noSetsid = true
	}
	// --single-child is dumb-init's -c: its variable is too
	// (environment.go).
	if v, _ := env(envName("single-child")); v == "1" || v == "true" {
		s.noSetsid = true
	}
	session := supervisor.NewSession
	if s.noSetsid {
		session = supervisor.SameGroup
	} else {
		// In its own session the child's process group is orphaned, and
		// the kernel discards a SIGTSTP, SIGTTIN or SIGTTOU whose default
		// action would stop it; so dumb-init sends SIGSTOP instead,
		// unless -r says otherwise.
		for _, sig := range []unix.Signal{unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU} {
			if _, set := s.rewrites[sig]; !set {
				if s.rewrites == nil {
					s.rewrites = forward.Rewrites{}
				}
				s.rewrites[sig] = unix.SIGSTOP
			}
		}
	}
	level := slog.LevelError
	if s.peerDebug {
		level = slog.LevelDebug
	}
	return peerCall{
		cfg: supervisor.Config{
			Command: s.command,
			// setsid mode signals the child's session (its process
			// group); -c the child alone.
			SingleChild: s.noSetsid,
			Rewrites:    s.rewrites,
			// dumb-init sends SIGTERM to the group and exits when the
			// child exits; pidone kills what is left (see the docs).
			Grace:      0,
			Session:    session,
			JobControl: supervisor.JobSuspendSelf,
			RootDir:    true, // dumb-init changes to / once its child runs
		},
		logStyle: logging.StyleDumbInit,
		logLevel: level,
		given:    map[string]bool{"single-child": true, "log-level": s.peerDebug},
		startFailed: func(e *supervisor.StartError) (string, int) {
			return fmt.Sprintf("%s: %s", e.Command, strerror(e)), 2
		},
	}
}

func dumbInitHelp(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dumb-init v%s (pidone %s)\n", dumbInitVersion, version)
	fmt.Fprintf(&b, "Usage: %s [option] command [[arg] ...]\n\n", name)
	b.WriteString("Runs command as a child and forwards signals to it (its whole session by\ndefault); reaps every orphan.\n\nOptional arguments:\n")
	for _, o := range dumbInitOptions {
		opt := fmt.Sprintf("-%c, --%s", o.short, o.long)
		if o.value != "" {
			opt += " " + o.value
		}
		fmt.Fprintf(&b, "   %-20s %s\n", opt, o.help)
	}
	b.WriteString("\nEnvironment: DUMB_INIT_SETSID=0 is -c; DUMB_INIT_DEBUG=1 is -v.\n")
	return b.String()
}

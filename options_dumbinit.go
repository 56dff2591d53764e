package main

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

var dumbInitOptions = []option{
	{'h', "help", "", "Print this help message and exit.", func(s *settings, _ string) error { s.showHelp = true; return nil }},
	{'v', "verbose", "", "Print debugging information to stderr.", func(s *settings, _ string) error { s.peerDebug = true; return nil }},
	{'V', "version", "", "Print the current version and exit.", func(s *settings, _ string) error { s.showVersion = true; return nil }},
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
}

// parseDumbInit reads dumb-init's command line and environment.
func parseDumbInit(name string, args []string, env envFunc) peerCall {
	s := defaultSettings()
	if err := parseInto(s, args, dumbInitOptions); err != nil {
		if strings.Contains(err.Error(), "-r: ") || strings.Contains(err.Error(), "--rewrite: ") {
			return printExit(usageExit, "", "Usage: -r option takes <signum>:<signum>, where <signum> is a signal "+
				"number or name (1 to 64; the target may be 0 or none to drop it).\n"+
				"This option can be specified multiple times.\nUse --help for full usage.\n")
		}
		return printExit(usageExit, "", name+": "+err.Error()+"\n")
	}
	switch {
	case s.showHelp:
		return printExit(0, "", dumbInitHelp(name))
	case s.showVersion:
		// dumb-init prints its version on stderr.
		return printExit(0, "", fmt.Sprintf("dumb-init v%s (pidone %s)\n", dumbInitVersion, version))
	case len(s.command) == 0:
		return printExit(usageExit, "", fmt.Sprintf("Usage: %s [option] program [args]\nTry %s --help for full usage.\n", name, name))
	}
	if v, ok := env("DUMB_INIT_DEBUG"); ok && v == "1" {
		s.peerDebug = true
	}
	if v, ok := env("DUMB_INIT_SETSID"); ok && v == "0" {
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

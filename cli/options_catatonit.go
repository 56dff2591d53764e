package cli

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/pidone/pidone/forward"
	supervisor "github.com/pidone/pidone/init"
	"github.com/pidone/pidone/logging"
	"golang.org/x/sys/unix"
)

// catatonit 0.1.7 (podman's --init): see docs/personalities.md for what
// differs and why.

const catatonitVersion = "0.1.7"

var catatonitOptions = []option{
	{'g', "", "", "Forward signals to pid1's process group.", func(s *settings, _ string) error { s.signalGroup = true; return nil }},
	{'h', "", "", "Print this help page.", func(s *settings, _ string) error { s.showHelp = true; return nil }},
	{'L', "", "", "Print license information.", func(s *settings, _ string) error { s.showLicense = true; return nil }},
	{'P', "", "", "Run in pause mode (no program is run and quit on SIGINT or SIGTERM).", func(s *settings, _ string) error { s.pause = true; return nil }},
	{'V', "version", "", "Print version information.", func(s *settings, _ string) error { s.showVersion = true; return nil }},
}

// catatonitUsage is catatonit's usage line, which names it so under any
// argv[0].
const catatonitUsage = "usage: catatonit [-ghLPV] [--] <progname> [<arguments>...]\n"

// parseCatatonit reads catatonit's command line and environment. argv0 is
// as invoked, which getopt_long's messages name.
func parseCatatonit(argv0 string, args []string, env envFunc) peerCall {
	name := filepath.Base(argv0)
	errorLine := func(msg string) string {
		return logging.PeerPrefix(logging.StyleCatatonit, slog.LevelError) + msg + "\n"
	}
	if _, ok := env("CATATONIT_LOG"); ok {
		return printExit(usageExit, "", errorLine("CATATONIT_LOG is reserved for future use"))
	}
	s := defaultSettings()
	// No option of catatonit's takes a value: every mistake is
	// getopt_long's, followed by the usage line.
	if oe := parseInto(s, args, catatonitOptions, getoptLongSyntax); oe != nil {
		return printExit(usageExit, "", oe.getoptMessage(argv0)+catatonitUsage)
	}
	switch {
	case s.showHelp:
		return printExit(0, "", catatonitHelp(argv0))
	case s.showLicense:
		return printExit(0, licence(name), "")
	case s.showVersion:
		// "tini version" on purpose: Docker reads the version of its
		// init binary in that shape, and catatonit answers it so.
		return printExit(0, fmt.Sprintf("tini version %s_catatonit\n", catatonitVersion), "")
	case len(s.command) == 0 && !s.pause:
		return printExit(usageExit, "", errorLine("missing program name")+catatonitUsage)
	}
	level := slog.LevelError
	_, debug := env("CATATONIT_DEBUG")
	if debug {
		level = slog.LevelDebug
	}
	command := s.command
	if s.pause {
		command = nil // catatonit -P runs nothing, whatever follows
	}
	return peerCall{
		cfg: supervisor.Config{
			Command:     command,
			Pause:       s.pause,
			SingleChild: !s.signalGroup,
			// catatonit neither forwards nor obeys the job-control
			// signals sent to it.
			Rewrites: forward.Rewrites{unix.SIGTSTP: forward.Drop, unix.SIGTTIN: forward.Drop, unix.SIGTTOU: forward.Drop},
			// Pause mode quits on SIGINT or SIGTERM; with a program both
			// are forwarded, and pidone exits when the program does,
			// killing what is left as the kernel would.
			StopOnRequest:  s.pause,
			Grace:          0,
			Session:        supervisor.Foreground,
			JobControl:     supervisor.JobForward,
			ListenPID:      true,
			CloseInherited: true,
			RootDir:        true, // catatonit after 0.2.0
		},
		logStyle: logging.StyleCatatonit,
		logLevel: level,
		given:    map[string]bool{"single-child": s.signalGroup, "log-level": debug},
		startFailed: func(e *supervisor.StartError) (string, int) {
			return "failed to exec pid1: " + strerror(e), 1
		},
	}
}

func catatonitHelp(argv0 string) string {
	var b strings.Builder
	b.WriteString(catatonitUsage + "\noptions:\n")
	for _, o := range catatonitOptions {
		opt := "-" + string(o.short)
		if o.long != "" {
			opt += ", --" + o.long
		}
		fmt.Fprintf(&b, "  %-15s %s\n", opt, o.help)
	}
	fmt.Fprintf(&b, "\npidone %s, installed as %s.\n", version, argv0)
	return b.String()
}

package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/pidone/pidone/forward"
	"github.com/pidone/pidone/workers"
)

// Fuzz targets for the command lines pidone reads: its own, and those of
// the peers it stands in for. An argv is fuzzed as one string whose words
// are separated by NUL (no argv word can hold a NUL), an environment as
// NUL-separated NAME=VALUE entries.

func words(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

func envOf(s string) envFunc {
	env := map[string]string{}
	for _, kv := range words(s) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func FuzzParseArgs(f *testing.F) {
	for _, argv := range [][]string{
		{"app", "-x"},
		{"-cwvv", "--", "-app"},
		{"-e143", "-e", "3", "--remap-exit=4", "app"},
		{"-r", "TERM:QUIT", "--rewrite", "10:none", "-rRTMIN+1:RTMIN+2", "--delay", "TERM:5s", "app"},
		{"--grace", "1m30s", "--wait-all", "--termination-log=/dev/termination-log", "app"},
		{"--pause", "--grace=0"},
		{"--workers", "auto", "--pidfile", "/run/p", "--restart", "on-failure", "--give-up", "5/60s", "--fatal-exit", "3,78", "--", "app"},
		{"--config", "/etc/w.json", "--reload", "replace", "--reload-signal", "USR1", "--backoff-min", "10ms"},
		{"--user", "0:0", "--no-new-privs", "app"},
		{"--pidfile", "", "--workers", "1", "app"},
		{"-p", "RTMIN++3", "app"},
		{"--log-level=debug", "--log-format", "json", "-h"},
		{"-e"}, {"--"}, {"-"}, {"--="}, {"--version"},
	} {
		f.Add(strings.Join(argv, "\x00"))
	}
	f.Fuzz(func(t *testing.T, argv string) {
		s, err := parseArgs(words(argv), pidoneOptions)
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("parseArgs: %T %v, want a usage error", err, err)
			}
			// "unknown option --NAME" echoes the name as given (the
			// long-option parser's, outside this fuzz target's reach).
			// Two values at most, each cut to 64 bytes that %q may spell
			// with 4 characters a byte.
			if len(err.Error()) > 2*(4*64+30)+200 && !strings.HasPrefix(err.Error(), "unknown option --") {
				t.Fatalf("a %d-byte error message: %.200q", len(err.Error()), err)
			}
			return
		}
		if s.showHelp || s.showVersion {
			return
		}
		switch {
		case len(s.command) == 0 && !s.pause && !s.workersNeedNoCommand():
			t.Fatalf("no command accepted: %+v", s)
		case s.grace < 0:
			t.Fatalf("negative grace: %v", s.grace)
		case s.pdeathsig != 0 && !forward.Catchable(s.pdeathsig):
			t.Fatalf("pdeathsig %d", s.pdeathsig)
		case s.userSet && s.userGroups == nil:
			t.Fatalf("--user with nil groups")
		}
		for _, c := range s.remapExit {
			if c < 0 || c > 255 {
				t.Fatalf("remap-exit %d", c)
			}
		}
		for from, to := range s.rewrites {
			if !forward.Forwardable(from) || to < 0 || to > 64 {
				t.Fatalf("rewrite %d:%d", from, to)
			}
		}
		for sig, d := range s.delays {
			if !forward.Forwardable(sig) || d < 0 {
				t.Fatalf("delay %d:%v", sig, d)
			}
		}
		if w := s.workers; w != nil {
			if w.Count.N < 0 || w.Count.N > workers.MaxWorkers {
				t.Fatalf("--workers %d", w.Count.N)
			}
		}
	})
}

// fuzzPeer is the target of one personality's parser.
func fuzzPeer(f *testing.F, name string, parse func(string, []string, envFunc) peerCall, seeds [][2]string) {
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, argv, env string) {
		c := parse(name, words(argv), envOf(env))
		switch {
		case c.exit && c.code != 0 && c.code != usageExit:
			t.Fatalf("%s %q: exit %d, want 0 or %d", name, argv, c.code, usageExit)
		case !c.exit && len(c.cfg.Command) == 0 && !c.cfg.Pause:
			t.Fatalf("%s %q: a run with no command", name, argv)
		case !c.exit && c.startFailed == nil:
			t.Fatalf("%s %q: a run without its start-failure rule", name, argv)
		}
	})
}

func FuzzParseTini(f *testing.F) {
	fuzzPeer(f, "tini", parseTini, [][2]string{
		{"--\x00app", ""}, {"-s\x00-g\x00-vvv\x00-w\x00-e\x00143\x00-p\x00SIGTERM\x00app", "TINI_VERBOSITY=3"},
		{"--version", ""}, {"-h", ""}, {"-l", ""}, {"-p\x00KILL\x00app", ""}, {"-e\x00x\x00app", ""}, {"-x", ""}, {"", "TINI_SUBREAPER=\x00TINI_KILL_PROCESS_GROUP=1"},
	})
}

func FuzzParseDumbInit(f *testing.F) {
	fuzzPeer(f, "dumb-init", parseDumbInit, [][2]string{
		{"app", ""}, {"-c\x00-v\x00-r\x0015:3\x00--rewrite\x00TERM:0\x00app", "DUMB_INIT_SETSID=0\x00DUMB_INIT_DEBUG=1"},
		{"-V", ""}, {"--help", ""}, {"-r\x00x\x00app", ""}, {"--single-child=1", ""}, {"", ""},
	})
}

func FuzzParseCatatonit(f *testing.F) {
	fuzzPeer(f, "catatonit", parseCatatonit, [][2]string{
		{"--\x00app", ""}, {"-g\x00app", "CATATONIT_DEBUG=1"}, {"-P", ""}, {"-P\x00app", ""}, {"-V", ""}, {"-L", ""}, {"-h", ""},
		{"app", "CATATONIT_LOG=x"}, {"-x", ""}, {"", ""},
	})
}

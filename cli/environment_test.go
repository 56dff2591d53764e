package cli

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pidone/pidone/forward"
	supervisor "github.com/pidone/pidone/init"
	"github.com/pidone/pidone/internal/clip"
	"golang.org/x/sys/unix"
)

func TestEnvName(t *testing.T) {
	for long, want := range map[string]string{
		"grace": "PIDONE_GRACE", "log-format": "PIDONE_LOG_FORMAT", "warn-on-reap": "PIDONE_WARN_ON_REAP",
		"backoff-min": "PIDONE_BACKOFF_MIN",
	} {
		if got := envName(long); got != want {
			t.Errorf("envName(%q) = %q, want %q", long, got, want)
		}
	}
}

// Every long option but --help and --version has a variable, the workers
// options included, and no two options share one.
func TestEveryLongOptionHasAVariable(t *testing.T) {
	seen := map[string]string{}
	for _, o := range pidoneOptions {
		if o.long == "" {
			continue
		}
		has := slices.ContainsFunc(envOptions(pidoneOptions), func(e option) bool { return e.long == o.long })
		if want := !slices.Contains(notFromEnvironment, o.long); has != want {
			t.Errorf("--%s: has a variable %v, want %v", o.long, has, want)
		}
		name := envName(o.long)
		if prev, dup := seen[name]; dup {
			t.Errorf("--%s and --%s are both %s", prev, o.long, name)
		}
		if slices.Contains(reservedEnv, name) && has {
			t.Errorf("%s is reserved and an option's variable", name)
		}
		seen[name] = o.long
	}
	for _, long := range append(append([]string{}, repeatableOptions...), "workers", "pidfile", "listen") {
		if _, ok := seen[envName(long)]; !ok {
			t.Errorf("--%s is not in the table", long)
		}
	}
}

// The list syntax is for exactly the options whose help says repeatable.
func TestRepeatableOptions(t *testing.T) {
	for _, o := range pidoneOptions {
		if o.long == "" {
			continue
		}
		if says, listed := strings.Contains(o.help, "repeatable"), slices.Contains(repeatableOptions, o.long); says != listed {
			t.Errorf("--%s: help says repeatable %v, repeatableOptions %v", o.long, says, listed)
		}
	}
}

// hostileName would forge a log line if echoed raw, and flood it whole.
var hostileName = "PIDONE_X\n[WARN] forged" + strings.Repeat("A", 100000)

// pidone's own mode: the environment under the command line.
func TestEnvironmentPidone(t *testing.T) {
	usageErr := func(want string) func(*testing.T, Config) {
		return func(t *testing.T, c Config) {
			t.Helper()
			if c.Mode != Print || c.Code != ExitUsage || !strings.HasPrefix(c.Stderr, "pidone: "+want+"\n") {
				t.Errorf("got mode %d code %d stderr %q, want it to begin %q", c.Mode, c.Code, c.Stderr, "pidone: "+want)
			}
		}
	}
	supervise := func(check func(supervisor.Config) bool) func(*testing.T, Config) {
		return func(t *testing.T, c Config) {
			t.Helper()
			if c.Mode != Supervise || !check(c.Supervisor) {
				t.Errorf("got mode %d code %d stderr %q, supervisor %+v", c.Mode, c.Code, c.Stderr, c.Supervisor)
			}
		}
	}
	tests := []struct {
		doc     string
		environ []string
		args    []string
		check   func(*testing.T, Config)
	}{
		{"PIDONE_GRACE", []string{"PIDONE_GRACE=10s"}, []string{"app"},
			supervise(func(s supervisor.Config) bool { return s.Grace == 10*time.Second })},
		{"an optional value: true is the option alone", []string{"PIDONE_FAIL_ON_LEFTOVERS=true"}, []string{"app"},
			supervise(func(s supervisor.Config) bool { return s.FailOnLeftovers && s.LeftoversCode == DefaultLeftoversCode })},
		{"an optional value: a CODE", []string{"PIDONE_FAIL_ON_LEFTOVERS=7", "PIDONE_EXIT_REPORT=/tmp/report.json"}, []string{"app"},
			supervise(func(s supervisor.Config) bool {
				return s.FailOnLeftovers && s.LeftoversCode == 7 && s.ExitReport == "/tmp/report.json"
			})},
		{"PIDONE_CONTROL_SOCKET", []string{"PIDONE_CONTROL_SOCKET=/tmp/pidone.sock"}, []string{"app"},
			supervise(func(s supervisor.Config) bool { return s.ControlSocket == "/tmp/pidone.sock" })},
		{"the command line wins", []string{"PIDONE_GRACE=10s"}, []string{"--grace", "1s", "app"},
			supervise(func(s supervisor.Config) bool { return s.Grace == time.Second })},
		{"an empty variable is unset", []string{"PIDONE_GRACE=", "PIDONE_LOG_FORMAT="}, []string{"app"},
			supervise(func(s supervisor.Config) bool { return s.Grace == supervisor.DefaultGrace })},
		{"a flag: 1", []string{"PIDONE_WARN_ON_REAP=1", "PIDONE_WAIT_ALL=true"}, []string{"app"},
			supervise(func(s supervisor.Config) bool { return s.WarnOnReap && s.WaitAll })},
		{"a flag: 0", []string{"PIDONE_WARN_ON_REAP=0", "PIDONE_SINGLE_CHILD=false"}, []string{"app"},
			supervise(func(s supervisor.Config) bool { return !s.WarnOnReap && !s.SingleChild })},
		{"a flag: 0 does not undo the command line", []string{"PIDONE_WARN_ON_REAP=0"}, []string{"-w", "app"},
			supervise(func(s supervisor.Config) bool { return s.WarnOnReap })},
		{"a list, then the command line's", []string{"PIDONE_REMAP_EXIT=3  4", "PIDONE_REWRITE=TERM:QUIT USR1:none"}, []string{"-e", "5", "-r", "TERM:INT", "app"},
			supervise(func(s supervisor.Config) bool {
				return slices.Equal(s.RemapExit, []int{3, 4, 5}) && s.Rewrites[unix.SIGTERM] == unix.SIGINT && s.Rewrites[unix.SIGUSR1] == forward.Drop
			})},
		{"others' PIDONE_ names are not options", []string{"PIDONE_BIN=/x", "PIDONE_WORKER_INDEX=0", "PIDONE_TEST_ENTRY=1"}, []string{"app"},
			supervise(func(supervisor.Config) bool { return true })},
		{"PIDONE_PIDFILE alone keeps a single command", []string{"PIDONE_PIDFILE=/run/p"}, []string{"app"},
			supervise(func(supervisor.Config) bool { return true })},
		{"PIDONE_WORKERS", []string{"PIDONE_WORKERS=2", "PIDONE_PIDFILE=/run/p"}, []string{"app"}, func(t *testing.T, c Config) {
			if o := c.Workers.Options; c.Mode != Master || o.Count.N != 2 || o.Pidfile != "/run/p" {
				t.Errorf("got mode %d %q, workers %+v", c.Mode, c.Stderr, o)
			}
		}},
		{"PIDONE_PIDFILE with --workers", []string{"PIDONE_PIDFILE=/run/p"}, []string{"--workers", "2", "app"}, func(t *testing.T, c Config) {
			if o := c.Workers.Options; c.Mode != Master || o.Pidfile != "/run/p" {
				t.Errorf("got mode %d %q, workers %+v", c.Mode, c.Stderr, o)
			}
		}},
		{"--pidfile wins over PIDONE_PIDFILE", []string{"PIDONE_PIDFILE=/run/p"}, []string{"--workers", "2", "--pidfile", "/run/q", "app"}, func(t *testing.T, c Config) {
			if o := c.Workers.Options; c.Mode != Master || o.Pidfile != "/run/q" {
				t.Errorf("got mode %d %q, workers %+v", c.Mode, c.Stderr, o)
			}
		}},
		{"a workers variable without workers mode", []string{"PIDONE_RESTART=never"}, []string{"app"},
			usageErr("workers options need --workers, --config or --spec (PIDONE_RESTART)")},
		{"PIDONE_PAUSE with a command", []string{"PIDONE_PAUSE=1"}, []string{"app"},
			usageErr(`--pause (PIDONE_PAUSE) runs no command, but "app" was given`)},
		{"a bad value names the variable", []string{"PIDONE_GRACE=soon"}, []string{"app"},
			usageErr(`PIDONE_GRACE: "soon" is not a duration such as 500ms, 5s or 1m`)},
		{"a bad flag value", []string{"PIDONE_WARN_ON_REAP=yes"}, []string{"app"},
			usageErr(`PIDONE_WARN_ON_REAP: "yes" is not 1, true, 0 or false`)},
		{"a bad list item", []string{"PIDONE_REMAP_EXIT=3 300"}, []string{"app"},
			usageErr(`PIDONE_REMAP_EXIT: exit code "300" is not a number from 0 to 255`)},
		{"unknown, with a suggestion", []string{"PIDONE_GRAC=1s"}, []string{"app"},
			usageErr("PIDONE_GRAC: not an option of pidone's (PIDONE_<NAME> is --name: pidone --help)\ndid you mean PIDONE_GRACE?")},
		{"unknown, misspelt", []string{"PIDONE_LOG_FROMAT=json"}, []string{"app"},
			usageErr("PIDONE_LOG_FROMAT: not an option of pidone's (PIDONE_<NAME> is --name: pidone --help)\ndid you mean PIDONE_LOG_FORMAT?")},
		{"a hostile name is cut and quoted", []string{hostileName + "=1"}, []string{"app"},
			usageErr(clip.Quote(hostileName) + ": not an option of pidone's (PIDONE_<NAME> is --name: pidone --help)")},
		{"--help has no variable", []string{"PIDONE_HELP=1"}, []string{"app"},
			usageErr("PIDONE_HELP: --help is not read from the environment")},
		{"--help answers whatever the environment holds", []string{"PIDONE_GRACE=soon"}, []string{"--help"}, func(t *testing.T, c Config) {
			if c.Mode != Print || c.Code != 0 || !strings.HasPrefix(c.Stdout, usageLine) {
				t.Errorf("got mode %d code %d stderr %q", c.Mode, c.Code, c.Stderr)
			}
		}},
		{"the command line's mistake first", []string{"PIDONE_GRACE=soon"}, []string{"--yolo", "app"},
			usageErr("unknown option --yolo")},
		{"ctl ignores the environment", []string{"PIDONE_GRACE=soon"}, []string{"ctl", "status"}, func(t *testing.T, c Config) {
			if c.Mode != Ctl {
				t.Errorf("got mode %d %q", c.Mode, c.Stderr)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			tt.check(t, Parse("pidone", tt.args, tt.environ))
		})
	}
}

// -v on the command line wins over PIDONE_LOG_LEVEL; --log-level too.
func TestEnvironmentLogLevel(t *testing.T) {
	tests := []struct {
		environ []string
		args    []string
		want    slog.Level
	}{
		{[]string{"PIDONE_LOG_LEVEL=debug"}, []string{"app"}, slog.LevelDebug},
		{[]string{"PIDONE_LOG_LEVEL=error"}, []string{"-v", "app"}, slog.LevelInfo},
		{[]string{"PIDONE_LOG_LEVEL=debug"}, []string{"--log-level", "error", "app"}, slog.LevelError},
	}
	for _, tt := range tests {
		s, err := parseArgsEnv(tt.args, tt.environ, pidoneOptions)
		if err != nil || s.level() != tt.want {
			t.Errorf("%q %q: level %v, %v; want %v", tt.environ, tt.args, s.level(), err, tt.want)
		}
	}
}

// Under a peer's name: the peer's command line and variables first, then
// pidone's variables for what the peer leaves open.
func TestEnvironmentPeers(t *testing.T) {
	type peerCase struct {
		doc     string
		argv0   string
		args    []string
		environ []string
		check   func(*testing.T, peerCall)
	}
	tests := []peerCase{
		{"docker-init: the verdict of a container test", "docker-init", []string{"--", "app"}, []string{"PIDONE_EXIT_REPORT=/tmp/report.json", "PIDONE_FAIL_ON_LEFTOVERS=true"}, func(t *testing.T, c peerCall) {
			if c.cfg.ExitReport != "/tmp/report.json" || !c.cfg.FailOnLeftovers || c.cfg.LeftoversCode != DefaultLeftoversCode {
				t.Errorf("report %q, fail on leftovers %v with %d", c.cfg.ExitReport, c.cfg.FailOnLeftovers, c.cfg.LeftoversCode)
			}
		}},
		{"docker-init: the live status", "docker-init", []string{"--", "app"}, []string{"PIDONE_CONTROL_SOCKET=/tmp/pidone.sock"}, func(t *testing.T, c peerCall) {
			if c.cfg.ControlSocket != "/tmp/pidone.sock" {
				t.Errorf("control socket %q", c.cfg.ControlSocket)
			}
		}},
		{"docker-init: PIDONE_GRACE", "docker-init", []string{"--", "app"}, []string{"PIDONE_GRACE=10s"}, func(t *testing.T, c peerCall) {
			if c.cfg.Grace != 10*time.Second {
				t.Errorf("grace %v", c.cfg.Grace)
			}
		}},
		{"docker-init: grace 0 without it", "docker-init", []string{"--", "app"}, nil, func(t *testing.T, c peerCall) {
			if c.cfg.Grace != 0 || c.logFormat != "" {
				t.Errorf("grace %v, format %q", c.cfg.Grace, c.logFormat)
			}
		}},
		{"tini: the log in pidone's JSON, at its level", "tini", []string{"app"}, []string{"PIDONE_LOG_FORMAT=json", "PIDONE_LOG_LEVEL=debug"}, func(t *testing.T, c peerCall) {
			if c.logFormat != "json" || c.logLevel != slog.LevelDebug {
				t.Errorf("format %q level %v", c.logFormat, c.logLevel)
			}
		}},
		{"tini: TINI_VERBOSITY wins over PIDONE_LOG_LEVEL", "tini", []string{"app"}, []string{"TINI_VERBOSITY=0", "PIDONE_LOG_LEVEL=debug"}, func(t *testing.T, c peerCall) {
			if c.logLevel != slog.LevelError {
				t.Errorf("level %v", c.logLevel)
			}
		}},
		{"tini: -v wins over PIDONE_LOG_LEVEL", "tini", []string{"-v", "app"}, []string{"PIDONE_LOG_LEVEL=error"}, func(t *testing.T, c peerCall) {
			if c.logLevel != slog.LevelInfo {
				t.Errorf("level %v", c.logLevel)
			}
		}},
		{"tini: -p wins over PIDONE_PDEATHSIG", "tini", []string{"-p", "SIGKILL", "app"}, []string{"PIDONE_PDEATHSIG=TERM"}, func(t *testing.T, c peerCall) {
			if c.pdeathsig != unix.SIGKILL {
				t.Errorf("pdeathsig %v", c.pdeathsig)
			}
		}},
		{"tini: -g wins over PIDONE_SINGLE_CHILD", "tini", []string{"-g", "app"}, []string{"PIDONE_SINGLE_CHILD=1"}, func(t *testing.T, c peerCall) {
			if c.cfg.SingleChild {
				t.Error("single child")
			}
		}},
		{"tini: lists add up, flags add", "tini", []string{"-e", "3", "app"}, []string{"PIDONE_REMAP_EXIT=4", "PIDONE_WARN_ON_REAP=1", "PIDONE_WAIT_ALL=1", "PIDONE_TERMINATION_LOG=/t", "PIDONE_NO_NEW_PRIVS=1", "PIDONE_DELAY=TERM:2s", "PIDONE_PDEATHSIG=TERM"}, func(t *testing.T, c peerCall) {
			if !slices.Equal(c.cfg.RemapExit, []int{3, 4}) || !c.cfg.WarnOnReap || !c.cfg.WaitAll || c.cfg.TerminationLog != "/t" ||
				!c.cfg.NoNewPrivs || c.cfg.Delays[unix.SIGTERM] != 2*time.Second || c.pdeathsig != unix.SIGTERM {
				t.Errorf("%+v", c)
			}
		}},
		{"tini: PIDONE_PIDFILE is ignored", "tini", []string{"app"}, []string{"PIDONE_PIDFILE=/run/p"}, func(t *testing.T, c peerCall) {
			if c.exit {
				t.Errorf("exit %d %q", c.code, c.stderr)
			}
		}},
		{"dumb-init: PIDONE_SINGLE_CHILD is -c", "dumb-init", []string{"app"}, []string{"PIDONE_SINGLE_CHILD=1"}, func(t *testing.T, c peerCall) {
			if !c.cfg.SingleChild || c.cfg.Session != supervisor.SameGroup {
				t.Errorf("single child %v, session %v", c.cfg.SingleChild, c.cfg.Session)
			}
		}},
		{"dumb-init: its own rewrites win", "dumb-init", []string{"-r", "15:3", "app"}, []string{"PIDONE_REWRITE=TERM:INT HUP:USR1"}, func(t *testing.T, c peerCall) {
			if c.cfg.Rewrites[unix.SIGTERM] != unix.SIGQUIT || c.cfg.Rewrites[unix.SIGHUP] != unix.SIGUSR1 || c.cfg.Rewrites[unix.SIGTSTP] != unix.SIGSTOP {
				t.Errorf("rewrites %v", c.cfg.Rewrites)
			}
		}},
		{"dumb-init: DUMB_INIT_DEBUG wins", "dumb-init", []string{"app"}, []string{"DUMB_INIT_DEBUG=1", "PIDONE_LOG_LEVEL=error"}, func(t *testing.T, c peerCall) {
			if c.logLevel != slog.LevelDebug {
				t.Errorf("level %v", c.logLevel)
			}
		}},
		{"catatonit: PIDONE_USER", "catatonit", []string{"app"}, []string{"PIDONE_USER=1000:1000"}, func(t *testing.T, c peerCall) {
			if c.cfg.User == nil || c.cfg.User.UID != 1000 || c.cfg.User.GID != 1000 {
				t.Errorf("user %+v", c.cfg.User)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			p := personalityOf(tt.argv0)
			c := p.parse(p.argv0, tt.args, lookupIn(tt.environ))
			if err := c.applyEnvironment(tt.environ); err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// A mistake in a PIDONE_ variable under a peer's name is the peer's usage
// error: its exit code (1), one line naming the variable.
func TestEnvironmentPeerMistakes(t *testing.T) {
	tests := []struct {
		argv0   string
		environ []string
		want    string
	}{
		{"docker-init", []string{"PIDONE_GRACE=soon"}, `docker-init: PIDONE_GRACE: "soon" is not a duration such as 500ms, 5s or 1m` + "\n"},
		{"/usr/bin/tini", []string{"PIDONE_LOG_FORMAT=yaml"}, "/usr/bin/tini: PIDONE_LOG_FORMAT: "},
		{"dumb-init", []string{"PIDONE_GRAEC=1s"}, "dumb-init: PIDONE_GRAEC: not an option of pidone's (PIDONE_<NAME> is --name: pidone --help)\ndid you mean PIDONE_GRACE?\n"},
		{"catatonit", []string{"PIDONE_WORKERS=2"}, "catatonit: PIDONE_WORKERS: --workers is pidone's own, not available under a peer's name (docs/personalities.md)\n"},
		{"tini", []string{"PIDONE_PAUSE=1"}, "tini: PIDONE_PAUSE: --pause is pidone's own"},
	}
	for _, tt := range tests {
		c := Parse(tt.argv0, []string{"app"}, tt.environ)
		if c.Mode != Print || c.Code != usageExit || c.Stdout != "" || !strings.HasPrefix(c.Stderr, tt.want) {
			t.Errorf("%s %q: mode %d code %d stderr %q, want it to begin %q", tt.argv0, tt.environ, c.Mode, c.Code, c.Stderr, tt.want)
		}
	}
	// The peer's help and version answer whatever the environment holds.
	if c := Parse("tini", []string{"-h"}, []string{"PIDONE_GRACE=soon"}); c.Code != 0 || c.Stdout == "" {
		t.Errorf("tini -h: code %d stderr %q", c.Code, c.Stderr)
	}
}

// Every option with a variable either has a meaning under a peer's name or
// is one of pidone's own modes: a new option must choose (a variable that
// is a usage error under docker-init is no use to docker run --init).
func TestPeerOptions(t *testing.T) {
	for _, o := range envOptions(pidoneOptions) {
		_, mapped := peerOptions[o.long]
		if mapped == peerUnavailable(o.long) {
			t.Errorf("--%s: in peerOptions %v, one of pidone's own modes %v: add it to peerOptions (cli/environment.go) or make it a mode", o.long, mapped, peerUnavailable(o.long))
		}
	}
}

// Whatever the environment holds, reading it never panics, and a mistake
// names a PIDONE_ variable.
func FuzzEnvironment(f *testing.F) {
	for _, seed := range []string{"PIDONE_GRACE=5s", "PIDONE_REWRITE=TERM:QUIT USR1:none", "PIDONE_WARN_ON_REAP=yes",
		"PIDONE_LISTEN=unix:/p,mode=0660", "PIDONE_=", "PIDONE_REMAP_EXIT=", "PIDONE_USER=0:0", "PIDONE_X\n=1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, kv string) {
		environ := []string{kv}
		if _, err := parseArgsEnv([]string{"app"}, environ, pidoneOptions); err != nil && !strings.Contains(err.Error(), envPrefix) {
			t.Errorf("%q: %v names no variable", kv, err)
		}
		for _, peer := range []string{"tini", "dumb-init", "catatonit"} {
			p := personalityOf(peer)
			c := p.parse(peer, []string{"app"}, lookupIn(environ))
			_ = c.applyEnvironment(environ)
		}
	})
}

package cli

import (
	"errors"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/pidone/pidone/forward"
	supervisor "github.com/pidone/pidone/init"
	"github.com/pidone/pidone/internal/entry"
	"github.com/pidone/pidone/spawn"
	"golang.org/x/sys/unix"
)

func env(kv ...string) envFunc {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestPersonalityOf(t *testing.T) {
	for argv0, want := range map[string]string{
		"/usr/bin/tini": "tini", "tini-static": "tini-static", "/sbin/docker-init": "docker-init",
		"./dumb-init": "dumb-init", "/usr/libexec/podman/catatonit": "catatonit",
	} {
		p := personalityOf(argv0)
		if p == nil || p.name != want || p.argv0 != argv0 {
			t.Errorf("personalityOf(%q) = %+v, want %s, invoked as %s", argv0, p, want, argv0)
		}
	}
	for _, argv0 := range []string{"pidone", "/pidone", "tini.sh", "init"} {
		if p := personalityOf(argv0); p != nil {
			t.Errorf("personalityOf(%q) = %s, want pidone's own", argv0, p.name)
		}
	}
}

// exitCase is a command line that ends at once: the exit code, and which
// stream must say what.
type exitCase struct {
	doc          string
	args         []string
	env          envFunc
	code         int
	stdout       string // substring; "" means stdout must stay empty
	stderr       string
	stdoutPrefix bool
}

func checkExits(t *testing.T, name string, parse func(string, []string, envFunc) peerCall, cases []exitCase) {
	t.Helper()
	for _, tc := range cases {
		if tc.env == nil {
			tc.env = env()
		}
		c := parse(name, tc.args, tc.env)
		if !c.exit {
			t.Errorf("%s %s (%q): runs the command, want exit %d", name, tc.doc, tc.args, tc.code)
			continue
		}
		if c.code != tc.code {
			t.Errorf("%s %s (%q): exit %d, want %d", name, tc.doc, tc.args, c.code, tc.code)
		}
		for _, s := range []struct{ stream, got, want string }{{"stdout", c.stdout, tc.stdout}, {"stderr", c.stderr, tc.stderr}} {
			if (s.want == "") != (s.got == "") || !strings.Contains(s.got, s.want) {
				t.Errorf("%s %s (%q): %s %q, want it to contain %q", name, tc.doc, tc.args, s.stream, s.got, s.want)
			}
		}
	}
}

func TestTiniCommandLines(t *testing.T) {
	checkExits(t, "tini", parseTini, []exitCase{
		{doc: "version alone", args: []string{"--version"}, code: 0, stdout: "tini version 0.19.0 - git."},
		{doc: "version with more arguments is an unknown option", args: []string{"--version", "--", "true"}, code: 1, stderr: "Usage: tini"},
		{doc: "help on stdout", args: []string{"-h"}, code: 0, stdout: "Usage: tini [OPTIONS] PROGRAM -- [ARGS] | --version"},
		{doc: "licence", args: []string{"-l"}, code: 0, stdout: "SPDX-License-Identifier: Apache-2.0"},
		{doc: "no program", args: nil, code: 1, stderr: "Usage: tini"},
		{doc: "unknown option", args: []string{"-Z", "--", "true"}, code: 1, stderr: "Usage: tini"},
		{doc: "bad -p", args: []string{"-p", "NOSUCH", "--", "true"}, code: 1, stderr: "] Not a valid option for -p: NOSUCH"},
		{doc: "bad -e", args: []string{"-e", "300", "--", "true"}, code: 1, stderr: "Not a valid option for -e: 300"},
		{doc: "bad -e attached", args: []string{"-eabc", "--", "true"}, code: 1, stderr: "Not a valid option for -e: abc"},
	})
	// docker-init names itself in its usage.
	if c := parseTini("docker-init", []string{"-h"}, env()); !strings.HasPrefix(c.stdout, "docker-init (tini version") {
		t.Errorf("docker-init -h: %q, want it to start with the invoked name", c.stdout)
	}

	for _, tc := range []struct {
		doc   string
		args  []string
		env   envFunc
		group bool
		warn  bool
		remap []int
		level slog.Level
		pdeat unix.Signal
	}{
		{"defaults: the child only, warnings", []string{"--", "app"}, env(), false, false, nil, slog.LevelWarn, 0},
		{"-g and -w and -e", []string{"-g", "-w", "-e", "143", "-e3", "app"}, env(), true, true, []int{143, 3}, slog.LevelWarn, 0},
		{"-s is accepted", []string{"-s", "--", "app"}, env(), false, false, nil, slog.LevelWarn, 0},
		{"-v -vv", []string{"-v", "-vv", "app"}, env(), false, false, nil, slog.LevelDebug, 0},
		{"-p SIGKILL, as in tini's help", []string{"-p", "SIGKILL", "app"}, env(), false, false, nil, slog.LevelWarn, unix.SIGKILL},
		{"TINI_KILL_PROCESS_GROUP: presence is enough", []string{"app"}, env("TINI_KILL_PROCESS_GROUP", ""), true, false, nil, slog.LevelWarn, 0},
		{"TINI_VERBOSITY replaces -v", []string{"-vvv", "app"}, env("TINI_VERBOSITY", "0"), false, false, nil, slog.LevelError, 0},
		{"TINI_VERBOSITY=2", []string{"app"}, env("TINI_VERBOSITY", "2"), false, false, nil, slog.LevelInfo, 0},
		{"TINI_VERBOSITY garbage is atoi's 0", []string{"app"}, env("TINI_VERBOSITY", "loud"), false, false, nil, slog.LevelError, 0},
		{"TINI_SUBREAPER", []string{"app"}, env("TINI_SUBREAPER", "1"), false, false, nil, slog.LevelWarn, 0},
	} {
		c := parseTini("tini", tc.args, tc.env)
		switch {
		case c.exit:
			t.Errorf("%s: exits %d: %s%s", tc.doc, c.code, c.stdout, c.stderr)
		case c.cfg.SingleChild == tc.group, c.cfg.WarnOnReap != tc.warn, !reflect.DeepEqual(c.cfg.RemapExit, tc.remap),
			c.logLevel != tc.level, c.pdeathsig != tc.pdeat:
			t.Errorf("%s: single=%v warn=%v remap=%v level=%v pdeathsig=%d; want group=%v warn=%v remap=%v level=%v pdeathsig=%d",
				tc.doc, c.cfg.SingleChild, c.cfg.WarnOnReap, c.cfg.RemapExit, c.logLevel, c.pdeathsig, tc.group, tc.warn, tc.remap, tc.level, tc.pdeat)
		case c.cfg.Command[len(c.cfg.Command)-1] != "app", c.cfg.StopOnRequest, c.cfg.Grace != 0,
			c.cfg.Session != supervisor.Foreground, c.cfg.JobControl != supervisor.JobForward:
			t.Errorf("%s: config %+v: want the command, forwarding only, no grace, the foreground", tc.doc, c.cfg)
		}
	}
}

func TestTiniExecFailureCodes(t *testing.T) {
	c := parseTini("tini", []string{"app"}, env())
	for _, tc := range []struct {
		err  error
		code int
		msg  string
	}{
		{&exec.Error{Name: "app", Err: exec.ErrNotFound}, 127, "exec app failed: No such file or directory"},
		{&fs.PathError{Op: "exec", Path: "app", Err: syscall.EACCES}, 126, "exec app failed: Permission denied"},
		{syscall.ENOEXEC, 1, "exec app failed: Exec format error"},
		{syscall.ETXTBSY, 1, "exec app failed: Text file busy"},
	} {
		msg, code := c.startFailed(&supervisor.StartError{Command: "app", Err: tc.err})
		if msg != tc.msg || code != tc.code {
			t.Errorf("%v: %q, %d; want %q, %d", tc.err, msg, code, tc.msg, tc.code)
		}
	}
}

func TestDumbInitCommandLines(t *testing.T) {
	checkExits(t, "dumb-init", parseDumbInit, []exitCase{
		{doc: "version on stderr", args: []string{"-V"}, code: 0, stderr: "dumb-init v1.2.5"},
		{doc: "long version", args: []string{"--version"}, code: 0, stderr: "dumb-init v1.2.5"},
		{doc: "help on stderr", args: []string{"--help"}, code: 0, stderr: "Usage: dumb-init [option] command [[arg] ...]"},
		{doc: "no program", args: nil, code: 1, stderr: "Usage: dumb-init [option] program [args]\nTry dumb-init --help for full usage."},
		{doc: "unknown option", args: []string{"-Z", "app"}, code: 1, stderr: "dumb-init: invalid option -- 'Z'\n"},
		{doc: "bad rewrite", args: []string{"-r", "15", "app"}, code: 1, stderr: "Usage: -r option takes <signum>:<signum>"},
		{doc: "rewrite of SIGKILL", args: []string{"--rewrite", "9:15", "app"}, code: 1, stderr: "Usage: -r option takes"},
	})
	stop := forward.Rewrites{unix.SIGTSTP: unix.SIGSTOP, unix.SIGTTIN: unix.SIGSTOP, unix.SIGTTOU: unix.SIGSTOP}
	for _, tc := range []struct {
		doc      string
		args     []string
		env      envFunc
		single   bool
		session  supervisor.SessionMode
		rewrites forward.Rewrites
		level    slog.Level
	}{
		{"setsid mode: the session, TSTP/TTIN/TTOU sent as STOP", []string{"app"}, env(), false, supervisor.NewSession, stop, slog.LevelError},
		{"-c: the child alone, same group, no rewrites", []string{"-c", "app"}, env(), true, supervisor.SameGroup, nil, slog.LevelError},
		{"DUMB_INIT_SETSID=0 is -c", []string{"app"}, env("DUMB_INIT_SETSID", "0"), true, supervisor.SameGroup, nil, slog.LevelError},
		{"DUMB_INIT_SETSID=1 is not", []string{"app"}, env("DUMB_INIT_SETSID", "1"), false, supervisor.NewSession, stop, slog.LevelError},
		{"-v and DUMB_INIT_DEBUG=1 debug", []string{"-v", "app"}, env(), false, supervisor.NewSession, stop, slog.LevelDebug},
		{"DUMB_INIT_DEBUG=1", []string{"app"}, env("DUMB_INIT_DEBUG", "1"), false, supervisor.NewSession, stop, slog.LevelDebug},
		{"a rewrite of TSTP wins over the STOP default; numbers and names",
			[]string{"-r", "20:0", "--rewrite=15:3", "-r", "USR1:USR2", "app"}, env(), false, supervisor.NewSession,
			forward.Rewrites{unix.SIGTSTP: forward.Drop, unix.SIGTTIN: unix.SIGSTOP, unix.SIGTTOU: unix.SIGSTOP,
				unix.SIGTERM: unix.SIGQUIT, unix.SIGUSR1: unix.SIGUSR2}, slog.LevelError},
	} {
		c := parseDumbInit("dumb-init", tc.args, tc.env)
		switch {
		case c.exit:
			t.Errorf("%s: exits %d: %s%s", tc.doc, c.code, c.stdout, c.stderr)
		case c.cfg.SingleChild != tc.single, c.cfg.Session != tc.session, !reflect.DeepEqual(c.cfg.Rewrites, tc.rewrites), c.logLevel != tc.level:
			t.Errorf("%s: single=%v session=%v rewrites=%v level=%v; want %v %v %v %v",
				tc.doc, c.cfg.SingleChild, c.cfg.Session, c.cfg.Rewrites, c.logLevel, tc.single, tc.session, tc.rewrites, tc.level)
		case c.cfg.JobControl != supervisor.JobSuspendSelf, c.cfg.StopOnRequest, c.cfg.Grace != 0:
			t.Errorf("%s: config %+v: want dumb-init's job control, forwarding only, no grace", tc.doc, c.cfg)
		}
	}
	c := parseDumbInit("dumb-init", []string{"app"}, env())
	if msg, code := c.startFailed(&supervisor.StartError{Command: "app", Err: &exec.Error{Name: "app", Err: exec.ErrNotFound}}); code != 2 || msg != "app: No such file or directory" {
		t.Errorf("exec failure: %q, %d; want \"app: No such file or directory\", 2", msg, code)
	}
}

func TestCatatonitCommandLines(t *testing.T) {
	checkExits(t, "catatonit", parseCatatonit, []exitCase{
		{doc: "version in tini's shape on stdout", args: []string{"-V"}, code: 0, stdout: "tini version 0.1.7_catatonit\n"},
		{doc: "long version", args: []string{"--version"}, code: 0, stdout: "tini version 0.1.7_catatonit"},
		{doc: "help on stderr", args: []string{"-h"}, code: 0, stderr: "usage: catatonit [-ghLPV] [--] <progname> [<arguments>...]"},
		{doc: "licence on stdout", args: []string{"-L"}, code: 0, stdout: "SPDX-License-Identifier: Apache-2.0"},
		{doc: "no program", args: nil, code: 1, stderr: "): missing program name\nusage: catatonit"},
		{doc: "unknown option", args: []string{"-Z", "app"}, code: 1, stderr: "usage: catatonit"},
		{doc: "CATATONIT_LOG is reserved", args: []string{"app"}, env: env("CATATONIT_LOG", "x"), code: 1, stderr: "CATATONIT_LOG is reserved for future use"},
	})
	drop := forward.Rewrites{unix.SIGTSTP: forward.Drop, unix.SIGTTIN: forward.Drop, unix.SIGTTOU: forward.Drop}
	for _, tc := range []struct {
		doc    string
		args   []string
		env    envFunc
		single bool
		pause  bool
		level  slog.Level
	}{
		{"defaults", []string{"app", "-x"}, env(), true, false, slog.LevelError},
		{"-g", []string{"-g", "--", "app"}, env(), false, false, slog.LevelError},
		{"-P runs nothing, even when a program follows", []string{"-P", "app"}, env(), true, true, slog.LevelError},
		{"-P alone", []string{"-P"}, env(), true, true, slog.LevelError},
		{"CATATONIT_DEBUG", []string{"app"}, env("CATATONIT_DEBUG", ""), true, false, slog.LevelDebug},
	} {
		c := parseCatatonit("catatonit", tc.args, tc.env)
		switch {
		case c.exit:
			t.Errorf("%s: exits %d: %s%s", tc.doc, c.code, c.stdout, c.stderr)
		case c.cfg.SingleChild != tc.single, c.cfg.Pause != tc.pause, c.logLevel != tc.level,
			tc.pause != (len(c.cfg.Command) == 0), c.cfg.StopOnRequest != tc.pause:
			t.Errorf("%s: single=%v pause=%v command=%q stop=%v level=%v; want %v %v",
				tc.doc, c.cfg.SingleChild, c.cfg.Pause, c.cfg.Command, c.cfg.StopOnRequest, c.logLevel, tc.single, tc.pause)
		case !reflect.DeepEqual(c.cfg.Rewrites, drop), !c.cfg.ListenPID, !c.cfg.CloseInherited, c.cfg.Grace != 0:
			t.Errorf("%s: config %+v: want TSTP/TTIN/TTOU dropped, LISTEN_PID, inherited descriptors closed, no grace", tc.doc, c.cfg)
		}
	}
	c := parseCatatonit("catatonit", []string{"app"}, env())
	if msg, code := c.startFailed(&supervisor.StartError{Command: "app", Err: &fs.PathError{Op: "exec", Path: "app", Err: syscall.EACCES}}); code != 1 || msg != "failed to exec pid1: Permission denied" {
		t.Errorf("exec failure: %q, %d; want \"failed to exec pid1: Permission denied\", 1", msg, code)
	}
}

func TestInitCommit(t *testing.T) {
	const full = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d" // a commit the Makefile stamps
	for _, tc := range []struct {
		doc, version, commit, want string
	}{
		{"release: the stamped commit", "0.1.0", full, "1a2b3c4"},
		{"after the release", "0.1.0+g140e03a", full, "140e03a"},
		{"after the release, dirty", "0.1.0+g140e03a.dirty", full, "140e03a"},
		{"pre-release, dirty", "0.2.0-rc.1+g140e03a.dirty", full, "140e03a"},
		{"longer abbreviation", "0.1.0+g140e03abc.dirty", "", "140e03a"},
		{"release outside git", "0.1.0", "", "0-1-0"},
		{"metadata that is not a hash", "0.1.0+gxyz", "", "0-1-0+g"},
		{"short hash is no hash", "0.1.0+g140e0", "", "0-1-0+g"},
		{"git describe: hash", "140e03a", "", "140e03a"},
		{"git describe: dirty", "140e03a-dirty", "", "140e03a"},
		{"git describe: tag", "v1.2.0-3-g140e03abc", "", "140e03a"},
		{"git describe: tag, dirty", "v1.2.0-3-g140e03a-dirty", full, "140e03a"},
		{"tag alone", "v1.2.0", "", "v1-2-0"},
		{"long tag", "v10.20.30", "", "v10-20-"},
		{"plain go build", "dev", "", "dev"},
		{"stamped commit that is not a hash", "dev", "main", "dev"},
		{"nothing", "", "", "unknown"},
	} {
		got := initCommit(tc.version, tc.commit)
		if got != tc.want || strings.Contains(got, ".") || len(got) > 7 {
			t.Errorf("%s: initCommit(%q, %q) = %q, want %q (no dot, at most 7 characters)", tc.doc, tc.version, tc.commit, got, tc.want)
		}
	}
}

func TestDescribedHashMatchesRegexp(t *testing.T) {
	h := func(n int) string { return strings.Repeat("0123456789abcdef", 3)[:n] }
	for v, want := range map[string]string{
		"":                             "",
		h(6):                           "",
		h(7):                           h(7),
		h(40):                          h(40),
		h(41):                          "",
		h(40) + "-dirty":               h(40),
		h(41) + "-dirty":               "",
		"140E03A":                      "",
		"v1-g140E03A":                  "",
		"v1-g" + h(6):                  "",
		"v1-g" + h(7):                  h(7),
		"v1-g" + h(40):                 h(40),
		"v1-g" + h(41):                 "",
		"v1-g" + h(7) + "x":            "",
		"v1-g" + h(7) + "-":            h(7),
		"v1-g" + h(7) + ".1":           "",
		"g" + h(7):                     "",
		"-g" + h(7):                    h(7),
		"x" + h(7):                     "",
		"-" + h(7):                     "",
		"v1.0-3-g140e03a-dirty":        "140e03a",
		h(7) + "-g" + h(8):             h(7),
		h(6) + "-g" + h(8):             h(8),
		"v-gabcdefa-g1234567":          "abcdefa",
		"v-gabcdefaX-g1234567":         "1234567",
		"v-g-g1234567":                 "1234567",
		"v-gg1234567":                  "",
		"v1.0-3-g140e03a\n":            "",
		"v1.0-3-g140e03a-g\xff1234567": "140e03a",
	} {
		if got := describedHash(v); got != want {
			t.Errorf("describedHash(%q) = %q, want %q", v, got, want)
		}
	}

	// Every string of up to 3 tokens, the tokens being the pieces a match is
	// built from and the near misses around them; then random strings of such
	// pieces with hex runs of random length, and random bytes.
	tokens := []string{"-", "g", "-g", "x", ".", "G", "\xff", h(6), h(7), h(8), h(39), h(40), h(41), "ABCDEF0"}
	inputs := []string{""}
	level := []string{""}
	for range 3 {
		var next []string
		for _, s := range level {
			for _, tok := range tokens {
				next = append(next, s+tok)
			}
		}
		inputs = append(inputs, next...)
		level = next
	}
	r := rand.New(rand.NewPCG(1, 2))
	hex := "0123456789abcdef"
	for range 30000 {
		var b strings.Builder
		for range r.IntN(7) {
			if r.IntN(2) == 0 {
				b.WriteString(tokens[r.IntN(7)])
				continue
			}
			for range 1 + r.IntN(45) {
				b.WriteByte(hex[r.IntN(len(hex))])
			}
		}
		inputs = append(inputs, b.String())
	}
	alphabet := []byte(hex + "-----gggggAFGx.\xff")
	for range 10000 {
		b := make([]byte, r.IntN(60))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		inputs = append(inputs, string(b))
	}

	old := regexp.MustCompile(`(?:^|-g)([0-9a-f]{7,40})(?:-|$)`)
	found := 0
	for _, v := range inputs {
		want := ""
		if m := old.FindStringSubmatch(v); m != nil {
			want = m[1]
			found++
		}
		if got := describedHash(v); got != want {
			t.Errorf("describedHash(%q) = %q, the regexp %q", v, got, want)
		}
	}
	// The comparison proves little unless both outcomes are common.
	if found < len(inputs)/20 || found > len(inputs)*19/20 {
		t.Errorf("the regexp matched %d of %d inputs: the generated inputs no longer test both outcomes", found, len(inputs))
	}
}

func TestAtoi(t *testing.T) {
	for s, want := range map[string]int{"2": 2, " 3x": 3, "-1": -1, "+4": 4, "": 0, "x": 0} {
		if got := atoi(s); got != want {
			t.Errorf("atoi(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestStrerror(t *testing.T) {
	e := &supervisor.StartError{Command: "x", Err: errors.New("something else")}
	if got := strerror(e); got != "something else" {
		t.Errorf("strerror of a plain error = %q", got)
	}
}

func TestChildSignals(t *testing.T) {
	in := entry.Inherited{Mask: 1<<(unix.SIGTERM-1) | 1<<(40-1), Ignored: 1<<(unix.SIGINT-1) | 1<<(unix.SIGPIPE-1) | 1<<(35-1), Exact: true}
	parent := in.Ignored | 1<<(32-1) | 1<<(34-1) // and 32, 34: forward.Catch
	for _, tc := range []struct {
		peer string
		want spawn.Signals
	}{
		{"pidone", spawn.Signals{Mask: in.Mask, Ignored: in.Ignored, ParentIgnored: parent}},
		{"tini", spawn.Signals{Mask: in.Mask, Ignored: in.Ignored, ParentIgnored: parent}},
		{"docker-init", spawn.Signals{Mask: in.Mask, Ignored: in.Ignored, ParentIgnored: parent}},
		{"catatonit", spawn.Signals{Mask: in.Mask | 1<<(unix.SIGTSTP-1) | 1<<(unix.SIGTTIN-1) | 1<<(unix.SIGTTOU-1), Ignored: in.Ignored, ParentIgnored: parent}},
		// dumb-init: nothing blocked, 1-31 at SIG_DFL, 32-64 as inherited.
		{"dumb-init", spawn.Signals{Ignored: 1 << (35 - 1), ParentIgnored: parent}},
	} {
		if got := childSignals(tc.peer, in); got != tc.want {
			t.Errorf("childSignals(%s) = %+v, want %+v", tc.peer, got, tc.want)
		}
	}
	// Without the entry's record pidone cannot say what it has ignored:
	// the child resets every signal.
	in.Exact = false
	if got := childSignals("pidone", in).ParentIgnored; got != 0 {
		t.Errorf("ParentIgnored without the entry = %#x, want 0 (not known)", got)
	}
}

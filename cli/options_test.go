package cli

import (
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pidone/pidone/forward"
	"golang.org/x/sys/unix"
)

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		args []string
		want settings
	}{
		{"plain command", []string{"app", "-x"},
			settings{command: []string{"app", "-x"}}},
		{"-- ends options", []string{"-w", "--", "-app"},
			settings{command: []string{"-app"}, warnOnReap: true}},
		{"first word ends options, getopt + style", []string{"sh", "-c", "x"},
			settings{command: []string{"sh", "-c", "x"}}},
		{"combined short flags", []string{"-cwvv", "app"},
			settings{command: []string{"app"}, singleChild: true, warnOnReap: true, verbosity: 2}},
		{"value attached and separate, repeatable", []string{"-e143", "-e", "3", "--remap-exit=4", "--remap-exit", "5", "app"},
			settings{command: []string{"app"}, remapExit: []int{143, 3, 4, 5}}},
		{"flag before a valued short", []string{"-we", "1", "app"},
			settings{command: []string{"app"}, warnOnReap: true, remapExit: []int{1}}},
		{"pdeathsig by name and number", []string{"-p", "SIGHUP", "-p", "15", "app"},
			settings{command: []string{"app"}, pdeathsig: unix.SIGTERM}},
		{"subreaper accepted", []string{"-s", "--subreaper", "app"},
			settings{command: []string{"app"}}},
		{"json logs", []string{"--log-format", "json", "app"},
			settings{command: []string{"app"}, logFormat: "json"}},
		{"help needs no command", []string{"-h"}, settings{command: []string{}, showHelp: true}},
		{"version needs no command", []string{"--version"}, settings{command: []string{}, showVersion: true}},
		{"pause needs no command", []string{"--pause"}, settings{command: []string{}, pause: true}},
		{"grace, wait-all, termination log", []string{"--grace", "1m30s", "--wait-all", "--termination-log=/dev/termination-log", "app"},
			settings{command: []string{"app"}, grace: 90 * time.Second, graceSet: true, waitAll: true, termLog: "/dev/termination-log"}},
		{"grace 0 kills at once", []string{"--grace=0", "app"},
			settings{command: []string{"app"}, grace: 0, graceSet: true}},
		{"rewrites by name and number, later wins, repeatable", []string{"-r", "TERM:QUIT", "--rewrite", "10:none", "-rRTMIN+1:RTMIN+2", "-r", "15:3", "app"},
			settings{command: []string{"app"}, rewrites: forward.Rewrites{unix.SIGTERM: unix.SIGQUIT, unix.SIGUSR1: forward.Drop, 35: 36}}},
		{"delays", []string{"--delay", "TERM:5s", "--delay=INT:250ms", "app"},
			settings{command: []string{"app"}, delays: forward.Delays{unix.SIGTERM: 5 * time.Second, unix.SIGINT: 250 * time.Millisecond}}},
	} {
		got, err := parseArgs(tc.args, pidoneOptions)
		if err != nil {
			t.Errorf("%s: parseArgs(%q): %v", tc.doc, tc.args, err)
			continue
		}
		if tc.want.logFormat == "" {
			tc.want.logFormat = "text"
		}
		if !tc.want.graceSet {
			tc.want.grace = 5 * time.Second
		}
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("%s: parseArgs(%q)\n got %+v\nwant %+v", tc.doc, tc.args, *got, tc.want)
		}
	}
}

func TestParseArgsRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"-w"}, "no command given"},
		{[]string{"--"}, "no command given"},
		{[]string{"-x", "app"}, "unknown option -x"},
		{[]string{"--nope", "app"}, "unknown option --nope"},
		{[]string{"-e"}, "option -e needs a CODE"},
		{[]string{"--remap-exit"}, "option --remap-exit needs a CODE"},
		{[]string{"-e", "abc", "app"}, `-e: exit code "abc" is not a number from 0 to 255`},
		{[]string{"-e", "256", "app"}, `-e: exit code "256" is not a number from 0 to 255`},
		{[]string{"--remap-exit=-1", "app"}, `--remap-exit: exit code "-1" is not a number from 0 to 255`},
		{[]string{"-p", "NOSUCH", "app"}, `-p: unknown signal "NOSUCH"`},
		{[]string{"-p", "KILL", "app"}, "-p: SIGKILL cannot be caught by pidone"},
		{[]string{"--log-format", "xml", "app"}, `--log-format: unknown log format "xml" (want text or json)`},
		{[]string{"--log-level", "loud", "app"}, `--log-level: unknown log level "loud" (want debug, info, warn or error)`},
		{[]string{"--warn-on-reap=yes", "app"}, "option --warn-on-reap takes no value"},
		{[]string{"--grace", "5", "app"}, `--grace: "5" is not a duration such as 500ms, 5s or 1m`},
		{[]string{"--grace", "-1s", "app"}, `--grace: "-1s" is negative`},
		{[]string{"-r", "TERM", "app"}, `-r: rewrite "TERM" is not FROM:TO`},
		{[]string{"-r", "KILL:TERM", "app"}, "-r: SIGKILL never reaches pidone: it cannot be caught"},
		{[]string{"--rewrite", "CHLD:TERM", "app"}, "--rewrite: SIGCHLD is pidone's own (a child died); it is never forwarded"},
		{[]string{"-r", "TERM:NOPE", "app"}, `-r: unknown signal "NOPE"`},
		{[]string{"--delay", "TERM:soon", "app"}, `--delay: delay "TERM:soon": "soon" is not a duration such as 500ms or 5s`},
		{[]string{"--pause", "app"}, `--pause runs no command, but "app" was given`},
		{[]string{"--pause", "--wait-all"}, "--wait-all has no meaning with --pause"},
	} {
		_, err := parseArgs(tc.args, pidoneOptions)
		var ue *usageError
		if !errors.As(err, &ue) || err.Error() != tc.want {
			t.Errorf("parseArgs(%q) error = %v, want usage error %q", tc.args, err, tc.want)
		}
	}
}

func TestLevel(t *testing.T) {
	debug := slog.LevelError
	for _, tc := range []struct {
		s    settings
		want slog.Level
	}{
		{settings{}, slog.LevelWarn},
		{settings{verbosity: 1}, slog.LevelInfo},
		{settings{verbosity: 3}, slog.LevelDebug},
		{settings{verbosity: 3, logLevel: &debug}, slog.LevelError},
	} {
		if got := tc.s.level(); got != tc.want {
			t.Errorf("%+v: level %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestExitReportOptions(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args    []string
		fail    bool
		code    int
		wantErr string
	}{
		{[]string{"app"}, false, DefaultLeftoversCode, ""},
		{[]string{"--fail-on-leftovers", "app"}, true, DefaultLeftoversCode, ""},
		{[]string{"--fail-on-leftovers=0", "app"}, true, 0, ""},
		{[]string{"--fail-on-leftovers=255", "app"}, true, 255, ""},
		// The value is optional, so a following word is the command.
		{[]string{"--fail-on-leftovers", "7"}, true, DefaultLeftoversCode, ""},
		{[]string{"--fail-on-leftovers=256", "app"}, false, 0, `--fail-on-leftovers: exit code "256" is not a number from 0 to 255`},
		{[]string{"--fail-on-leftovers=", "app"}, true, DefaultLeftoversCode, ""},
		{[]string{"--exit-report", dir, "app"}, false, 0, "is a directory"},
		{[]string{"--exit-report", dir + "/none/r.json", "app"}, false, 0, "no such file or directory"},
		// Workers mode takes both (issue 21).
		{[]string{"--exit-report=" + dir + "/r.json", "--fail-on-leftovers=9", "--workers", "2", "app"}, true, 9, ""},
		{[]string{"--control-socket", "pidone.sock", "app"}, false, 0, "--control-socket: pidone.sock is not an absolute path"},
		{[]string{"--control-socket", dir + "/none/s.sock", "app"}, false, 0, "no such file or directory"},
		{[]string{"--control-socket", dir + "/s.sock", "--workers", "2", "app"}, false, 0, "--control-socket is for single mode"},
		{[]string{"--control-socket", dir + "/s.sock", "--pause"}, false, DefaultLeftoversCode, ""},
	} {
		s, err := parseArgs(tc.args, pidoneOptions)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parseArgs(%q): %v, want an error with %q", tc.args, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("parseArgs(%q): %v", tc.args, err)
		case s.failOnLeftovers != tc.fail || s.exitCodeOnLeftovers() != tc.code:
			t.Errorf("parseArgs(%q): fail %v code %d, want %v %d", tc.args, s.failOnLeftovers, s.exitCodeOnLeftovers(), tc.fail, tc.code)
		}
	}
	// Only "[=NAME]" is optional: --listen's "[NAME=]SPEC" still takes
	// the next word.
	if s, err := parseArgs([]string{"--workers", "1", "--listen", "tcp:127.0.0.1:0", "app"}, pidoneOptions); err != nil || s.workers == nil {
		t.Errorf("--listen SPEC as two words: %v", err)
	}
	if DefaultLeftoversCode == ExitUsage || DefaultLeftoversCode >= ExitInternal {
		t.Errorf("DefaultLeftoversCode %d collides with pidone's own codes", DefaultLeftoversCode)
	}
}

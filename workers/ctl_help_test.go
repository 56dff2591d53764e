package workers

import (
	"bytes"
	"strings"
	"testing"
)

// Help never needs a pidfile or a master: every form of asking for it
// prints to stdout and exits 0, and a verb's help is that verb's.
func TestCtlHelp(t *testing.T) {
	tests := []struct {
		doc  string
		args []string
		code int
		want string // on stdout, or on stderr for a usage error
	}{
		{"--help", []string{"--help"}, CtlOK, "Verbs:"},
		{"-h", []string{"-h"}, CtlOK, "Verbs:"},
		{"-help", []string{"-help"}, CtlOK, "Verbs:"},
		{"help verb", []string{"help"}, CtlOK, "Verbs:"},
		{"stop --help", []string{"stop", "--help"}, CtlOK, "usage: pidone ctl stop"},
		{"--help before the verb", []string{"--help", "stop"}, CtlOK, "usage: pidone ctl stop"},
		{"help status", []string{"help", "status"}, CtlOK, "usage: pidone ctl status"},
		{"reload -h with a pidfile", []string{"reload", "--pidfile", "/nonexistent", "-h"}, CtlOK, "usage: pidone ctl reload"},
		{"restart --help", []string{"restart", "--help"}, CtlOK, "every worker is replaced"},
		{"help of an unknown verb", []string{"help", "frobnicate"}, CtlUsage, `unknown verb "frobnicate"`},
		{"unknown verb", []string{"frobnicate", "--pidfile", "/x"}, CtlUsage, `unknown verb "frobnicate"`},
		{"unknown verb, no pidfile", []string{"frobnicate"}, CtlUsage, `unknown verb "frobnicate"`},
		{"no verb", nil, CtlUsage, "want one verb"},
		{"unknown option", []string{"--nope"}, CtlUsage, "flag provided but not defined: -nope"},
		{"negative timeout", []string{"stop", "--pidfile", "/nonexistent", "--timeout", "-1s"}, CtlUsage, "--timeout -1s: want a duration of 0 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Ctl(tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("pidone ctl %q: exit %d, want %d; stdout %q, stderr %q", tt.args, code, tt.code, stdout.String(), stderr.String())
			}
			out := stdout.String()
			if tt.code != CtlOK {
				out = stderr.String()
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("pidone ctl %q: output %q does not contain %q", tt.args, out, tt.want)
			}
		})
	}
}

// Every verb the switch in Ctl knows has help text, and the help names it.
func TestCtlEveryVerbHasHelp(t *testing.T) {
	help := ctlHelp()
	for _, v := range CtlVerbs {
		if v.Summary == "" || v.Help == "" {
			t.Errorf("verb %s has no summary or help", v.Name)
		}
		if !strings.Contains(help, "  "+v.Name+" ") {
			t.Errorf("pidone ctl --help does not list %s:\n%s", v.Name, help)
		}
	}
	for _, verb := range []string{"status", "stop", "reload", "restart"} {
		if verbHelp(verb) == "" {
			t.Errorf("verb %s has no help", verb)
		}
	}
}

// Which pidone ctl asks: a pidfile means a workers-mode master, as before;
// no pidfile, or --control-socket on the command line, means a
// single-command pidone's control socket, which answers only status.
func TestCtlSingleModeRouting(t *testing.T) {
	t.Setenv(EnvPidfile, "")
	t.Setenv("PIDONE_CONTROL_SOCKET", "")
	none := t.TempDir() + "/none.sock"
	tests := []struct {
		doc  string
		args []string
		code int
		want string // on stderr
	}{
		{"status, no pidfile: the socket", []string{"status", "--control-socket", none}, 3, "nothing listens at " + none},
		{"--control-socket wins over a pidfile", []string{"status", "--pidfile", "/nonexistent/p", "--control-socket", none}, 3, "nothing listens at " + none},
		{"a pidfile: workers mode", []string{"status", "--pidfile", t.TempDir() + "/p"}, StatusNotRunning, ""},
		{"stop over the socket", []string{"stop", "--control-socket", none}, CtlUsage, "answers only status"},
		{"stop with neither", []string{"stop"}, CtlUsage, "no pidfile: give --pidfile PATH or set PIDONE_PIDFILE"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := Ctl(tt.args, &stdout, &stderr)
		if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%s: pidone ctl %q: exit %d, stderr %q; want %d and %q", tt.doc, tt.args, code, stderr.String(), tt.code, tt.want)
		}
	}
	// $PIDONE_CONTROL_SOCKET when ctl's command line names no socket.
	t.Setenv("PIDONE_CONTROL_SOCKET", none)
	var stdout, stderr bytes.Buffer
	if code := Ctl([]string{"status"}, &stdout, &stderr); code != 3 || !strings.Contains(stderr.String(), none) {
		t.Errorf("pidone ctl status with $PIDONE_CONTROL_SOCKET: exit %d, stderr %q", code, stderr.String())
	}
}

package cli

import (
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Parse turns every kind of command line into the mode and what main
// needs for it; the options themselves are options_test.go's.
func TestParse(t *testing.T) {
	var noEnv []string
	tests := []struct {
		doc   string
		argv0 string
		args  []string
		check func(t *testing.T, c Config)
	}{
		{"version", "pidone", []string{"--version"}, func(t *testing.T, c Config) {
			want := Config{Mode: Print, Stdout: "pidone version " + version + "\n"}
			if c.Mode != want.Mode || c.Code != 0 || c.Stdout != want.Stdout || c.Stderr != "" {
				t.Errorf("got %+v, want %+v", c, want)
			}
		}},
		{"help on stdout", "/sbin/pidone", []string{"-h"}, func(t *testing.T, c Config) {
			if c.Mode != Print || c.Code != 0 || !strings.HasPrefix(c.Stdout, usageLine+"\n") || c.Stderr != "" {
				t.Errorf("got mode %d code %d stdout %.40q stderr %q", c.Mode, c.Code, c.Stdout, c.Stderr)
			}
		}},
		{"usage error on stderr", "pidone", nil, func(t *testing.T, c Config) {
			want := "pidone: no command given\n" + usageLine + "\nTry 'pidone --help' for more information.\n"
			if c.Mode != Print || c.Code != ExitUsage || c.Stdout != "" || c.Stderr != want {
				t.Errorf("got mode %d code %d stdout %q stderr %q, want stderr %q", c.Mode, c.Code, c.Stdout, c.Stderr, want)
			}
		}},
		{"workers options without a workers mode", "pidone", []string{"--pidfile", "/run/p", "app"}, func(t *testing.T, c Config) {
			if c.Mode != Print || c.Code != ExitUsage || !strings.HasPrefix(c.Stderr, "pidone: workers options need --workers, --config or --spec\n") {
				t.Errorf("got mode %d code %d stderr %q", c.Mode, c.Code, c.Stderr)
			}
		}},
		{"ctl", "pidone", []string{"ctl", "status", "--pidfile", "/run/p"}, func(t *testing.T, c Config) {
			if c.Mode != Ctl || !slices.Equal(c.CtlArgs, []string{"status", "--pidfile", "/run/p"}) {
				t.Errorf("got mode %d args %q", c.Mode, c.CtlArgs)
			}
		}},
		{"workers mode", "pidone", []string{"--grace", "1s", "-w", "--workers", "2", "app", "x"}, func(t *testing.T, c Config) {
			o := c.Workers.Options
			if c.Mode != Master || c.Log == nil || c.Workers.Log != c.Log || !c.BuildNotes ||
				!slices.Equal(o.Command, []string{"app", "x"}) || o.Grace != time.Second || !c.Workers.WarnOnReap {
				t.Errorf("got mode %d, workers %+v", c.Mode, c.Workers)
			}
		}},
		{"a command", "pidone", []string{"-p", "TERM", "--", "app"}, func(t *testing.T, c Config) {
			s := c.Supervisor
			if c.Mode != Supervise || c.Log == nil || s.Log != c.Log || !c.BuildNotes || c.StartFailed == nil ||
				c.ParentDeathSignal != unix.SIGTERM || c.ParentDeathFailed != ExitInternal ||
				!slices.Equal(s.Command, []string{"app"}) || !s.StopOnRequest || !s.ListenPID {
				t.Errorf("got %+v", c)
			}
		}},
		{"pause", "pidone", []string{"--pause"}, func(t *testing.T, c Config) {
			if c.Mode != Supervise || !c.Supervisor.Pause || len(c.Supervisor.Command) != 0 {
				t.Errorf("got mode %d, supervisor %+v", c.Mode, c.Supervisor)
			}
		}},
		{"a peer's version", "/usr/bin/tini", []string{"--version"}, func(t *testing.T, c Config) {
			if c.Mode != Print || c.Code != 0 || !strings.HasPrefix(c.Stdout, "tini version "+tiniVersion) {
				t.Errorf("got mode %d code %d stdout %q", c.Mode, c.Code, c.Stdout)
			}
		}},
		{"a peer's usage error", "dumb-init", nil, func(t *testing.T, c Config) {
			if c.Mode != Print || c.Code != usageExit || c.Stderr == "" {
				t.Errorf("got mode %d code %d stderr %q", c.Mode, c.Code, c.Stderr)
			}
		}},
		{"a peer's command, its own rules", "tini", []string{"-p", "SIGKILL", "ctl"}, func(t *testing.T, c Config) {
			if c.Mode != Supervise || c.BuildNotes || c.StartFailed == nil || c.Supervisor.Log != c.Log ||
				c.ParentDeathSignal != unix.SIGKILL || c.ParentDeathFailed != usageExit ||
				!slices.Equal(c.Supervisor.Command, []string{"ctl"}) || c.Supervisor.StopOnRequest {
				t.Errorf("got %+v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			tt.check(t, Parse(tt.argv0, tt.args, noEnv))
		})
	}
}

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const exitTimeout = 10 * time.Second

// TestExitCodesPassThrough runs a pidone for each exit status 0-255 of its
// main child. Run one after the other, the 256 made this one of the
// slowest tests of the e2e tier, most of it waiting; so they run a batch
// at a time, each still a pidone of its own, checked as run checks one.
func TestExitCodesPassThrough(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	for lo := 0; lo <= 255; lo += exitBatch {
		var batch []*nsInit
		for n := lo; n <= min(lo+exitBatch-1, 255); n++ {
			p := startPidone(t, "--", workload, "exit", strconv.Itoa(n))
			p.closeStdin()
			batch = append(batch, p)
		}
		for i, p := range batch {
			n := lo + i
			code := p.exitCode(exitTimeout)
			p.stdout.WaitEOF(t, exitTimeout)
			p.stderr.WaitEOF(t, exitTimeout)
			t.Run(strconv.Itoa(n), func(t *testing.T) {
				if code != n {
					t.Errorf("pidone -- workload exit %d: got exit code %d, want %d; stderr: %q", n, code, n, p.stderr.Snapshot())
				}
			})
		}
	}
}

// exitBatch pidones run at once in TestExitCodesPassThrough.
const exitBatch = 16

func TestChildKilledBySignalGives128PlusSignal(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL, syscall.SIGSEGV, syscall.SIGQUIT, syscall.SIGUSR1} {
		t.Run(unix.SignalName(sig), func(t *testing.T) {
			code, _, stderr := run(t, exitTimeout, "--", workload, "killself", strconv.Itoa(int(sig)))
			if want := 128 + int(sig); code != want {
				t.Errorf("child killed by %v: got exit code %d, want %d; stderr: %q", sig, code, want, stderr)
			}
		})
	}
}

func TestRemapExit(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	tests := []struct {
		doc  string
		args []string
		want int
	}{
		{"TERM death (143) remapped", []string{"-e", "143", "--", workload, "killself", "TERM"}, 0},
		{"TERM death with another code remapped", []string{"-e", "3", "--", workload, "killself", "TERM"}, 143},
		{"second of two codes remapped", []string{"-e", "3", "-e", "4", "--", workload, "exit", "4"}, 0},
		{"first of two codes remapped", []string{"-e", "3", "-e", "4", "--", workload, "exit", "3"}, 0},
		{"code not listed passes through", []string{"-e", "3", "-e", "4", "--", workload, "exit", "5"}, 5},
		{"long option", []string{"--remap-exit", "7", "--", workload, "exit", "7"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			code, _, stderr := run(t, exitTimeout, tt.args...)
			if code != tt.want {
				t.Errorf("pidone %q: got exit code %d, want %d; stderr: %q", tt.args, code, tt.want, stderr)
			}
		})
	}
}

func TestExecFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notExecutable := filepath.Join(dir, "not-executable.sh")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		doc     string
		command string
		want    int
	}{
		{"not found in PATH", "nosuchcommand", 127},
		{"no such path", "/no/such/path", 127},
		{"file without execute permission", notExecutable, 126},
		{"directory", dir, 126},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			code, _, stderr := run(t, exitTimeout, "--", tt.command)
			if code != tt.want {
				t.Errorf("pidone -- %s: got exit code %d, want %d; stderr: %q", tt.command, code, tt.want, stderr)
			}
			if !strings.Contains(strings.Join(stderr, "\n"), tt.command) {
				t.Errorf("pidone -- %s: stderr does not name the command: %q", tt.command, stderr)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	tests := []struct {
		doc  string
		args []string
	}{
		{"unknown option", []string{"--no-such-option", "--", workload, "exit", "0"}},
		{"unknown short option", []string{"-Z", "--", workload, "exit", "0"}},
		{"no command", nil},
		{"no command after --", []string{"--"}},
		{"remap code not a number", []string{"-e", "abc", "--", workload, "exit", "0"}},
		{"remap code out of range", []string{"-e", "300", "--", workload, "exit", "0"}},
		{"unknown pdeathsig", []string{"-p", "NOSUCHSIG", "--", workload, "exit", "0"}},
		{"unknown log format", []string{"--log-format", "xml", "--", workload, "exit", "0"}},
		{"unknown log level", []string{"--log-level", "loud", "--", workload, "exit", "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			code, _, stderr := run(t, exitTimeout, tt.args...)
			if code != 2 {
				t.Errorf("pidone %q: got exit code %d, want 2; stderr: %q", tt.args, code, stderr)
			}
			if !hasPrefixLine(stderr, "usage:") {
				t.Errorf("pidone %q: no line starting with \"usage:\" on stderr: %q", tt.args, stderr)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args   []string
		prefix string // of some stdout line
	}{
		{[]string{"--version"}, "pidone "},
		{[]string{"-h"}, "usage:"},
		{[]string{"--help"}, "usage:"},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			code, stdout, stderr := run(t, exitTimeout, tt.args...)
			if code != 0 {
				t.Errorf("pidone %s: got exit code %d, want 0; stderr: %q", tt.args[0], code, stderr)
			}
			if !hasPrefixLine(stdout, tt.prefix) {
				t.Errorf("pidone %s: no line starting with %q on stdout: %q", tt.args[0], tt.prefix, stdout)
			}
		})
	}
}

func hasPrefixLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

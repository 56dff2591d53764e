package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Everyday messages (issue 12): what pidone says when a user gets
// something slightly wrong, and what it logs when it has to kill.

// `docker run IMAGE --version` with ENTRYPOINT ["/pidone", "--"] runs
// `pidone -- --version`: the message must say how to reach pidone's own
// options.
func TestOptionAfterDashDashGetsAnEntrypointHint(t *testing.T) {
	t.Parallel()
	code, _, stderr := run(t, exitTimeout, "--", "--version")
	if code != 127 {
		t.Errorf("pidone -- --version: exit %d, want 127", code)
	}
	log := strings.Join(stderr, "\n")
	for _, want := range []string{`msg="cannot run command" command=--version`, "docker run --entrypoint /pidone IMAGE --version"} {
		if !strings.Contains(log, want) {
			t.Errorf("pidone -- --version: stderr lacks %q:\n%s", want, log)
		}
	}
	// A plain missing command gets no such hint.
	_, _, stderr = run(t, exitTimeout, "--", "nosuchcommand")
	if log := strings.Join(stderr, "\n"); strings.Contains(log, "hint=") {
		t.Errorf("pidone -- nosuchcommand: unexpected hint:\n%s", log)
	}
}

func TestMistypedOptionGetsASuggestion(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	tests := []struct {
		option string
		want   string // the suggestion line, "" for none
	}{
		{"--grce", "did you mean --grace?"},
		{"--wait_all", "did you mean --wait-all?"},
		{"--frobnicate", ""},
	}
	for _, tt := range tests {
		t.Run(tt.option, func(t *testing.T) {
			args := []string{tt.option, "--", workload, "exit", "0"}
			if tt.option == "--grce" {
				args = append([]string{tt.option, "1s"}, args[1:]...)
			}
			code, _, stderr := run(t, exitTimeout, args...)
			if code != 2 {
				t.Errorf("pidone %q: exit %d, want 2", args, code)
			}
			got := slicesIndex(stderr, "did you mean")
			switch {
			case tt.want == "" && got >= 0:
				t.Errorf("pidone %s: unexpected suggestion %q", tt.option, stderr[got])
			case tt.want != "" && (got < 0 || stderr[got] != tt.want):
				t.Errorf("pidone %s: want the line %q on stderr, got:\n%s", tt.option, tt.want, strings.Join(stderr, "\n"))
			}
		})
	}
}

// slicesIndex is the index of the first line containing s, or -1.
func slicesIndex(lines []string, s string) int {
	for i, l := range lines {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}

func TestCtlHelpExitsZero(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"ctl", "--help"}, {"ctl", "stop", "--help"}, {"ctl", "help", "reload"}} {
		code, stdout, stderr := run(t, exitTimeout, args...)
		if code != 0 || !hasPrefixLine(stdout, "usage: pidone ctl") {
			t.Errorf("pidone %q: exit %d, stdout %q, stderr %q; want 0 and the usage", args, code, stdout, stderr)
		}
	}
	code, stdout, _ := run(t, exitTimeout, "--help")
	if code != 0 || slicesIndex(stdout, "pidone ctl ") < 0 {
		t.Errorf("pidone --help: exit %d, no line mentions pidone ctl:\n%s", code, strings.Join(stdout, "\n"))
	}
}

// When the grace period runs out, the SIGKILL is logged at WARN, the
// default level, naming how many processes and which; without a /proc of
// its own namespace pidone cannot name them, and says so.
func TestKillAfterGraceIsWarnedByDefault(t *testing.T) {
	t.Parallel()
	pidone, workload := bins(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("unshare (util-linux) is needed to mount the namespace's own /proc: %v", err)
	}
	args := []string{pidone, "--grace", "1s", "--", workload, "lingerers", "-ignore", "-code", "7"}
	// The main child exits 7 on SIGTERM; the two others ignore it.
	const prefix = `level=WARN msg="killing (the|every) remaining process(es)? \(SIGKILL\)" reason="the grace period \(--grace 1s\) is over" `
	tests := []struct {
		doc  string
		argv []string
		want *regexp.Regexp
	}{
		{"own /proc", append([]string{unshare, "--mount", "--mount-proc", "--"}, args...),
			regexp.MustCompile(prefix + `count=2 processes="(\d+) \(workload\), (\d+) \(workload\)"$`)},
		{"the host's /proc", args,
			regexp.MustCompile(prefix + `processes="unknown: /proc is not this PID namespace's"$`)},
	}
	for _, tt := range tests {
		t.Run(tt.doc, func(t *testing.T) {
			t.Parallel()
			p := startInit(t, tt.argv...)
			pids := lingerPids(t, p)
			p.signal(syscall.SIGTERM)
			gotTerm(t, p, "main", "group", "escapee")
			if code := p.exitCode(exitTimeout); code != 7 {
				t.Errorf("exit code %d, want 7", code)
			}
			p.stderr.WaitEOF(t, exitTimeout)
			m := p.stderr.WaitFor(t, tt.want, time.Second)
			if len(m) < 5 {
				return
			}
			named := " " + m[3] + " " + m[4] + " "
			for _, role := range []string{"group", "escapee"} {
				if !strings.Contains(named, fmt.Sprintf(" %d ", pids[role])) {
					t.Errorf("the kill line names pids%s, not the %s's %d", named, role, pids[role])
				}
			}
		})
	}
}

// Nothing left to kill when the grace period ends would be noise at WARN.
func TestNoKillWarningWhenEverythingStops(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startPidone(t, "--grace", "30s", "--", workload, "lingerers", "-code", "5")
	lingerPids(t, p)
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(exitTimeout); code != 5 {
		t.Errorf("exit code %d, want 5", code)
	}
	p.stderr.WaitEOF(t, exitTimeout)
	if log := strings.Join(p.stderr.Snapshot(), "\n"); strings.Contains(log, "level=WARN") {
		t.Errorf("a clean stop logged a warning:\n%s", log)
	}
}

// A signal held by --delay is logged at INFO when it arrives, so that -v
// shows why nothing happens yet.
func TestDelayedSignalIsLoggedAtInfo(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	p := startPidone(t, "-v", "--delay", "TERM:300ms", "--", workload, "lingerers", "-code", "5")
	lingerPids(t, p)
	p.signal(syscall.SIGTERM)
	p.stderr.WaitFor(t, regexp.MustCompile(`level=INFO msg="holding signal \(--delay\)" signal=SIGTERM delay=300ms`), exitTimeout)
	if code := p.exitCode(exitTimeout); code != 5 {
		t.Errorf("exit code %d, want 5", code)
	}
}

// Under a peer's name the kill of what is left stays quiet, as the peer is:
// tini exits when its child does, and the kernel kills the rest unlogged.
func TestKillWarningIsPidonesOwn(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	tini := impls(t, "tini")[0].path
	// tini forwards SIGTERM to the main child alone, which exits 7; the
	// lingerers it leaves ignore SIGTERM, and tini's rules kill them at
	// once.
	p := startAs(t, nil, tini, "--", workload, "lingerers", "-ignore", "-code", "7")
	lingerPids(t, p)
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(exitTimeout); code != 7 {
		t.Errorf("exit code %d, want 7", code)
	}
	p.stderr.WaitEOF(t, exitTimeout)
	if log := strings.Join(p.stderr.Snapshot(), "\n"); strings.Contains(log, "SIGKILL") {
		t.Errorf("pidone as tini logged its kill at tini's default verbosity:\n%s", log)
	}
}

package e2e

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pidone/pidone/test/internal/binary"
	"golang.org/x/sys/unix"
)

// The personalities (docs/personalities.md): pidone installed as tini,
// docker-init, dumb-init or catatonit, run with that peer's documented
// options and held to that peer's documented exit codes and streams. Each
// case runs pidone under the peer's name, and the real peer too when it is
// installed (Debian packages tini, dumb-init, catatonit; `make e2e-peers`
// installs them), so the expectations are checked against the original.
// A missing peer skips only its own half, saying so.

// impl is one program that answers to a peer's name.
type impl struct {
	name string // "pidone" or "real"
	path string // "" when not installed
	err  error  // why the program on PATH cannot stand for the real peer
}

// impls returns pidone installed as peer (a symlink named like it) and the
// real peer from PATH (realPeer).
func impls(t *testing.T, peer string) []impl {
	t.Helper()
	pidone, _ := bins(t)
	// Not t.TempDir(): a subtest's name may hold "=", and env(1) would
	// take the path for a variable assignment.
	dir, err := os.MkdirTemp("", "peers")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	link := filepath.Join(dir, peer)
	if err := os.Symlink(pidone, link); err != nil {
		t.Fatal(err)
	}
	real, err := realPeer(t, peer)
	return []impl{{"pidone", link, nil}, {"real", real, err}}
}

// realPeer finds the real program named peer on PATH for the side-by-side
// halves: "" when none is installed, or an error when what PATH finds under
// that name is pidone itself (a link left by `make install LINKS=peers`, a
// copy, another build). The real half would then compare pidone with
// itself, and its personality answers with the peer's own --version line,
// so this looks at the file instead: the same file as the pidone under
// test, the same bytes, or a Go program whose main package is pidone's.
func realPeer(t *testing.T, peer string) (string, error) {
	t.Helper()
	path, err := exec.LookPath(peer)
	if err != nil {
		return "", nil
	}
	pidone, _ := bins(t)
	refuse := func(why string) (string, error) {
		return "", fmt.Errorf("%s on PATH is %s, not the real %s: %s. The side-by-side test would compare pidone with itself; "+
			"remove it (make uninstall) or put the real %s first on PATH (`make e2e-peers` installs it from Debian)",
			peer, path, peer, why, peer)
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return refuse(fmt.Sprintf("it cannot be resolved (%v)", err))
	}
	peerInfo, err := os.Stat(resolved)
	if err != nil {
		return refuse(err.Error())
	}
	if pidoneInfo, err := os.Stat(pidone); err == nil && os.SameFile(peerInfo, pidoneInfo) {
		return refuse(fmt.Sprintf("it is %s, the pidone under test (same inode)", pidone))
	}
	peerBytes, err := os.ReadFile(resolved)
	if err != nil {
		return refuse(err.Error())
	}
	if pidoneBytes, err := os.ReadFile(pidone); err == nil && bytes.Equal(peerBytes, pidoneBytes) {
		return refuse(fmt.Sprintf("%s has the same bytes as %s, the pidone under test", resolved, pidone))
	}
	if info, err := buildinfo.Read(bytes.NewReader(peerBytes)); err == nil && info.Path == binary.Module {
		return refuse(fmt.Sprintf("%s is a Go program built from %s (%s): another pidone", resolved, binary.Module, info.Main.Version))
	}
	return path, nil
}

// forEach runs f as a subtest for each implementation of peer.
func forEach(t *testing.T, peer string, f func(t *testing.T, bin string)) {
	t.Helper()
	for _, im := range impls(t, peer) {
		t.Run(im.name, func(t *testing.T) {
			if im.err != nil {
				t.Fatal(im.err)
			}
			if im.path == "" {
				t.Skipf("%s is not installed (Debian package %s; `make e2e-peers` installs it as root): only pidone's half ran",
					peer, strings.TrimSuffix(peer, "-static"))
			}
			f(t, im.path)
		})
	}
}

// startAs starts bin as PID 1 of a new PID namespace, with extra
// environment variables set through env(1), which execs it in place.
func startAs(t *testing.T, env []string, bin string, args ...string) *nsInit {
	t.Helper()
	argv := append([]string{bin}, args...)
	if len(env) > 0 {
		argv = append(append([]string{"/usr/bin/env"}, env...), argv...)
	}
	return startInit(t, argv...)
}

// result is how a run ended.
type result struct {
	code           int
	stdout, stderr string
}

func runAs(t *testing.T, env []string, bin string, args ...string) result {
	t.Helper()
	p := startAs(t, env, bin, args...)
	p.closeStdin()
	code := p.exitCode(exitTimeout)
	p.stdout.WaitEOF(t, exitTimeout)
	p.stderr.WaitEOF(t, exitTimeout)
	return result{code, strings.Join(p.stdout.Snapshot(), "\n"), strings.Join(p.stderr.Snapshot(), "\n")}
}

// peerCase is one documented behaviour: a command line, the exit code, and
// what stdout and stderr must match ("" requires the stream to be empty,
// nil leaves it unchecked).
type peerCase struct {
	doc            string
	env            []string
	args           []string
	code           int
	stdout, stderr *regexp.Regexp
}

var empty = regexp.MustCompile(`^$`)

// argv0 in a pattern stands for the program's path exactly as it was
// invoked, which getopt's messages begin with.
const argv0 = "ARGV0"

// forBin returns want with argv0 replaced by bin.
func forBin(want *regexp.Regexp, bin string) *regexp.Regexp {
	if want == nil || !strings.Contains(want.String(), argv0) {
		return want
	}
	return regexp.MustCompile(strings.ReplaceAll(want.String(), argv0, regexp.QuoteMeta(bin)))
}

func re(s string) *regexp.Regexp { return regexp.MustCompile(s) }

func checkCases(t *testing.T, peer string, cases []peerCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.doc, func(t *testing.T) {
			t.Parallel()
			forEach(t, peer, func(t *testing.T, bin string) {
				r := runAs(t, tc.env, bin, tc.args...)
				if r.code != tc.code {
					t.Errorf("%s %q: exit %d, want %d\nstdout: %s\nstderr: %s", peer, tc.args, r.code, tc.code, r.stdout, r.stderr)
				}
				for _, s := range []struct {
					name string
					got  string
					want *regexp.Regexp
				}{{"stdout", r.stdout, forBin(tc.stdout, bin)}, {"stderr", r.stderr, forBin(tc.stderr, bin)}} {
					if s.want != nil && !s.want.MatchString(s.got) {
						t.Errorf("%s %q: %s %q does not match %q", peer, tc.args, s.name, s.got, s.want)
					}
				}
			})
		})
	}
}

// execFailures returns a file without execute permission and a directory.
func execFailures(t *testing.T) (notExecutable, dir string) {
	dir = t.TempDir()
	notExecutable = filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return notExecutable, dir
}

func TestTiniPersonality(t *testing.T) {
	t.Parallel()
	_, w := bins(t)
	noexec, dir := execFailures(t)
	checkCases(t, "tini", []peerCase{
		{doc: "--version", args: []string{"--version"}, code: 0, stdout: re(`^tini version 0\.19\.0( - git\.[^.\s]+)?$`), stderr: empty},
		{doc: "-h on stdout", args: []string{"-h"}, code: 0, stdout: re(`Usage: \S*tini \[OPTIONS\] PROGRAM -- \[ARGS\] \| --version`), stderr: empty},
		{doc: "-l on stdout", args: []string{"-l"}, code: 0, stdout: re(`.`), stderr: empty},
		{doc: "no program: usage, 1", args: nil, code: 1, stdout: empty, stderr: re(`Usage:`)},
		{doc: "unknown option: usage, 1", args: []string{"-Z", "--", w, "exit", "0"}, code: 1, stdout: empty, stderr: re(`Usage:`)},
		{doc: "--version is an option only alone", args: []string{"--version", "--", w, "exit", "0"}, code: 1, stderr: re(`Usage:`)},
		// getopt's words, argv[0] as invoked, then the usage text.
		{doc: "unknown option in getopt's words", args: []string{"-z", "--", w, "exit", "0"}, code: 1, stdout: empty,
			stderr: re(`^ARGV0: invalid option -- 'z'\n` + tiniUsageHead)},
		{doc: "no long options: --yolo is the option '-'", args: []string{"--yolo", "--", w, "exit", "0"}, code: 1, stdout: empty,
			stderr: re(`^ARGV0: invalid option -- '-'\n` + tiniUsageHead)},
		{doc: "-e without its argument", args: []string{"-e"}, code: 1, stdout: empty,
			stderr: re(`^ARGV0: option requires an argument -- 'e'\n` + tiniUsageHead)},
		{doc: "-p without its argument", args: []string{"-s", "-p"}, code: 1, stdout: empty,
			stderr: re(`^ARGV0: option requires an argument -- 'p'\n` + tiniUsageHead)},
		{doc: "bad -p", args: []string{"-p", "NOSUCH", "--", w, "exit", "0"}, code: 1, stderr: re(`^\[FATAL tini \(\d+\)\] Not a valid option for -p: NOSUCH$`)},
		{doc: "bad -e", args: []string{"-e", "256", "--", w, "exit", "0"}, code: 1, stderr: re(`Not a valid option for -e: 256`)},
		{doc: "exit status", args: []string{"--", w, "exit", "3"}, code: 3, stdout: empty, stderr: empty},
		{doc: "-e remaps to 0", args: []string{"-e", "3", "-e", "143", "--", w, "exit", "3"}, code: 0},
		{doc: "-e remaps 128+S", args: []string{"-e", "143", "--", w, "killself", "TERM"}, code: 0},
		{doc: "killed by a signal", args: []string{"--", w, "killself", "TERM"}, code: 143},
		{doc: "-s and -p SIGKILL accepted", args: []string{"-s", "-p", "SIGKILL", "--", w, "exit", "4"}, code: 4},
		{doc: "exec ENOENT: 127", args: []string{"--", "/no/such/command"}, code: 127, stderr: re(`\[FATAL tini \(\d+\)\] exec /no/such/command failed: No such file or directory`)},
		{doc: "exec EACCES: 126", args: []string{"--", noexec}, code: 126, stderr: re(`exec \S+ failed: Permission denied`)},
		{doc: "exec of a directory: 126", args: []string{"--", dir}, code: 126},
		{doc: "-w warns on reaping", args: []string{"-w", "--", w, "storm", "-spawners", "1", "-orphans", "4"}, code: 0,
			stderr: re(`(?m)^\[WARN  tini \(\d+\)\] .*(?i:reaped).*pid=\d+`)},
		{doc: "TINI_VERBOSITY=0 silences -w", env: []string{"TINI_VERBOSITY=0"}, args: []string{"-w", "--", w, "storm", "-spawners", "1", "-orphans", "4"}, code: 0, stderr: empty},
	})
}

// tiniUsageHead is how tini's usage text begins, after getopt's line.
const tiniUsageHead = `tini \(tini version 0\.19\.0[^)\n]*\)\nUsage: tini \[OPTIONS\] PROGRAM -- \[ARGS\] \| --version\n`

func TestDockerInitPersonality(t *testing.T) {
	t.Parallel()
	_, w := bins(t)
	// Debian's docker-init is tini-static; it is what dockerd runs.
	checkCases(t, "docker-init", []peerCase{
		{doc: "--version as dockerd parses it", args: []string{"--version"}, code: 0, stdout: re(`^tini version 0\.19\.0( - git\.[^.\s]+)?$`)},
		{doc: "exit status", args: []string{"--", w, "exit", "3"}, code: 3},
		{doc: "killed by a signal", args: []string{"--", w, "killself", "TERM"}, code: 143},
	})
	// pidone always has the git part: docker info shows it as the commit.
	r := runAs(t, nil, impls(t, "docker-init")[0].path, "--version")
	if !regexp.MustCompile(`^tini version 0\.19\.0 - git\.[^.\s]{1,7}$`).MatchString(r.stdout) {
		t.Errorf("pidone as docker-init --version: %q, want \"tini version 0.19.0 - git.C\", C free of dots, at most 7 characters", r.stdout)
	}
}

func TestDumbInitPersonality(t *testing.T) {
	t.Parallel()
	_, w := bins(t)
	noexec, _ := execFailures(t)
	checkCases(t, "dumb-init", []peerCase{
		{doc: "-V on stderr", args: []string{"-V"}, code: 0, stdout: empty, stderr: re(`^dumb-init v1\.2\.5`)},
		{doc: "--version on stderr", args: []string{"--version"}, code: 0, stdout: empty, stderr: re(`^dumb-init v1\.2\.5`)},
		{doc: "-h on stderr", args: []string{"-h"}, code: 0, stdout: empty, stderr: re(`Usage: \S*dumb-init \[option\] command \[\[arg\] \.\.\.\]`)},
		{doc: "no program: 1", args: nil, code: 1, stderr: re(`Usage: \S*dumb-init \[option\] program \[args\]`)},
		{doc: "unknown option: 1", args: []string{"-Z", w, "exit", "0"}, code: 1, stdout: empty},
		// getopt_long's words, argv[0] as invoked, and nothing more.
		{doc: "unknown short option in getopt's words", args: []string{"-z", w, "exit", "0"}, code: 1, stdout: empty,
			stderr: re(`^ARGV0: invalid option -- 'z'$`)},
		{doc: "unknown long option in getopt's words", args: []string{"--yolo", w, "exit", "0"}, code: 1, stdout: empty,
			stderr: re(`^ARGV0: unrecognized option '--yolo'$`)},
		{doc: "-r without its argument", args: []string{"-r"}, code: 1, stdout: empty,
			stderr: re(`^ARGV0: option requires an argument -- 'r'$`)},
		{doc: "--rewrite without its argument", args: []string{"--rewrite"}, code: 1, stdout: empty,
			stderr: re(`^ARGV0: option '--rewrite' requires an argument$`)},
		{doc: "--single-child takes no argument", args: []string{"--single-child=1", w, "exit", "0"}, code: 1, stdout: empty,
			stderr: re(`^ARGV0: option '--single-child' doesn't allow an argument$`)},
		{doc: "an ambiguous abbreviation", args: []string{"--ver", w, "exit", "0"}, code: 1, stdout: empty,
			stderr: re(`^ARGV0: option '--ver' is ambiguous; possibilities: '--verbose' '--version'$`)},
		{doc: "an abbreviation of one option", args: []string{"--sing", w, "exit", "3"}, code: 3, stdout: empty, stderr: empty},
		{doc: "no program: usage names argv[0] as invoked", args: nil, code: 1, stdout: empty,
			stderr: re(`^Usage: ARGV0 \[option\] program \[args\]\nTry ARGV0 --help for full usage\.$`)},
		{doc: "bad -r: 1", args: []string{"-r", "15", w, "exit", "0"}, code: 1, stderr: re(`Usage: -r option takes <signum>:<signum>`)},
		{doc: "-r out of range: 1", args: []string{"-r", "99:1", w, "exit", "0"}, code: 1},
		{doc: "exit status", args: []string{w, "exit", "3"}, code: 3, stdout: empty, stderr: empty},
		{doc: "exit status, -c", args: []string{"-c", w, "exit", "3"}, code: 3},
		{doc: "killed by a signal", args: []string{w, "killself", "TERM"}, code: 143},
		{doc: "exec failure: 2", args: []string{"/no/such/command"}, code: 2, stderr: re(`^\[dumb-init\] /no/such/command: No such file or directory$`)},
		{doc: "exec EACCES: 2", args: []string{noexec}, code: 2, stderr: re(`^\[dumb-init\] \S+: Permission denied$`)},
	})
}

func TestCatatonitPersonality(t *testing.T) {
	t.Parallel()
	_, w := bins(t)
	noexec, _ := execFailures(t)
	checkCases(t, "catatonit", []peerCase{
		{doc: "-V in tini's shape", args: []string{"-V"}, code: 0, stdout: re(`^tini version 0\.1\.7_catatonit$`), stderr: empty},
		{doc: "--version", args: []string{"--version"}, code: 0, stdout: re(`^tini version 0\.1\.7_catatonit$`)},
		{doc: "-h on stderr", args: []string{"-h"}, code: 0, stdout: empty, stderr: re(`usage: \S*catatonit \[-ghLPV\] \[--\] <progname> \[<arguments>\.\.\.\]`)},
		{doc: "-L on stdout", args: []string{"-L"}, code: 0, stdout: re(`.`), stderr: empty},
		{doc: "no program: 1", args: nil, code: 1, stderr: re(`^ERROR \(\S*catatonit:1\): missing program name\nusage:`)},
		{doc: "unknown option: 1", args: []string{"-Z", "--", w, "exit", "0"}, code: 1, stderr: re(`usage:`)},
		// getopt_long's words, argv[0] as invoked, then the usage line.
		{doc: "unknown short option in getopt's words", args: []string{"-z", "--", w, "exit", "0"}, code: 1, stdout: empty,
			stderr: re(`^ARGV0: invalid option -- 'z'\n` + catatonitUsageLine + `$`)},
		{doc: "unknown long option in getopt's words", args: []string{"--yolo", "--", w, "exit", "0"}, code: 1, stdout: empty,
			stderr: re(`^ARGV0: unrecognized option '--yolo'\n` + catatonitUsageLine + `$`)},
		{doc: "--help is not an option", args: []string{"--help"}, code: 1, stdout: empty,
			stderr: re(`^ARGV0: unrecognized option '--help'\n` + catatonitUsageLine + `$`)},
		{doc: "--version takes no argument", args: []string{"--version=3", "--", w, "exit", "0"}, code: 1, stdout: empty,
			stderr: re(`^ARGV0: option '--version' doesn't allow an argument\n` + catatonitUsageLine + `$`)},
		{doc: "an abbreviation of --version", args: []string{"--vers"}, code: 0, stdout: re(`^tini version 0\.1\.7_catatonit$`), stderr: empty},
		{doc: "exit status", args: []string{"--", w, "exit", "3"}, code: 3, stdout: empty, stderr: empty},
		{doc: "killed by a signal", args: []string{"--", w, "killself", "TERM"}, code: 143},
		{doc: "exec failure: 1", args: []string{"--", "/no/such/command"}, code: 1, stderr: re(`^ERROR \(\S*catatonit:\d+\): failed to exec pid1: No such file or directory$`)},
		{doc: "exec EACCES: 1", args: []string{"--", noexec}, code: 1, stderr: re(`failed to exec pid1: Permission denied`)},
	})
}

// catatonitUsageLine is catatonit's usage line, under any name.
const catatonitUsageLine = `usage: catatonit \[-ghLPV\] \[--\] <progname> \[<arguments>\.\.\.\]`

// forwardCase: which of sigrecord's child and grandchild get which signal
// when sig is sent to PID 1.
type forwardCase struct {
	doc             string
	env             []string
	args            []string // before the command
	send            syscall.Signal
	child, grandkid []syscall.Signal
}

func checkForwarding(t *testing.T, peer string, cases []forwardCase) {
	t.Helper()
	_, w := bins(t)
	for _, tc := range cases {
		t.Run(tc.doc, func(t *testing.T) {
			t.Parallel()
			forEach(t, peer, func(t *testing.T, bin string) {
				args := append(append([]string{}, tc.args...), "--", w, "sigrecord", "-grandchild")
				p := startAs(t, tc.env, bin, args...)
				p.stdout.WaitFor(t, regexp.MustCompile(`^child \d+ ready$`), exitTimeout)
				p.stdout.WaitFor(t, regexp.MustCompile(`^grandchild \d+ ready$`), exitTimeout)
				p.signal(tc.send)
				for _, w := range []struct {
					role string
					sigs []syscall.Signal
				}{{"child", tc.child}, {"grandchild", tc.grandkid}} {
					for _, sig := range w.sigs {
						p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^%s \d+ %d$`, w.role, int(sig))), exitTimeout)
					}
				}
				// SIGWINCH reaches the child in every mode; then time for
				// a signal that should not have gone anywhere to show up
				// (pending signals are delivered by number, not in order).
				p.signal(syscall.SIGWINCH)
				p.stdout.WaitFor(t, regexp.MustCompile(`^child \d+ 28$`), exitTimeout)
				time.Sleep(150 * time.Millisecond)
				p.closeStdin()
				if code := p.exitCode(exitTimeout); code != 0 {
					t.Errorf("exit %d after stdin EOF, want 0", code)
				}
				p.stdout.WaitEOF(t, exitTimeout)
				got := received(p.stdout.Snapshot())
				checkReceived(t, got, "child", append(tc.child, syscall.SIGWINCH))
				// The grandchild's SIGWINCH depends on the mode, as does
				// everything else; only the signal under test counts.
				delete(got["grandchild"], int(syscall.SIGWINCH))
				checkReceived(t, got, "grandchild", tc.grandkid)
			})
		})
	}
}

func TestTiniForwarding(t *testing.T) {
	t.Parallel()
	usr1 := []syscall.Signal{syscall.SIGUSR1}
	checkForwarding(t, "tini", []forwardCase{
		{doc: "the child only by default", send: syscall.SIGUSR1, child: usr1},
		{doc: "-g: the process group", args: []string{"-g"}, send: syscall.SIGUSR1, child: usr1, grandkid: usr1},
		{doc: "TINI_KILL_PROCESS_GROUP: the group", env: []string{"TINI_KILL_PROCESS_GROUP=1"}, send: syscall.SIGUSR1, child: usr1, grandkid: usr1},
		{doc: "SIGTERM is forwarded, not a stop of everything", send: syscall.SIGTERM, child: []syscall.Signal{syscall.SIGTERM}},
		{doc: "realtime signals too", args: []string{"-g"}, send: 40, child: []syscall.Signal{40}, grandkid: []syscall.Signal{40}},
	})
}

func TestDumbInitForwarding(t *testing.T) {
	t.Parallel()
	usr1 := []syscall.Signal{syscall.SIGUSR1}
	checkForwarding(t, "dumb-init", []forwardCase{
		{doc: "the child's session by default", send: syscall.SIGUSR1, child: usr1, grandkid: usr1},
		{doc: "-c: the child only", args: []string{"-c"}, send: syscall.SIGUSR1, child: usr1},
		{doc: "DUMB_INIT_SETSID=0: the child only", env: []string{"DUMB_INIT_SETSID=0"}, send: syscall.SIGUSR1, child: usr1},
		{doc: "-r 10:12 rewrites", args: []string{"-r", "10:12"}, send: syscall.SIGUSR1,
			child: []syscall.Signal{syscall.SIGUSR2}, grandkid: []syscall.Signal{syscall.SIGUSR2}},
		{doc: "-r 15:0 drops SIGTERM", args: []string{"-r", "15:0"}, send: syscall.SIGTERM},
	})
}

func TestCatatonitForwarding(t *testing.T) {
	t.Parallel()
	usr1 := []syscall.Signal{syscall.SIGUSR1}
	checkForwarding(t, "catatonit", []forwardCase{
		{doc: "the child only by default", send: syscall.SIGUSR1, child: usr1},
		{doc: "-g: the process group", args: []string{"-g"}, send: syscall.SIGUSR1, child: usr1, grandkid: usr1},
		{doc: "SIGTSTP sent to catatonit is ignored", args: []string{"-g"}, send: syscall.SIGTSTP},
		{doc: "SIGTTIN sent to catatonit is ignored", send: syscall.SIGTTIN},
	})
}

func TestCatatonitPause(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(unix.SignalName(sig), func(t *testing.T) {
			t.Parallel()
			forEach(t, "catatonit", func(t *testing.T, bin string) {
				// Ready: catatonit blocks every signal first thing (it
				// reads them from a signalfd); pidone says so in its log.
				// /proc cannot tell for a Go program: its handlers are in
				// place before main runs, and its start-up blocks every
				// signal for a moment whenever it creates a thread.
				p := startAs(t, []string{"CATATONIT_DEBUG=1"}, bin, "-P")
				eventually(t, exitTimeout, func() (bool, string) {
					if isPidone(t, bin) {
						return p.stderr.Count(pauseReady) > 0, "pidone has not said it waits"
					}
					return blocks(p.pid, sig), "catatonit does not block the signal yet"
				})
				p.signal(sig)
				if code := p.exitCode(exitTimeout); code != 0 {
					t.Errorf("catatonit -P: exit %d after %v, want 0", code, sig)
				}
			})
		})
	}
}

// isPidone reports whether bin is pidone under a peer's name (impls).
func isPidone(t *testing.T, bin string) bool {
	pidone, _ := bins(t)
	target, err := os.Readlink(bin)
	return err == nil && target == pidone
}

// pauseReady is pidone's log line once it waits in pause mode.
var pauseReady = regexp.MustCompile(`pause: reaping`)

// blocks reports whether pid blocks sig (catatonit reads its signals from
// a signalfd, with every signal blocked).
func blocks(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigBlk:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&(1<<(uint(sig)-1)) != 0
		}
	}
	return false
}

// TestListenPID: a socket activator (holdfd) passes descriptor 3 with
// LISTEN_PID naming PID 1. catatonit, and pidone, hand it on to the child
// with the child's own pid, and catatonit closes its own copy.
func TestListenPID(t *testing.T) {
	t.Parallel()
	pidone, w := bins(t)
	check := func(t *testing.T, bin string, closes bool, args ...string) {
		p := startInit(t, append([]string{w, "holdfd", "--", bin}, append(args, "--", w, "listenpid")...)...)
		m := p.stdout.WaitFor(t, regexp.MustCompile(`^LISTEN_PID=(\S+) pid=(\d+) fd3=(\w+)$`), exitTimeout)
		if m[1] != m[2] {
			t.Errorf("the child sees LISTEN_PID=%s, want its own pid %s", m[1], m[2])
		}
		if m[3] != "true" {
			t.Errorf("the child has no descriptor 3: the socket was not passed on")
		}
		// The passed descriptor is a pipe. Once PID 1 has closed it, the
		// number may be reused: by the Go runtime's epoll descriptor, as
		// soon as pidone arms a timer.
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/3", p.pid))
		if open := err == nil && strings.HasPrefix(target, "pipe:"); open == closes {
			t.Errorf("PID 1 still holds the passed descriptor 3: %v (%q), want %v", open, target, !closes)
		}
		p.closeStdin()
		if code := p.exitCode(exitTimeout); code != 0 {
			t.Errorf("exit %d, want 0", code)
		}
	}
	t.Run("catatonit", func(t *testing.T) {
		t.Parallel()
		forEach(t, "catatonit", func(t *testing.T, bin string) { check(t, bin, true) })
	})
	t.Run("pidone", func(t *testing.T) {
		t.Parallel()
		check(t, pidone, false)
	})
}

// TestDumbInitSuspendsItself: dumb-init's job-control rule, below another
// init (a namespace's init cannot be stopped from inside). SIGTSTP to
// dumb-init stops the child's session with SIGSTOP and then dumb-init
// itself; SIGCONT resumes both.
func TestDumbInitSuspendsItself(t *testing.T) {
	t.Parallel()
	_, w := bins(t)
	forEach(t, "dumb-init", func(t *testing.T, bin string) {
		p := startInit(t, w, "noreap", "--", bin, w, "sigrecord")
		m := p.stderr.WaitFor(t, regexp.MustCompile(`^noreap child pid=(\d+)$`), exitTimeout)
		initPid, _ := strconv.Atoi(m[1])
		m = p.stdout.WaitFor(t, regexp.MustCompile(`^child (\d+) ready$`), exitTimeout)
		childPid, _ := strconv.Atoi(m[1])
		host := hostPids(t, p.pid, initPid, childPid)

		if err := unix.Kill(host[initPid], unix.SIGTSTP); err != nil {
			t.Fatal(err)
		}
		for _, who := range []struct {
			name string
			pid  int
		}{{"the child", host[childPid]}, {"dumb-init", host[initPid]}} {
			eventually(t, exitTimeout, func() (bool, string) {
				pr, err := readProc(who.pid)
				return err == nil && pr.state == "T", fmt.Sprintf("%s is in state %s, want T (stopped)", who.name, pr.state)
			})
		}
		if err := unix.Kill(host[initPid], unix.SIGCONT); err != nil {
			t.Fatal(err)
		}
		// The child is continued by the forwarded SIGCONT, and reports it.
		p.stdout.WaitFor(t, regexp.MustCompile(`^child \d+ 18$`), exitTimeout)
		for _, pid := range []int{host[childPid], host[initPid]} {
			if pr, err := readProc(pid); err != nil || pr.state == "T" {
				t.Errorf("pid %d still stopped after SIGCONT (%v)", pid, err)
			}
		}
		p.closeStdin()
	})
}

// hostPids maps namespace pids to host pids in the namespace of init.
func hostPids(t *testing.T, init int, nsPids ...int) map[int]int {
	t.Helper()
	want := map[int]bool{}
	for _, p := range nsPids {
		want[p] = true
	}
	got := map[int]int{}
	for _, pr := range nsProcs(t, init) {
		if n, err := nsPidOf(pr.pid); err == nil && want[n] {
			got[n] = pr.pid
		}
	}
	for _, p := range nsPids {
		if got[p] == 0 {
			t.Fatalf("no process with namespace pid %d", p)
		}
	}
	return got
}

// noreapChild waits for `workload noreap` (PID 1 of p's namespace, which
// never reaps) to name the child it started, and returns that child's host
// pid.
func noreapChild(t *testing.T, p *nsInit) int {
	t.Helper()
	m := p.stderr.WaitFor(t, regexp.MustCompile(`^noreap child pid=(\d+)$`), exitTimeout)
	nsPid, _ := strconv.Atoi(m[1])
	return hostPids(t, p.pid, nsPid)[nsPid]
}

// TestRealPeerRefusesPidone: a "real" peer on PATH that is pidone (a link to
// the binary under test, a copy of it, another pidone build) is refused
// with its path named, and a program that is not pidone is taken.
func TestRealPeerRefusesPidone(t *testing.T) {
	pidone, workload := bins(t)
	dir := t.TempDir()
	pidoneBytes, err := os.ReadFile(pidone)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(pidone, filepath.Join(dir, "tini")); err != nil { // make install LINKS=peers
		t.Fatal(err)
	}
	write("dumb-init", pidoneBytes)                                       // a copy
	write("catatonit", append(slices.Clone(pidoneBytes), 0))              // another build
	write("docker-init", []byte("#!/bin/sh\necho tini version 0.19.0\n")) // not pidone
	workloadBytes, err := os.ReadFile(workload)
	if err != nil {
		t.Fatal(err)
	}
	write("tini-static", workloadBytes) // a Go program of pidone's module, but not pidone
	t.Setenv("PATH", dir)

	for _, tc := range []struct {
		peer, why string // why: "" if the peer is taken
	}{
		{"tini", "same inode"},
		{"dumb-init", "same bytes"},
		{"catatonit", "another pidone"},
		{"docker-init", ""},
		{"tini-static", ""},
		{"no-such-peer", ""},
	} {
		path, err := realPeer(t, tc.peer)
		switch {
		case tc.why == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.peer, err)
		case tc.why == "" && tc.peer != "no-such-peer" && path != filepath.Join(dir, tc.peer):
			t.Errorf("%s: path %q, want %s", tc.peer, path, filepath.Join(dir, tc.peer))
		case tc.why != "" && (err == nil || !strings.Contains(err.Error(), tc.why) || !strings.Contains(err.Error(), filepath.Join(dir, tc.peer))):
			t.Errorf("%s: got path %q, error %v; want a refusal naming %s and saying %q", tc.peer, path, err, filepath.Join(dir, tc.peer), tc.why)
		}
	}
}

// startIn starts bin as PID 1 of a new PID namespace with dir as its
// working directory (env(1) changes to it and execs bin in place).
func startIn(t *testing.T, dir, bin string, args ...string) *nsInit {
	t.Helper()
	return startInit(t, append([]string{"/usr/bin/env", "--chdir=" + dir, bin}, args...)...)
}

// cwdOf is where /proc/PID/cwd points.
func cwdOf(pid int) string {
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return err.Error()
	}
	return cwd
}

// TestDumbInitChangesToRoot: dumb-init changes to / once its child runs,
// so that it does not keep the directory it was started in busy (`cd /tmp
// && dumb-init sh -c 'readlink /proc/$PPID/cwd'` prints /); pidone as
// dumb-init does too.
func TestDumbInitChangesToRoot(t *testing.T) {
	t.Parallel()
	_, w := bins(t)
	forEach(t, "dumb-init", func(t *testing.T, bin string) {
		dir := t.TempDir()
		p := startIn(t, dir, bin, w, "sigrecord")
		p.stdout.WaitFor(t, regexp.MustCompile(`^child \d+ ready$`), exitTimeout)
		eventually(t, exitTimeout, func() (bool, string) {
			cwd := cwdOf(p.pid)
			return cwd == "/", fmt.Sprintf("dumb-init runs in %s, want /", cwd)
		})
		p.closeStdin()
		if code := p.exitCode(exitTimeout); code != 0 {
			t.Errorf("exit %d after stdin EOF, want 0", code)
		}
	})
}

// TestCatatonitChangesToRoot: catatonit's source changes to / after
// starting its child (the CHANGELOG's "Unreleased" after 0.2.0, #28 and
// #33); 0.1.7 (Debian's) and 0.2.0 stay where they were started. pidone as
// catatonit follows the source; the real half only reports what the
// installed catatonit does (docs/personalities.md).
func TestCatatonitChangesToRoot(t *testing.T) {
	t.Parallel()
	_, w := bins(t)
	forEach(t, "catatonit", func(t *testing.T, bin string) {
		dir := t.TempDir()
		p := startIn(t, dir, bin, "--", w, "sigrecord")
		p.stdout.WaitFor(t, regexp.MustCompile(`^child \d+ ready$`), exitTimeout)
		if isPidone(t, bin) {
			eventually(t, exitTimeout, func() (bool, string) {
				cwd := cwdOf(p.pid)
				return cwd == "/", fmt.Sprintf("pidone as catatonit runs in %s, want /", cwd)
			})
		} else {
			t.Logf("the installed catatonit runs in %s once its child runs (started in %s; releases up to 0.2.0 do not change to /)", cwdOf(p.pid), dir)
		}
		p.closeStdin()
		if code := p.exitCode(exitTimeout); code != 0 {
			t.Errorf("exit %d after stdin EOF, want 0", code)
		}
	})
}

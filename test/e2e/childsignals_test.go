package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// The signal state a child starts with (issue: signal-exact core). For
// each way pidone can be installed, under several inherited masks and
// ignored sets, the child's SigBlk, SigIgn and SigCgt must be what the peer
// pidone replaces gives it (docs/personalities.md, "What the child
// inherits"): computed from what the parent handed over, and, where the
// real peer is installed, equal to what the real peer's child shows.

// inheritance is what a parent hands the init it execs.
type inheritance struct {
	doc   string
	mask  uint64 // blocked (bit sig-1)
	trap  string // signals the parent shell sets to SIG_IGN (`trap "" ...`)
	extra []string
}

var inheritances = []inheritance{
	{doc: "nothing blocked or ignored"},
	{doc: "TERM and USR1 blocked, INT and PIPE ignored (nohup, systemd)", mask: bit(unix.SIGTERM) | bit(unix.SIGUSR1), trap: "INT PIPE"},
	{doc: "realtime blocked, HUP USR2 WINCH 35 40 ignored", mask: bit(unix.SIGHUP) | bit(40) | bit(64), trap: "HUP USR2 WINCH 35 40"},
	{doc: "job-control signals blocked and ignored", mask: bit(unix.SIGTSTP) | bit(unix.SIGTTOU), trap: "TTIN TTOU QUIT"},
}

func bit(sig unix.Signal) uint64 { return 1 << (sig - 1) }

// childState is a child's signal state from /proc/PID/status.
type childState struct{ blk, ign, cgt uint64 }

// parseState reads the Sig* lines cat printed.
func parseState(t *testing.T, out string) childState {
	t.Helper()
	var s childState
	found := 0
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		switch k {
		case "SigBlk":
			s.blk, found = n, found+1
		case "SigIgn":
			s.ign, found = n, found+1
		case "SigCgt":
			s.cgt, found = n, found+1
		default:
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	if found != 3 {
		t.Fatalf("no SigBlk/SigIgn/SigCgt in %q", out)
	}
	return s
}

// runInherited runs argv from a shell that sets in's SIG_IGN dispositions,
// on a thread that blocks in's mask, so that argv starts with both.
func runInherited(t *testing.T, in inheritance, argv ...string) string {
	t.Helper()
	out, err := outputInherited(in, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// outputInherited is runInherited for any goroutine: it returns the
// failure instead of failing the test.
func outputInherited(in inheritance, argv ...string) (string, error) {
	script := `exec "$@"`
	if in.trap != "" {
		script = `trap "" ` + in.trap + `; ` + script
	}
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "sh"}, argv...)...)
	cmd.Env = append(os.Environ(), in.extra...)
	var out []byte
	var err error
	withMask(in.mask, func() { out, err = cmd.Output() })
	if err != nil {
		return "", fmt.Errorf("%q: %v\n%s", argv, err, out)
	}
	return string(out), nil
}

// runtimeUnblocks is what the Go runtime unblocks on every thread
// (runtime.blockableSig): without the entry point pidone cannot see
// whether these were inherited blocked.
var runtimeUnblocks = bit(unix.SIGHUP) | bit(unix.SIGINT) | bit(unix.SIGQUIT) | bit(unix.SIGILL) | bit(unix.SIGTRAP) |
	bit(unix.SIGABRT) | bit(unix.SIGBUS) | bit(unix.SIGFPE) | bit(unix.SIGSEGV) | bit(unix.SIGTERM) | bit(unix.SIGSTKFLT) |
	bit(unix.SIGCHLD) | bit(unix.SIGPROF) | bit(unix.SIGSYS) | bit(32) | bit(33) | bit(34)

const jobControl = 1<<(unix.SIGTSTP-1) | 1<<(unix.SIGTTIN-1) | 1<<(unix.SIGTTOU-1)

// wantChild is the state the peer gives its child when the parent state
// is parent; exact says pidone could see all of it (the entry point).
func wantChild(peer string, parent childState, exact bool) childState {
	if !exact {
		parent.blk &^= runtimeUnblocks
		parent.ign &= bit(unix.SIGHUP) | bit(unix.SIGINT)
	}
	switch peer {
	case "dumb-init":
		return childState{ign: parent.ign &^ (1<<31 - 1)}
	case "catatonit":
		return childState{blk: parent.blk | jobControl, ign: parent.ign}
	}
	return childState{blk: parent.blk, ign: parent.ign}
}

// peerArgv is how each peer runs `cat /proc/self/status`.
var peerArgv = map[string][]string{
	"pidone":      {"--", "cat", "/proc/self/status"},
	"workers":     {"--workers", "1", "--restart", "never", "--", "cat", "/proc/self/status"},
	"tini":        {"-s", "--", "cat", "/proc/self/status"},
	"docker-init": {"-s", "--", "cat", "/proc/self/status"},
	"catatonit":   {"--", "cat", "/proc/self/status"},
	"dumb-init":   {"cat", "/proc/self/status"},
}

func TestChildSignalState(t *testing.T) {
	t.Parallel()
	withEntry, _ := bins(t)
	noEntry := os.Getenv("PIDONE_NOENTRY_BIN")
	if noEntry == "" {
		t.Fatal("PIDONE_NOENTRY_BIN is not set: run through `make e2e`")
	}
	for _, in := range inheritances {
		t.Run(in.doc, func(t *testing.T) {
			parent := parseState(t, runInherited(t, in, "cat", "/proc/self/status"))
			// Every init of this inheritance runs at once. Each one,
			// not PID 1, ends by walking /proc for what is left below
			// it, a good part of a second on a busy machine: one after
			// the other, the 64 runs made this the slowest test of the
			// e2e tier.
			type trial struct {
				peer, build string // build: "entry", "no entry" or "real"
				exact       bool
				argv        []string
				out         string
				err         error
			}
			var trials []*trial
			for _, peer := range []string{"pidone", "workers", "tini", "docker-init", "catatonit", "dumb-init"} {
				for _, build := range []struct {
					name  string
					bin   string
					exact bool
				}{{"entry", withEntry, true}, {"no entry", noEntry, false}} {
					trials = append(trials, &trial{peer: peer, build: build.name, exact: build.exact,
						argv: append([]string{linkAs(t, build.bin, peer)}, peerArgv[peer]...)})
				}
				if peer == "pidone" || peer == "workers" {
					continue
				}
				real := impls(t, peer)[1].path
				if real == "" {
					t.Logf("%s is not installed: pidone's child was checked against the table only", peer)
					continue
				}
				trials = append(trials, &trial{peer: peer, build: "real", argv: append([]string{real}, peerArgv[peer]...)})
			}
			var wg sync.WaitGroup
			for _, tr := range trials {
				wg.Go(func() { tr.out, tr.err = outputInherited(in, tr.argv...) })
			}
			wg.Wait()
			state := map[[2]string]childState{}
			for _, tr := range trials {
				if tr.err != nil {
					t.Fatal(tr.err)
				}
				state[[2]string{tr.peer, tr.build}] = parseState(t, tr.out)
			}
			for _, tr := range trials {
				got := state[[2]string{tr.peer, tr.build}]
				if tr.build == "real" {
					// pidone's child under the peer's name (the entry
					// build, as released) against the real peer's.
					if mine := state[[2]string{tr.peer, "entry"}]; mine != got {
						t.Errorf("%s: pidone's child %016x/%016x/%016x, the real %s's %016x/%016x/%016x",
							tr.peer, mine.blk, mine.ign, mine.cgt, tr.peer, got.blk, got.ign, got.cgt)
					}
					continue
				}
				if want := wantChild(tr.peer, parent, tr.exact); got != want {
					t.Errorf("%s (%s build): child SigBlk/SigIgn/SigCgt = %016x/%016x/%016x, want %016x/%016x/%016x (parent %016x/%016x)",
						tr.peer, tr.build, got.blk, got.ign, got.cgt, want.blk, want.ign, want.cgt, parent.blk, parent.ign)
				}
			}
		})
	}
}

// linkAs returns a path that runs bin under the name peer ("pidone" and
// its workers mode: bin itself).
func linkAs(t *testing.T, bin, peer string) string {
	t.Helper()
	if peer == "pidone" || peer == "workers" {
		return bin
	}
	dir := t.TempDir()
	link := dir + "/" + peer
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// TestBuildWithoutEntrySaysSo: the fallback build logs at debug level that
// it has no entry point; the entry build does not.
func TestBuildWithoutEntrySaysSo(t *testing.T) {
	t.Parallel()
	withEntry, _ := bins(t)
	noEntry := os.Getenv("PIDONE_NOENTRY_BIN")
	for _, tc := range []struct {
		bin  string
		want bool
	}{{noEntry, true}, {withEntry, false}} {
		out, err := exec.Command(tc.bin, "-vv", "--", "true").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.bin, err, out)
		}
		if got := strings.Contains(string(out), "built without the entry point"); got != tc.want {
			t.Errorf("%s -vv: says it has no entry point: %v, want %v\n%s", tc.bin, got, tc.want, out)
		}
	}
}

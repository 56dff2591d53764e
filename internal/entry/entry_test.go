package entry

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/pidone/pidone/internal/sigsys"
	"golang.org/x/sys/unix"
)

// The tests run twice in `make unit`: as built by plain `go test` (no entry)
// and linked with the entry (-ldflags=-E=...rt0), where PIDONE_TEST_ENTRY=1
// says which to expect. Each check then re-executes this test binary with a
// known mask and dispositions, as a parent would exec pidone.

const (
	wantEntryEnv = "PIDONE_TEST_ENTRY"
	reportEnv    = "PIDONE_ENTRY_REPORT"
)

// TestMain answers for a re-executed copy: it prints what rt0 recorded and
// what the thread's mask is now, and exits.
func TestMain(m *testing.M) {
	if os.Getenv(reportEnv) != "" {
		in := Signals()
		lim, _ := InheritedNofile()
		var now unix.Sigset_t
		unix.PthreadSigmask(unix.SIG_BLOCK, nil, &now)
		os.Stdout.WriteString(strings.Join([]string{
			strconv.FormatBool(in.Exact),
			strconv.FormatUint(in.Mask, 16),
			strconv.FormatUint(in.Ignored, 16),
			strconv.FormatUint(lim.Cur, 10),
			strconv.FormatUint(sigsys.Bits(now), 16),
		}, " ") + "\n")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestEntryRecordsWhatWasInherited(t *testing.T) {
	withEntry := os.Getenv(wantEntryEnv) == "1"
	if Ran() != withEntry {
		t.Fatalf("Ran() = %v, but %s=%q", Ran(), wantEntryEnv, os.Getenv(wantEntryEnv))
	}
	if !withEntry {
		t.Log("this binary has no entry point; `make unit` runs the package again linked with it")
	}
	// The parent: a shell that ignores INT and PIPE and lowers the soft
	// RLIMIT_NOFILE, started with USR2 and TERM blocked (exec keeps the
	// mask). What this test process was itself started with ignored
	// (GNU make ignores 32 and 33 for its recipes, say) is passed on too:
	// a run without the trap says what that is.
	const inheritedSoft = 200
	report := func(trap string) []string {
		cmd := exec.Command("/bin/sh", "-c", trap+`ulimit -Sn `+strconv.Itoa(inheritedSoft)+`; exec "$0"`, os.Args[0])
		cmd.Env = append(os.Environ(), reportEnv+"=1")
		out, err := runWithMask(cmd, 1<<(unix.SIGUSR2-1)|1<<(unix.SIGTERM-1))
		if err != nil {
			t.Fatalf("re-exec: %v\n%s", err, out)
		}
		f := strings.Fields(string(out))
		if len(f) != 5 {
			t.Fatalf("report %q", out)
		}
		return f
	}
	base, f := report(""), report(`trap "" INT PIPE; `)
	if !withEntry {
		if f[0] != "false" {
			t.Errorf("without the entry the inherited state must not claim to be exact: %q", f)
		}
		return
	}
	baseIgnored, _ := strconv.ParseUint(base[2], 16, 64)
	want := []string{
		"true",
		strconv.FormatUint(1<<(unix.SIGUSR2-1)|1<<(unix.SIGTERM-1), 16),
		strconv.FormatUint(baseIgnored|1<<(unix.SIGINT-1)|1<<(unix.SIGPIPE-1), 16),
		strconv.Itoa(inheritedSoft),
	}
	for i, w := range want {
		if f[i] != w {
			t.Errorf("field %d (ran, mask, ignored, nofile) = %s, want %s", i, f[i], w)
		}
	}
	// The main thread's mask now: the entry's set and what was inherited,
	// less what the runtime unblocks on every thread (TERM among them; and
	// URG, since a test binary runs with asynchronous preemption).
	now, _ := strconv.ParseUint(f[4], 16, 64)
	if want := Blocked() &^ (1 << (unix.SIGURG - 1)); now&want != want {
		t.Errorf("main thread mask %#x lacks part of the entry's set %#x", now, want)
	}
	if now&(1<<(unix.SIGUSR2-1)) == 0 {
		t.Errorf("main thread mask %#x lost the inherited USR2", now)
	}
}

// runWithMask runs cmd from a thread whose mask is mask, so that the
// process starts with it (fork keeps the forking thread's mask; exec keeps
// it; the runtime's ForkExec restores that thread's mask in the child).
func runWithMask(cmd *exec.Cmd, mask uint64) ([]byte, error) {
	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		defer close(done)
		lockedWithMask(mask, func() { out, err = cmd.CombinedOutput() })
	}()
	<-done
	return out, err
}

package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An idle pidone gives back the pages of its binary that start-up touched
// (internal/trim, docs/performance.md), in every mode, once it has
// settled; and after that it does not wake up again.
func TestIdlePidoneTrimsItsBinaryOnceAndSleeps(t *testing.T) {
	_, workload := bins(t)
	for _, tc := range []struct {
		doc  string
		args []string
	}{
		{"single command", []string{"--", workload, "sleep", "1h"}},
		{"pause", []string{"--pause"}},
		{"workers master", []string{"--workers", "2", "--", workload, "worker"}},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			t.Parallel()
			pidone := ownCopy(t)
			p := startInit(t, append([]string{pidone}, tc.args...)...)
			// Start-up maps in all of the read-only data (read-around);
			// the trim pages it out. Under load the trim may come late.
			var size, rss int
			eventually(t, 30*time.Second, func() (bool, string) {
				size, rss = readOnlyData(t, p.pid, pidone)
				return size > 0 && rss > size/2, fmt.Sprintf("%d of %d KiB of pidone's read-only data resident", rss, size)
			})
			eventually(t, 30*time.Second, func() (bool, string) {
				size, rss = readOnlyData(t, p.pid, pidone)
				return size > 0 && rss < size/4, fmt.Sprintf("%d of %d KiB of pidone's read-only data resident", rss, size)
			})
			t.Logf("read-only data resident after the trim: %d of %d KiB", rss, size)

			// The trim's timer must not come back: an idle pidone
			// (its threads asleep) adds no context switch.
			time.Sleep(time.Second)
			before := contextSwitches(t, p.pid)
			time.Sleep(2 * time.Second)
			if after := contextSwitches(t, p.pid); after != before {
				t.Errorf("idle pidone woke up: %d context switches in 2 s", after-before)
			}
		})
	}
}

// ownCopy copies pidone for one test. The kernel pages out only what no
// other process maps, and every other test runs the same pidone file. The
// copy is written back at once: the kernel cannot page out dirty pages.
func ownCopy(t *testing.T) string {
	t.Helper()
	pidone, _ := bins(t)
	b, err := os.ReadFile(pidone)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pidone")
	// No fork while the file is open for writing: a child of another
	// test, forked in between and not yet exec'd, would hold the
	// descriptor, and running the copy would fail with ETXTBSY
	// (golang/go#22315).
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// readOnlyData sums the size and the resident part of pid's read-only data
// mappings of its binary (r--p mappings of exe), in KiB.
func readOnlyData(t *testing.T, pid int, exe string) (size, rss int) {
	t.Helper()
	exe, err := filepath.EvalSymlinks(exe)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) >= 6 && strings.Contains(fields[0], "-") {
			in = fields[1] == "r--p" && fields[5] == exe
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !in || !ok || (key != "Size" && key != "Rss") {
			continue
		}
		kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")))
		if err != nil {
			t.Fatalf("smaps of %d: %q: %v", pid, line, err)
		}
		if key == "Size" {
			size += kb
		} else {
			rss += kb
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return size, rss
}

// contextSwitches sums the voluntary and involuntary context switches of
// all of pid's threads: every wake-up of a thread adds one.
func contextSwitches(t *testing.T, pid int) int {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue // the thread is gone
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "voluntary_ctxt_switches") {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				sum += n
			}
		}
	}
	return sum
}

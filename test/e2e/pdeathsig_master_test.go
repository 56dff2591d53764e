package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A pidone that is not PID 1 and dies by SIGKILL must not leave its main
// child or its workers running (issue 19, item 3): they get SIGKILL from
// the kernel as pidone dies (PR_SET_PDEATHSIG, docs/lifecycle.md).
//
// pidone runs below `workload noreap`, a PID 1 that never reaps: whatever
// pidone leaves behind is re-parented to it and, once dead, stays a zombie
// for the test to see.

// orphanDeadline is how soon after pidone's death its children must be
// dead: the bound.
const orphanDeadline = time.Second

func TestChildrenDieWithSIGKILLedPidone(t *testing.T) {
	for _, tc := range []struct {
		name     string
		peer     string // run pidone under this peer's name
		args     []string
		children int
		// survivors: under a peer's name the child keeps that peer's
		// state, and none of the peers sets a parent-death signal.
		survivors int
	}{
		{"single mode", "", []string{"--", "sleep", "600"}, 1, 0},
		{"workers mode", "", []string{"--workers", "3", "--", "sleep", "600"}, 3, 0},
		{"as tini, as tini does", "tini", []string{"--", "sleep", "600"}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pidone, workload := bins(t)
			if tc.peer != "" {
				pidone = impls(t, tc.peer)[0].path
			}
			p := startInit(t, append([]string{workload, "noreap", "--", pidone}, tc.args...)...)
			m := p.stderr.WaitFor(t, regexp.MustCompile(`^noreap child pid=(\d+)$`), exitTimeout)
			nsPid, _ := strconv.Atoi(m[1])

			// alive lists the live processes of the namespace but its
			// init and pidone.
			master := 0
			alive := func() []int {
				var live []int
				for _, pr := range nsProcs(t, p.pid) {
					if master == 0 {
						if got, err := nsPidOf(pr.pid); err == nil && got == nsPid {
							master = pr.pid
						}
					}
					if pr.pid != p.pid && pr.pid != master && pr.state != "Z" {
						live = append(live, pr.pid)
					}
				}
				return live
			}
			eventually(t, exitTimeout, func() (bool, string) {
				n := len(alive())
				return master != 0 && n == tc.children, fmt.Sprintf("%d children running, want %d", n, tc.children)
			})
			if err := unix.Kill(master, unix.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			var live []int
			for {
				if live = alive(); len(live) == tc.survivors || time.Since(killed) > orphanDeadline {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if tc.survivors != 0 {
				// Nothing can prove a signal will not come later; the
				// deadline is the claim the other cases make.
				time.Sleep(orphanDeadline - time.Since(killed))
				if live = alive(); len(live) != tc.survivors {
					t.Errorf("%d children running %v after pidone as %s was SIGKILLed, want %d: tini sets no parent-death signal on its child",
						len(live), orphanDeadline, tc.peer, tc.survivors)
				}
				for _, pid := range live {
					unix.Kill(pid, unix.SIGKILL)
				}
				return
			}
			if len(live) != 0 {
				t.Errorf("%d of pidone's %d children still running %v after pidone was SIGKILLed (host pids %v)",
					len(live), tc.children, orphanDeadline, live)
			}
		})
	}
}

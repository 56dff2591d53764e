package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A libhv program reloads on SIGUSR1 and has no handler for SIGHUP,
// pidone's default reload signal (issue 22). Left at the default, a reload
// kills every worker: pidone ctl reload must fail, say why and what to set,
// and the master must say it at ERROR. With --reload-signal USR1, the
// setting docs/workers.md gives, the workers reload and live on.

var libhvStart = regexp.MustCompile(`^libhv start index=(\d+) pid=(\d+) gen=(\d+)$`)

// libhvPids returns the pids of the libhv workers started so far.
func libhvPids(p *nsInit) []string {
	var pids []string
	for _, l := range p.stdout.Snapshot() {
		if m := libhvStart.FindStringSubmatch(l); m != nil {
			pids = append(pids, m[2])
		}
	}
	return pids
}

func TestLibhvWorkerUnderTheDefaultReloadFailsCtlReload(t *testing.T) {
	t.Parallel()
	needRoot(t, "nsenter cannot join the namespace's mount namespace")
	_, workload := bins(t)
	pidfile := filepath.Join(t.TempDir(), "app.pid")
	p := startMaster(t, "--workers", "2", "--pidfile", pidfile, "--", workload, "libhvworker")
	p.stdout.WaitForNth(t, libhvStart, 2, workersTimeout)
	waitRunning(t, p, pidfile)

	code, out := ctlIn(t, p, "reload", "--pidfile", pidfile)
	if code != 1 {
		t.Errorf("ctl reload that killed the workers: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{"reload failed", "died of it", "SIGHUP", "--reload-signal USR1"} {
		if !strings.Contains(out, want) {
			t.Errorf("ctl reload says %q, want it to name %q", out, want)
		}
	}
	p.stderr.WaitFor(t, regexp.MustCompile(`level=ERROR msg="worker killed by the reload signal" group=main slot=\d .*status="killed by SIGHUP".* hint=".*--reload-signal USR1`), workersTimeout)
}

func TestLibhvWorkerReloadsWithReloadSignalUSR1(t *testing.T) {
	t.Parallel()
	needRoot(t, "nsenter cannot join the namespace's mount namespace")
	_, workload := bins(t)
	pidfile := filepath.Join(t.TempDir(), "app.pid")
	p := startMaster(t, "--workers", "2", "--reload-signal", "USR1", "--pidfile", pidfile, "--", workload, "libhvworker")
	p.stdout.WaitForNth(t, libhvStart, 2, workersTimeout)
	waitRunning(t, p, pidfile)
	before := libhvPids(p)

	code, out := ctlIn(t, p, "reload", "--pidfile", pidfile)
	if code != 0 || !strings.Contains(out, "reloaded (SIGUSR1") {
		t.Fatalf("ctl reload: exit %d %q, want 0 and \"reloaded (SIGUSR1 ...\"", code, out)
	}
	for _, pid := range before {
		p.stdout.WaitFor(t, regexp.MustCompile(fmt.Sprintf(`^libhv reload index=\d pid=%s$`, pid)), workersTimeout)
	}
	if after := libhvPids(p); len(after) != len(before) {
		t.Errorf("workers started %v after the reload, before it %v: the reload killed some", after, before)
	}
	if n := p.stderr.Count(regexp.MustCompile(`level=(WARN|ERROR)`)); n != 0 {
		t.Errorf("%d warnings or errors after a good reload:\n%s", n, p.stderr.Tail(10))
	}
}

// A rejected configuration is a failed reload too: it says why.
func TestCtlReloadReportsARejectedConfiguration(t *testing.T) {
	t.Parallel()
	needRoot(t, "nsenter cannot join the namespace's mount namespace")
	_, workload := bins(t)
	dir := t.TempDir()
	pidfile, config := filepath.Join(dir, "app.pid"), filepath.Join(dir, "workers.json")
	writeFile(t, config, webConfig(workload, 1))
	p := startMaster(t, "--config", config, "--pidfile", pidfile)
	waitStarts(t, p, 1, nil)
	waitRunning(t, p, pidfile)
	writeFile(t, config, "{ not json")
	code, out := ctlIn(t, p, "reload", "--pidfile", pidfile)
	if code != 1 || !strings.Contains(out, "configuration rejected") {
		t.Errorf("ctl reload of a broken configuration: exit %d %q, want 1 and \"configuration rejected\"", code, out)
	}
}

// libhv's habits at pidone ctl: the answer says what to do instead.
func TestCtlAnswersLibhvVerbs(t *testing.T) {
	t.Parallel()
	pidone, _ := bins(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"start"}, "there is no start verb: a master starts when pidone runs"},
		{[]string{"-s", "stop"}, "pidone ctl takes the verb as a word: pidone ctl stop"},
		{[]string{"-s", "start"}, "there is no start verb"},
	} {
		code, out := runCmd(t, pidone, append([]string{"ctl"}, tt.args...)...)
		if code != 2 || !strings.Contains(out, tt.want) {
			t.Errorf("pidone ctl %q: exit %d %q, want 2 and %q", tt.args, code, out, tt.want)
		}
	}
}

// waitRunning waits until pidone ctl status finds the master and its
// workers' status.
func waitRunning(t *testing.T, p *nsInit, pidfile string) {
	t.Helper()
	eventually(t, workersTimeout, func() (bool, string) {
		code, out := ctlIn(t, p, "status", "--pidfile", pidfile)
		return code == 0 && strings.Contains(out, "generation 1"), fmt.Sprintf("ctl status: %d %q", code, out)
	})
}

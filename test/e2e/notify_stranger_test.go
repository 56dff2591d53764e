package e2e

import (
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
)

// A stranger at the notify socket (issue 18): the socket is abstract, so
// any process in the network namespace can send to it, whatever its uid or
// PID namespace. What it sends must cost the master nothing: no blocked
// reader, no flood of log lines. The stranger is `workload notifystranger`
// as uid 65534, outside the master's PID namespace.

var (
	notifySocketLine = regexp.MustCompile(`msg="notify socket" NOTIFY_SOCKET=(@\S+)`)
	strangerLinger   = regexp.MustCompile(`^notifystranger linger (sent|refused) outq=(\d+)`)
	strangerFlood    = regexp.MustCompile(`^notifystranger flood sent=(\d+) full=(\d+)$`)
	strangerIgnored  = regexp.MustCompile(`msg="notification ignored: its sender is outside pidone's PID namespace"`)
	strangerHeldBack = regexp.MustCompile(`msg="notification ignored: its sender is outside pidone's PID namespace".* suppressed=(\d+)`)
)

// startStranger runs workload notifystranger with args as uid 65534 in the
// test's own namespaces.
func startStranger(t *testing.T, args ...string) *nsInit {
	t.Helper()
	needRoot(t, "the stranger runs as uid 65534")
	_, workload := bins(t)
	argv := append([]string{workload, "notifystranger"}, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return startCmd(t, cmd, argv)
}

// startNotifyMaster starts a master of httpserver workers that say
// READY=1, with replace reloads, and returns it with its notify socket
// once its first generation is ready.
func startNotifyMaster(t *testing.T, workers int) (*nsInit, string) {
	t.Helper()
	_, workload := bins(t)
	p := startMaster(t, "-v", "--workers", strconv.Itoa(workers), "--listen", "web=tcp:127.0.0.1:0", "--ready", "notify",
		"--reload", "replace", "--", workload, "httpserver")
	socket := p.stderr.WaitFor(t, notifySocketLine, workersTimeout)[1]
	p.stdout.WaitForNth(t, serverReady, workers, workersTimeout)
	return p, socket
}

// TestNotifyStrangerCannotBlockTheReader is the attack of issue 18 item 1:
// one datagram carrying a TCP socket whose close sleeps for its linger
// time. Before the fix the master's one reader closed it, and read no
// READY=1 for ten minutes: the replace reload below was abandoned.
func TestNotifyStrangerCannotBlockTheReader(t *testing.T) {
	t.Parallel()
	p, socket := startNotifyMaster(t, 2)
	s := startStranger(t, "-socket", socket, "-linger", "600s")
	m := s.stdout.WaitFor(t, strangerLinger, workersTimeout)
	if outq, _ := strconv.Atoi(m[2]); outq == 0 {
		t.Fatalf("%q: nothing unacknowledged in the stranger's socket, so its close would not block: the attack proves nothing", m[0])
	}
	t.Logf("stranger: %s", m[0])

	// The new generation's READY=1 are read: the reload completes.
	p.signal(syscall.SIGHUP)
	p.stderr.WaitFor(t, replaced, workersTimeout)
	p.stdout.WaitForNth(t, serverReady, 4, workersTimeout)
	// The stranger is still holding its end: whatever pidone did with the
	// descriptor did not wait for it.
	select {
	case <-s.done:
		t.Fatalf("the stranger exited early; stdout:\n%s\nstderr:\n%s", s.stdout.Tail(5), s.stderr.Tail(5))
	default:
	}
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(workersTimeout); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

// TestNotifyFloodFromAStrangerIsLoggedBounded is issue 18 item 4: a
// stranger sending as fast as it can gets a bounded number of log lines,
// which say how many were held back, and a worker's READY=1 still goes
// through meanwhile.
func TestNotifyFloodFromAStrangerIsLoggedBounded(t *testing.T) {
	t.Parallel()
	p, socket := startNotifyMaster(t, 1)
	const seconds = 4
	s := startStranger(t, "-socket", socket, "-flood", strconv.Itoa(seconds)+"s")
	// While it floods, a replace reload: the new worker's READY=1 must get
	// in between the stranger's.
	p.stderr.WaitFor(t, strangerIgnored, workersTimeout)
	p.signal(syscall.SIGHUP)
	p.stderr.WaitFor(t, replaced, workersTimeout)
	m := s.stdout.WaitFor(t, strangerFlood, workersTimeout)
	sent, _ := strconv.Atoi(m[1])
	if sent < 1000 {
		t.Fatalf("%q: the stranger sent too little to be a flood", m[0])
	}
	// Every line after the first says how many were held back before it.
	p.stderr.WaitFor(t, strangerHeldBack, workersTimeout)
	lines := p.stderr.Count(strangerIgnored)
	// At most one line a second, plus the first and the one after.
	if lines > seconds+3 {
		t.Errorf("%d log lines for %d notifications from a stranger in %ds; want at most %d", lines, sent, seconds, seconds+3)
	}
	held := 0
	for _, l := range p.stderr.Snapshot() {
		if m := strangerHeldBack.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			held += n
		}
	}
	if held == 0 {
		t.Errorf("no line says how many were held back")
	}
	t.Logf("stranger: %s; %d log lines, %d held back", m[0], lines, held)
}

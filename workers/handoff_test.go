package workers

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pidone/pidone/reap"
	"golang.org/x/sys/unix"
)

func TestSlotAwaitingReady(t *testing.T) {
	c := newClock()
	s := NewSlot("web", 0, 1, c.at(0))
	s.Tick(c.at(0))
	s.SpawnedAwaitingReady(c.at(0), 100, 7, 10*time.Second)
	if s.State != Starting || s.Due != c.at(10*time.Second) {
		t.Fatalf("after spawn: %+v; want starting, the timeout due", s)
	}
	if a := s.Tick(c.at(9 * time.Second)); a != None || s.State != Starting {
		t.Fatalf("before the timeout: %v, %v", a, s.State)
	}
	if !s.Ready() || s.State != Running || !s.Due.IsZero() {
		t.Fatalf("READY=1: %+v; want running, nothing due", s)
	}
	if s.Ready() {
		t.Error("a second READY=1 changed the slot again")
	}

	// No timeout: nothing is due until READY=1.
	s = NewSlot("web", 1, 1, c.at(0))
	s.SpawnedAwaitingReady(c.at(0), 101, 8, 0)
	if !s.Due.IsZero() || s.State != Starting {
		t.Errorf("without a timeout: %+v; want starting with nothing due", s)
	}

	// --ready after: READY=1 means nothing.
	s = NewSlot("web", 2, 1, c.at(0))
	s.Spawned(c.at(0), 102, 9, time.Second)
	if s.Ready() || s.State != Starting {
		t.Errorf("READY=1 for a slot that waits for ready-after: %+v", s)
	}
}

func TestSlotNotReadyInTimeIsAFailureToStart(t *testing.T) {
	c := newClock()
	p := DefaultPolicy()
	p.Restart = RestartOnFailure
	s := NewSlot("web", 0, 1, c.at(0))
	s.SpawnedAwaitingReady(c.at(0), 100, 7, time.Second)
	if a := s.Tick(c.at(time.Second)); a != ReadyTimeout {
		t.Fatalf("at the timeout: %v, want ReadyTimeout", a)
	}
	if s.Ready() {
		t.Error("READY=1 after the timeout made the slot running")
	}
	if a := s.Stop(c.at(time.Second), 5*time.Second); a != SignalStop || s.State != Stopping {
		t.Fatalf("stop: %v %v", a, s.State)
	}
	// It exits 0 on the stop signal, and still failed: on-failure respawns.
	v := s.Died(c.at(2*time.Second), 0, p, noJitter)
	if !v.Respawn || s.State != BackingOff {
		t.Errorf("death after the timeout: %+v, %v; want a respawn", v, s.State)
	}
	if s.Restarts() != 0 || s.Spawns != 1 {
		t.Errorf("restarts %d, spawns %d", s.Restarts(), s.Spawns)
	}
	s.Tick(c.at(2 * time.Second))
	s.SpawnedAwaitingReady(c.at(2*time.Second), 101, 8, time.Second)
	if s.Restarts() != 1 {
		t.Errorf("restarts %d after a respawn, want 1", s.Restarts())
	}

	// A stop asked for while a late worker is being stopped wins: the
	// slot stops for good.
	s = NewSlot("web", 1, 1, c.at(0))
	s.SpawnedAwaitingReady(c.at(0), 102, 9, time.Second)
	s.Tick(c.at(time.Second))
	s.Stop(c.at(time.Second), 5*time.Second)
	s.Stop(c.at(time.Second), 5*time.Second) // the master stops
	if s.Died(c.at(2*time.Second), 0, p, noJitter); s.State != Stopped {
		t.Errorf("stopped while late: %v, want stopped", s.State)
	}
}

// testMaster is a master with one serving group of n workers, as if
// spawned with pids 100, 101, ..., and a log in buf.
func testMaster(t *testing.T, n int, ready Readiness) (*master, *bytes.Buffer) {
	t.Helper()
	buf := &bytes.Buffer{}
	m := &master{
		log:   slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		now:   time.Now,
		byPid: map[int]*worker{},
		byID:  map[reap.SpawnID]*worker{},
		gen:   1,
	}
	m.exitedPids = map[int]*worker{}
	spec := &GroupSpec{Name: "web", Count: n, Ready: ready, Grace: time.Second, StopSignal: unix.SIGTERM}
	g := &group{spec: spec}
	now := m.now()
	for i := range n {
		w := &worker{Slot: NewSlot("web", i, 1, now), spec: spec}
		m.spawned(w, now, 100+i, -1)
		w.spawn = reap.SpawnID(i + 1)
		m.byPid[100+i] = w
		m.byID[w.spawn] = w
		g.workers = append(g.workers, w)
	}
	m.cur = []*group{g}
	return m, buf
}

func TestNotifiedTrustsTheKernelNotTheMessage(t *testing.T) {
	m, log := testMaster(t, 2, Readiness{Notify: true})
	w0, w1 := m.cur[0].workers[0], m.cur[0].workers[1]

	// Worker 0 claims to speak for worker 1: only worker 0 is ready.
	m.notified(notification{pid: 100, text: "MAINPID=101\nREADY=1\nSTATUS=up"}, time.Now())
	if w0.State != Running || w1.State != Starting {
		t.Errorf("after worker 0's READY=1 with MAINPID=101: %v, %v; want running, starting", w0.State, w1.State)
	}
	for _, want := range []string{`msg="MAINPID ignored`, `msg="worker ready" group=web slot=0`, `msg="worker status" group=web slot=0 gen=1 pid=100 status=up`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}

	// A process that is not a worker (a worker's child, a stranger).
	m.notified(notification{pid: 555, text: "READY=1"}, time.Now())
	m.notified(notification{pid: 0, text: "READY=1"}, time.Now())
	if w1.State != Starting {
		t.Errorf("READY=1 from a stranger made worker 1 %v", w1.State)
	}
	for _, want := range []string{`msg="notification ignored: its sender is not a worker" sender=555 message="READY=1"`,
		`msg="notification ignored: its sender is outside pidone's PID namespace" sender=0`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}

	// A worker's last words after its exit are not a stranger's.
	m.reaped(reap.Exit{Pid: 101, Spawn: 2}, time.Now())
	delete(m.byPid, 101)
	log.Reset()
	m.notified(notification{pid: 101, text: "STOPPING=1"}, time.Now())
	if !strings.Contains(log.String(), `msg="notification from a worker that has exited" group=web slot=1`) {
		t.Errorf("a late STOPPING=1: %s", log)
	}
}

func TestReadyTimeoutStopsTheWorker(t *testing.T) {
	m, log := testMaster(t, 1, Readiness{Notify: true, Timeout: time.Second})
	w := m.cur[0].workers[0]
	if a := w.Tick(w.Due); a != ReadyTimeout {
		t.Fatalf("tick at the timeout: %v", a)
	}
	m.readyTimedOut(w, w.Due)
	if w.State != Stopping || !strings.Contains(log.String(), "did not say READY=1 within --ready-timeout") {
		t.Errorf("state %v, log:\n%s", w.State, log)
	}
}

// supervisorSocket is a notify socket standing in for systemd's.
func supervisorSocket(t *testing.T) (string, func() string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	next := func() string {
		buf := make([]byte, 512)
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
	return path, next
}

func TestTellSupervisor(t *testing.T) {
	m, _ := testMaster(t, 2, Readiness{Notify: true})
	path, next := supervisorSocket(t)
	m.supervisor = path
	first := func(s string) string { return strings.SplitN(s, "\n", 2)[0] }

	m.tellSupervisor()
	if got := next(); got != "" {
		t.Errorf("nothing ready yet, sent %q", got)
	}
	m.notified(notification{pid: 100, text: "READY=1"}, time.Now())
	m.tellSupervisor()
	if got := next(); got != "" {
		t.Errorf("one of two ready, sent %q", got)
	}
	m.notified(notification{pid: 101, text: "READY=1"}, time.Now())
	m.tellSupervisor()
	if got := next(); got != "READY=1\nSTATUS=2 of 2 workers ready, generation 1" {
		t.Errorf("all ready: sent %q", got)
	}
	m.tellSupervisor()
	if got := next(); got != "" {
		t.Errorf("nothing changed, sent %q", got)
	}
	// A worker dying later does not take READY back.
	m.cur[0].workers[0].State = BackingOff
	m.tellSupervisor()
	if got := next(); got != "" {
		t.Errorf("a respawn sent %q", got)
	}

	m.reloads.pending = true // a trailing reload waits
	m.tellSupervisor()
	if got := next(); first(got) != "RELOADING=1" || !strings.Contains(got, "MONOTONIC_USEC=") {
		t.Errorf("reload asked: sent %q", got)
	}
	m.reloads.pending, m.next = false, []*group{}
	m.tellSupervisor()
	if got := next(); got != "" {
		t.Errorf("replacement starting: sent %q", got)
	}
	m.next = nil
	m.tellSupervisor()
	if got := next(); first(got) != "READY=1" {
		t.Errorf("reload done: sent %q", got)
	}
	m.stopping = true
	m.tellSupervisor()
	if got := next(); first(got) != "STOPPING=1" {
		t.Errorf("stopping: sent %q", got)
	}
}

func TestStatusFileAndCtlStatus(t *testing.T) {
	m, _ := testMaster(t, 2, Readiness{Notify: true})
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "m.pid")
	m.statusPath = pidfile + statusSuffix
	m.cur[0].spec.Listen = []ListenSpec{mustParseListen(t, "tcp:127.0.0.1:0")}
	m.cur[0].spec.sockets = []*socket{{bound: "tcp:127.0.0.1:4242"}}
	m.notified(notification{pid: 100, text: "READY=1"}, time.Now())
	m.cur[0].workers[1].Spawns = 3
	retiring := &worker{Slot: NewSlot("web", 0, 0, time.Now()), spec: m.cur[0].spec}
	retiring.Spawned(time.Now(), 90, -1, 0)
	retiring.Stop(time.Now(), time.Second)
	m.retiring = []*worker{retiring}

	m.writeStatus()
	st, err := readStatus(m.statusPath, os.Geteuid())
	if err != nil {
		t.Fatal(err)
	}
	if st.Pid != os.Getpid() || st.Generation != 1 || len(st.Workers) != 3 {
		t.Fatalf("status %+v", st)
	}
	want := []workerStatus{
		{Group: "web", Slot: 0, Generation: 1, Role: "serving", State: "running", Pid: 100, Ready: true},
		{Group: "web", Slot: 1, Generation: 1, Role: "serving", State: "starting", Pid: 101, Restarts: 2},
		{Group: "web", Slot: 0, Generation: 0, Role: "retiring", State: "stopping", Pid: 90},
	}
	for i, w := range st.Workers {
		w.Started = ""
		if w != want[i] {
			t.Errorf("worker %d: %+v\nwant      %+v", i, w, want[i])
		}
	}
	if len(st.Listeners) != 1 || st.Listeners[0] != (listenerStatus{Group: "web", Name: "web", Address: "tcp:127.0.0.1:4242"}) {
		t.Errorf("listeners %+v", st.Listeners)
	}

	// Unchanged state: the file is not written again.
	fi1, _ := os.Stat(m.statusPath)
	os.Chtimes(m.statusPath, time.Unix(1, 0), time.Unix(1, 0))
	m.writeStatus()
	if fi2, _ := os.Stat(m.statusPath); !fi2.ModTime().Equal(time.Unix(1, 0)) {
		t.Errorf("rewritten without a change (%v, %v)", fi1.ModTime(), fi2.ModTime())
	}

	var out bytes.Buffer
	running := probe{state: probeRunning, pid: os.Getpid()}
	if code := ctlStatus(running, pidfile, false, &out); code != CtlOK {
		t.Errorf("exit %d", code)
	}
	text := out.String()
	for _, want := range []string{
		"running (pid " + strconv.Itoa(os.Getpid()) + ")\ngeneration 1\n",
		"GROUP  SLOT  GEN  ROLE      PID  STATE     READY  RESTARTS  UPTIME",
		"web    0     1    serving   100  running   yes    0         0s",
		"web    1     1    serving   101  starting  no     2         0s",
		"web    0     0    retiring  90   stopping  no     0         0s",
		"listening: web tcp:127.0.0.1:4242 (group web)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}

	out.Reset()
	ctlStatus(running, pidfile, true, &out)
	var report struct {
		State   string         `json:"state"`
		Pid     int            `json:"pid"`
		Workers []workerStatus `json:"workers"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil || report.State != "running" || report.Pid != os.Getpid() || len(report.Workers) != 3 || !report.Workers[0].Ready {
		t.Errorf("--json: %+v, %v:\n%s", report, err, out.String())
	}

	// A status file some other master left is not shown as this one's.
	out.Reset()
	other := probe{state: probeRunning, pid: os.Getpid() + 1}
	ctlStatus(other, pidfile, false, &out)
	if !strings.Contains(out.String(), "no worker status: "+pidfile+".status was written by pid") {
		t.Errorf("another master's status file: %s", out.String())
	}

	out.Reset()
	if code := ctlStatus(probe{state: probeNotRunning}, pidfile, true, &out); code != StatusNotRunning || !strings.Contains(out.String(), `"state": "not running"`) {
		t.Errorf("not running, --json: exit %d, %s", code, out.String())
	}

	m.release()
	if _, err := os.Stat(m.statusPath); !os.IsNotExist(err) {
		t.Errorf("status file left after release: %v", err)
	}
}

package workers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pidone/pidone/logging"
	"github.com/pidone/pidone/reap"
)

// The master's side of listening sockets, readiness by the worker's word,
// pidone's own supervisor and the status file (listen.go, notify.go,
// status.go): state and methods kept out of master.go's event loop, which
// calls them at a few fixed points.

// handoffState is embedded in master; only the loop goroutine touches it.
type handoffState struct {
	sockets socketSet
	// notify is the workers' NOTIFY_SOCKET, opened when a group first
	// asks for --ready notify; notes carries its datagrams to the loop.
	notify *notifySocket
	notes  chan notification
	// exitedPids remembers the last workers that exited, by pid, for
	// their last words: a worker's STOPPING=1 and its exit travel on
	// different channels and may be taken in either order.
	exitedPids map[int]*worker
	exitedRing [exitedMemory]int
	exitedNext int
	// supervisor is pidone's own NOTIFY_SOCKET ("" for none), and phase
	// what it was last told.
	supervisor string
	phase      supervisorPhase
	// statusPath is the status file pidone ctl status reads ("" without
	// --pidfile); lastStatus what it holds now.
	statusPath string
	lastStatus []byte
}

// exitedMemory is how many exited workers notified remembers.
const exitedMemory = 64

// prepare readies what the first generation needs before any worker
// starts: the sockets (a bind failure is a usage error, exit 2), the notify
// socket, the status file's path.
func (m *master) prepare(specs []*GroupSpec, pidfile *Pidfile) error {
	m.notes = make(chan notification, 64)
	m.exitedPids = map[int]*worker{}
	m.supervisor = os.Getenv(envNotifySocket)
	if pidfile != nil {
		m.statusPath = pidfile.Path() + statusSuffix
	}
	return m.attach(specs)
}

// load reads the configuration for a reload and attaches it; an error
// leaves the workers as they are.
func (m *master) load() ([]*GroupSpec, error) {
	specs, err := m.opts.Load()
	if err == nil {
		err = m.attach(specs)
	}
	return specs, err
}

// attach binds the sockets specs list and gives every group with --ready
// notify the notify socket's address.
func (m *master) attach(specs []*GroupSpec) error {
	if err := m.sockets.attach(specs, m.log); err != nil {
		return &ConfigError{err}
	}
	for _, spec := range specs {
		if !spec.Ready.Notify {
			continue
		}
		if m.notify == nil {
			n, err := openNotifySocket()
			if err != nil {
				return err
			}
			m.notify = n
			go n.read(m.notes)
			m.log.Info("notify socket", "NOTIFY_SOCKET", n.addr)
		}
		spec.notifySocket = m.notify.addr
	}
	return nil
}

// release closes the sockets and removes the status file; the master is
// exiting.
func (m *master) release() {
	m.sockets.closeAll()
	if m.statusPath != "" {
		os.Remove(m.statusPath)
	}
}

// spawned records a started worker by its group's readiness rule.
func (m *master) spawned(w *worker, now time.Time, pid, pidfd int) {
	if r := w.spec.Ready; r.Notify {
		w.SpawnedAwaitingReady(now, pid, pidfd, r.Timeout)
	} else {
		w.Spawned(now, pid, pidfd, r.After)
	}
}

// reaped is called with every exit the reaper reports, before exited: it
// takes the notifications that are already waiting (a worker's last words
// come before its exit), then remembers the worker for any that are still
// on their way.
func (m *master) reaped(e reap.Exit, now time.Time) {
	for len(m.notes) > 0 {
		m.notified(<-m.notes, now)
	}
	w, pid := m.byID[e.Spawn], e.Pid
	if w == nil {
		return
	}
	delete(m.exitedPids, m.exitedRing[m.exitedNext])
	m.exitedRing[m.exitedNext] = pid
	m.exitedNext = (m.exitedNext + 1) % exitedMemory
	m.exitedPids[pid] = &worker{Slot: &Slot{Group: w.Group, Index: w.Index, Gen: w.Gen, Pid: pid}, spec: w.spec}
}

// readyTimedOut stops a worker that did not say READY=1 in time; its death
// counts as a failure to start (Slot.Died), so the policy decides about a
// respawn, and a replacement it belongs to is abandoned.
func (m *master) readyTimedOut(w *worker, now time.Time) {
	m.log.Warn("worker did not say READY=1 within --ready-timeout; stopping it as failed to start",
		m.attrs(w, "timeout", w.spec.Ready.Timeout)...)
	m.stopWorker(w, now)
}

// notified acts on one datagram of the notify socket. The worker is the one
// whose pid the kernel gave as the sender; a message from any other process
// (a worker's child, a process that found the address) changes nothing.
func (m *master) notified(n notification, now time.Time) {
	if n.err != nil {
		m.log.Error("notify socket failed: workers can no longer say READY=1", "error", n.err)
		return
	}
	w := m.byPid[n.pid]
	// Whoever can reach the socket can send these at will (a stranger, a
	// process that took a dead worker's pid), as fast as it likes: each of
	// their lines is written at most once a second (logging.Limit).
	if w == nil && m.exitedPids[n.pid] != nil {
		m.log.Debug("notification from a worker that has exited",
			m.attrs(m.exitedPids[n.pid], "message", oneLine(n.text), logging.Limit("notify"))...)
		return
	}
	if w == nil {
		who := "not a worker"
		if n.pid == 0 {
			who = "outside pidone's PID namespace"
		}
		m.log.Warn("notification ignored: its sender is "+who, "sender", n.pid, "message", oneLine(n.text), logging.Limit("notify"))
		return
	}
	if n.truncated {
		m.log.Warn("notification cut: longer than the notify socket reads", m.attrs(w, "limit", notifyBufferSize, logging.Limit("notify"))...)
	}
	if n.fds > 0 {
		m.log.Warn("notification passed descriptors; pidone keeps none and closed them", m.attrs(w, "fds", n.fds, logging.Limit("notify"))...)
	}
	for _, f := range notifyFields(n.text) {
		switch key, value := f[0], f[1]; {
		case key == "READY" && value == "1":
			if w.Ready() {
				m.log.Info("worker ready", m.attrs(w, "after", now.Sub(w.Started).Round(time.Millisecond))...)
			} else {
				m.log.Debug("worker said READY=1 again", m.attrs(w, "state", w.State)...)
			}
		case key == "STOPPING" && value == "1":
			m.log.Info("worker stopping", m.attrs(w)...)
		case key == "RELOADING" && value == "1":
			m.log.Info("worker reloading", m.attrs(w)...)
		case key == "STATUS":
			m.log.Info("worker status", m.attrs(w, "status", value)...)
		case key == "MAINPID":
			m.log.Warn("MAINPID ignored: a worker is the process that sends, as the kernel names it", m.attrs(w, "MAINPID", value, logging.Limit("notify"))...)
		default:
			m.log.Debug("worker notification", m.attrs(w, "key", key, "value", value)...)
		}
	}
}

// oneLine shows a message in a log line.
func oneLine(s string) string {
	const most = 200
	if len(s) > most {
		s = s[:most] + "..."
	}
	return strings.ReplaceAll(s, "\n", `\n`)
}

// publish makes the outside see the state the loop just settled in: the
// status file, and pidone's own supervisor.
func (m *master) publish() {
	m.writeStatus()
	m.tellSupervisor()
}

func (m *master) writeStatus() {
	if m.statusPath == "" {
		return
	}
	data, err := json.Marshal(m.status())
	if err != nil || bytes.Equal(data, m.lastStatus) {
		return
	}
	if _, err := writeAtomic(m.statusPath, append(data, '\n'), false, false); err != nil {
		// Limited by kind: the error names a new temporary file each time
		// (issue 18).
		m.log.Warn("cannot write the status file; pidone ctl status shows no workers", "error", err, logging.Limit("status-file"))
		return
	}
	m.lastStatus = data
}

// tellSupervisor sends pidone's supervisor what changed: READY=1 once every
// worker of the first generation is ready, RELOADING=1 when a reload is
// asked for and READY=1 when it is done (a replacement promoted or
// abandoned, or the reload signal sent), STOPPING=1 when stopping.
func (m *master) tellSupervisor() {
	if m.supervisor == "" {
		return
	}
	next := m.supervisorPhase()
	ready, total := m.readyCount()
	status := fmt.Sprintf("%d of %d workers ready, generation %d", ready, total, m.gen)
	msg := supervisorMessage(m.phase, next, status, monotonicNow())
	if msg == "" {
		return
	}
	m.phase = next
	if err := sdNotify(m.supervisor, msg); err != nil {
		m.log.Warn("cannot notify pidone's supervisor", "NOTIFY_SOCKET", m.supervisor, "error", err)
	}
}

func (m *master) supervisorPhase() supervisorPhase {
	ready, total := m.readyCount()
	switch {
	case m.stopping:
		return phaseStopping
	case m.phase == phaseStarting && ready < total:
		return phaseStarting
	case m.next != nil || m.reloads.waiting():
		if m.phase == phaseStarting {
			return phaseStarting
		}
		return phaseReloading
	}
	return phaseReady
}

// readyCount counts the serving generation's ready workers and slots.
func (m *master) readyCount() (ready, total int) {
	for _, g := range m.cur {
		for _, w := range g.workers {
			total++
			if w.State == Running {
				ready++
			}
		}
	}
	return ready, total
}

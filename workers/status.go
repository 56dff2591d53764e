package workers

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/pidone/pidone/internal/safefile"
	"golang.org/x/sys/unix"
)

// The status file: how `pidone ctl status` learns about each worker.
//
// ctl already finds the master through the pidfile and talks to it with
// signals, which carry no answer. Rather than a second channel (a control
// socket the master would have to serve), the master keeps PATH.status
// beside the pidfile: JSON, replaced atomically (rename(2)) at the end of
// every turn of its loop in which something a reader can see changed, and
// removed when it exits. An idle master writes nothing; ctl reads the file
// as the master last left it, which is the master's state: nothing changes
// between two turns of the loop.

// statusSuffix names the status file after the pidfile.
const statusSuffix = ".status"

// masterStatus is the status file's content.
type masterStatus struct {
	Pid        int              `json:"pid"`
	Generation int              `json:"generation"`
	Workers    []workerStatus   `json:"workers"`
	Listeners  []listenerStatus `json:"listeners,omitempty"`
	// Reload is the last reload's outcome (reload.go).
	Reload *reloadRecord `json:"reload,omitempty"`
}

// workerStatus is one slot.
type workerStatus struct {
	Group      string `json:"group"`
	Slot       int    `json:"slot"`
	Generation int    `json:"generation"`
	// Role is "serving", "replacement" (a new generation not yet
	// promoted) or "retiring" (an old generation or a removed slot).
	Role     string `json:"role"`
	State    string `json:"state"`
	Pid      int    `json:"pid,omitempty"`
	Ready    bool   `json:"ready"`
	Restarts int    `json:"restarts"`
	// Started is when the current worker started (RFC 3339), if one runs.
	Started string `json:"started,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// listenerStatus is one socket of one group.
type listenerStatus struct {
	Group   string `json:"group"`
	Name    string `json:"name"`
	Address string `json:"address"`
}

// status is what the status file says about the master now.
func (m *master) status() masterStatus {
	st := masterStatus{Pid: os.Getpid(), Generation: m.gen, Workers: []workerStatus{}, Reload: &m.lastReload}
	add := func(w *worker, role string) {
		ws := workerStatus{Group: w.Group, Slot: w.Index, Generation: w.Gen, Role: role, State: w.State.String(),
			Ready: w.State == Running, Restarts: w.Restarts(), Reason: w.Reason}
		if w.Live() {
			ws.Pid, ws.Started = w.Pid, w.Started.Format(time.RFC3339Nano)
		}
		st.Workers = append(st.Workers, ws)
	}
	for _, gs := range []struct {
		groups []*group
		role   string
	}{{m.cur, "serving"}, {m.next, "replacement"}} {
		for _, g := range gs.groups {
			for _, w := range g.workers {
				add(w, gs.role)
			}
		}
	}
	for _, w := range m.retiring {
		add(w, "retiring")
	}
	for _, g := range m.cur {
		for i, s := range g.spec.sockets {
			name := g.spec.Listen[i].Name
			if name == "" {
				name = g.spec.Name
			}
			st.Listeners = append(st.Listeners, listenerStatus{Group: g.spec.Name, Name: name, Address: s.bound})
		}
	}
	return st
}

// maxStatusSize bounds what ctl reads of a status file: 1024 workers in
// three roles (serving, replacement, retiring) take well under 1 MiB.
const maxStatusSize = 4 << 20

// readStatus reads the status file of a master running as uid: a regular
// file (no symlink, FIFO or device: issue 18) of at most maxStatusSize
// bytes, owned by uid, since anybody else could have written it.
func readStatus(path string, uid int) (masterStatus, error) {
	var st masterStatus
	fd, fst, err := safefile.Open(unix.AT_FDCWD, path, unix.O_NOFOLLOW)
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	data, err := safefile.ReadOpened(fd, fst, path, maxStatusSize)
	switch {
	case err != nil:
		return st, err
	case int(fst.Uid) != uid:
		return st, fmt.Errorf("%s belongs to uid %d, not to the master's uid %d", path, fst.Uid, uid)
	}
	return st, json.Unmarshal(data, &st)
}

// ctlStatusReport is `pidone ctl status --json`.
type ctlStatusReport struct {
	// State is "running", "stale", "not running", "unknown" or
	// "elsewhere" (a master in another PID namespace).
	State  string `json:"state"`
	Pid    int    `json:"pid,omitempty"`
	Detail string `json:"detail,omitempty"`
	*masterStatus
}

// ctlStatus prints the status verb's answer and returns its exit code.
func ctlStatus(p probe, pidfile string, asJSON bool, stdout io.Writer) int {
	report := ctlStatusReport{Pid: p.pid, Detail: p.detail}
	code := CtlOK
	switch p.state {
	case probeRunning:
		report.State = "running"
		st, err := readStatus(pidfile+statusSuffix, p.uid)
		switch {
		case err != nil:
			report.Detail = fmt.Sprintf("no worker status: %v", err)
		case st.Pid != p.pid:
			report.Detail = fmt.Sprintf("no worker status: %s%s was written by pid %d", pidfile, statusSuffix, st.Pid)
		default:
			report.masterStatus = &st
		}
	case probeStale:
		report.State, code = "stale", StatusDead
	case probeNotRunning:
		report.State, code = "not running", StatusNotRunning
	case probeElsewhere:
		report.State, code = "elsewhere", StatusElsewhere
	default:
		report.State, code = "unknown", StatusUnknown
	}
	if asJSON {
		out, _ := json.MarshalIndent(report, "", "  ")
		fmt.Fprintf(stdout, "%s\n", out)
		return code
	}
	switch p.state {
	case probeRunning:
		fmt.Fprintf(stdout, "running (pid %d)\n", p.pid)
	case probeStale:
		fmt.Fprintf(stdout, "not running; stale pidfile %s %s\n", pidfile, p.detail)
	case probeNotRunning:
		fmt.Fprintln(stdout, "not running")
	case probeElsewhere:
		fmt.Fprintf(stdout, "elsewhere: %s\n", p.detail)
	default:
		fmt.Fprintf(stdout, "unknown: %s\n", p.detail)
	}
	if report.masterStatus != nil {
		writeWorkerTable(stdout, report.masterStatus, time.Now())
	} else if p.state == probeRunning {
		fmt.Fprintln(stdout, report.Detail)
	}
	return code
}

// writeWorkerTable prints the generation, one line per worker, and the
// sockets.
func writeWorkerTable(out io.Writer, st *masterStatus, now time.Time) {
	fmt.Fprintf(out, "generation %d\n", st.Generation)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tSLOT\tGEN\tROLE\tPID\tSTATE\tREADY\tRESTARTS\tUPTIME")
	for _, w := range st.Workers {
		pid, uptime := "-", "-"
		if w.Pid != 0 {
			pid = strconv.Itoa(w.Pid)
		}
		if t, err := time.Parse(time.RFC3339Nano, w.Started); err == nil {
			uptime = now.Sub(t).Round(time.Second).String()
		}
		ready := "no"
		if w.Ready {
			ready = "yes"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t%s\n", w.Group, w.Slot, w.Generation, w.Role, pid, w.State, ready, w.Restarts, uptime)
	}
	tw.Flush()
	for _, l := range st.Listeners {
		fmt.Fprintf(out, "listening: %s %s (group %s)\n", l.Name, l.Address, l.Group)
	}
}

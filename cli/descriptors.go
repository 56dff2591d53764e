package cli

import (
	"time"

	"github.com/pidone/pidone/internal/control"
	"github.com/pidone/pidone/internal/nofile"
)

// The file descriptors pidone holds at most at once, beyond those open when
// it starts (stdio, anything inherited, the runtime's cgroup CPU limit
// files), by mode. They are checked before anything is opened
// (nofile.Reserve), so that a low RLIMIT_NOFILE gives exit 125 and a
// message naming it, never a runtime crash half-way (README, Threat model).
const (
	// The main child's start: the close-on-exec pipe that carries an exec
	// error back, and the child's pidfd, kept while it lives, and the
	// reaper's copy of it, kept until the wait in flight at the spawn
	// returns (package reap: why attribution is exact). Afterwards
	// the pidfd and at most two more at once: a /proc file and a pidfd
	// pinning a process while a subreaper walks its descendants
	// (init/descendants.go; past that the walk falls back to start
	// times), or the termination log.
	needSupervise = nofile.RuntimePoller + 4
	// --pause has no child: a subreaper's walk (two, as above), or as
	// PID 1 only /proc/self/maps once (init/trim.go).
	needPause     = nofile.RuntimePoller + 2
	needPausePID1 = nofile.RuntimePoller + 1
	// pidone ctl: the lock file and the pidfile, read at once; then the
	// master's pidfd alone (workers/ctl.go).
	NeedCtl = nofile.RuntimePoller + 2
	// Workers mode before the configuration is loaded: one file at a
	// time (the configuration, the bundle, the cgroup files of --workers
	// auto). What the workers need once their count is known is checked
	// by workers.Run.
	NeedWorkersLoad = nofile.RuntimePoller + 1
	// needControl is what --control-socket adds: the listening socket,
	// its clients (control.MaxClients) and the /proc file or directory
	// one status reads at a time. Binding it (before the child) takes
	// four at most: the directory, the private directory, the socket and
	// a probe of a stale one.
	needControl = 1 + control.MaxClients + 1
)

// ReserveDescriptors checks that need descriptors can be opened and starts
// the runtime's poller (nofile.Reserve). The local time zone is loaded
// before: it is the one file the logger opens, once, on its first line,
// which may come from any goroutine; loaded before the count, it takes
// nothing from it.
func ReserveDescriptors(need int, what string) error {
	<-zoneLoaded
	return nofile.Reserve(need, what)
}

// zoneLoaded is closed once the local time zone is loaded. The load runs
// on a goroutine from package initialization, beside option parsing and
// the signal registration: on the start's critical path it cost `pidone --
// /bin/true` about 0.2 ms, 0.1x of minexact's overhead (issue 19,
// docs/performance.md).
var zoneLoaded = make(chan struct{})

func init() {
	go func() {
		_, _ = time.Now().Zone()
		close(zoneLoaded)
	}()
}

// SuperviseNeed is the descriptor need of single-command and pause mode;
// pid1 is whether pidone runs as PID 1, control whether it has a control
// socket.
func SuperviseNeed(pause, pid1, control bool) int {
	n := needPause
	switch {
	case !pause:
		n = needSupervise
	case pid1:
		n = needPausePID1
	}
	if control {
		n += needControl
	}
	return n
}

// Package workers is pidone's master-worker mode: libhv's hmain model done
// right. A master (pidone, usually PID 1) keeps N workers of one or more
// groups alive, respawns crashed ones under a throttle and gives up on crash
// loops, reloads on a signal, keeps a locked pidfile, and answers the
// control verbs of `pidone ctl`. Go cannot fork without exec, so a worker is
// a command started N times.
//
// One file per concern:
//
//	slot.go         a slot's state machine: pure transitions, no I/O
//	throttle.go     restart policy, backoff, hmain's rule, give-up window: pure
//	config.go       options, the JSON configuration file, OCI process objects
//	decode.go       strict JSON decoding with the JSON path of every error
//	cpus.go         --workers auto: cgroup CPU limit, else sched affinity
//	start.go        starting one worker (spawn.Start through the reaper)
//	master.go       the one event loop that owns every slot
//	pidfile.go      lock, atomic write, identity check
//	ctl.go          pidone ctl stop|restart|status|reload
//	listen.go       --listen: sockets bound by the master, handed to workers (LISTEN_FDS)
//	ready.go        --ready: when a worker counts as ready
//	notify.go       sd_notify(3) both ways: NOTIFY_SOCKET for workers, pidone's own supervisor
//	handoff.go      the master's side of sockets, readiness and the status file
//	status.go       the status file and pidone ctl status per worker
//
// Every worker gets, on top of its environment:
//
//	PIDONE_WORKER_INDEX       its 0-based slot in the group
//	PIDONE_WORKER_COUNT       the group's slot count when it started
//	PIDONE_WORKER_GENERATION  the configuration generation (1, +1 per applied reload)
//	PIDONE_WORKER_GROUP       the group name ("main" for a command or --spec)
//	LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID   with --listen: the sockets at fds 3..
//	NOTIFY_SOCKET             with --ready notify: where to send READY=1
//
// pidone ctl reads PIDONE_PIDFILE when --pidfile is not given.
//
// Exit codes of the master: 0 stopped by SIGTERM/SIGINT (or every worker
// finished as its restart policy allows); 1 every slot given up; 2 bad
// option, configuration file or pidfile location; 3 another master holds the
// pidfile; 125 pidone itself failed. See docs/workers.md.
package workers

// Package supervisor is pidone's init proper: it starts the main command,
// owns the one event loop that holds all mutable state, and decides when to
// exit and with what status.
//
// It lives in the directory init/ as the design card asks, but cannot be
// called init: Go refuses to import a package of that name ("cannot import
// package as init"), since init is reserved for initialisation functions.
//
// Data flows one way: the reaper (package reap) reports exits, the runtime
// reports signals (package forward), and the loop in Run reacts to both.
// Nothing else waits for a process, and nothing else decides.
//
// The files, in reading order:
//
//	supervisor.go   Config, Run and its event loop: events in, actions out
//	shutdown.go     the decisions, as a pure state machine (stop, grace,
//	                SIGKILL, delays, rewrites, job control); table-tested
//	descendants.go  reaching every process below pidone: kill(-1) as PID 1,
//	                a race-checked walk down /proc's children files as a
//	                subreaper
//	remainder.go    the same stop for what workers mode leaves behind
//	start.go        starting the main child (execvp lookup, session or
//	                group, terminal, LISTEN_PID)
//	tty.go          the terminal: who holds its foreground
//	termlog.go      the termination log; closing inherited descriptors
//	pdeathsig.go    pidone's own parent-death signal (tini -p)
package supervisor

// pidone is a container init: it runs a command as PID 1's main child, reaps
// every orphan, forwards signals and exits with the child's status.
// See README.md for the options and exit codes.
//
// Asynchronous preemption makes the Go runtime send SIGURG to its own threads
// (hundreds a second under allocation load, golang/go#37942), and os/signal
// cannot tell those from a SIGURG somebody sent. pidone forwards SIGURG, so
// the Makefile links it with asyncpreemptoff=1 as the default GODEBUG
// (-X runtime.godebugDefault); pidone has no loop that needs preempting. A
// build without that default does not catch SIGURG at all (preempt.go).
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/pidone/pidone/forward"
	supervisor "github.com/pidone/pidone/init"
	"github.com/pidone/pidone/internal/entry"
	"github.com/pidone/pidone/logging"
	"github.com/pidone/pidone/workers"
)

// version is set by the Makefile (-X main.version).
var version = "dev"

// Exit codes of pidone's own failures; everything else is the child's.
const (
	exitUsage    = 2
	exitInternal = 125
)

func init() {
	// Keep main on the main thread: the kernel ties PR_SET_PDEATHSIG to
	// the calling thread, and the main thread is the one thread the
	// runtime never retires. In supervisor mode it stays locked for good,
	// as the thread that takes the signals (supervise).
	runtime.LockOSThread()
	// The cap of threads.go, from the start: more processors would only
	// mean more threads while pidone starts.
	if runtime.GOMAXPROCS(0) > maxProcs {
		runtime.GOMAXPROCS(maxProcs)
	}
}

// urgIsNeverOurs: the runtime never sends pidone a SIGURG of its own, so
// every SIGURG can be forwarded (preempt.go).
var urgIsNeverOurs = preemptionOff(linkedGodebug, os.Getenv("GODEBUG"))

func main() {
	// Before anything else: a Go PID 1 without a handler exits 2 on SIGTERM
	// (golang/go#13484).
	signals := forward.Catch(urgIsNeverOurs)
	// Installed as tini, docker-init, dumb-init or catatonit, pidone takes
	// that program's options (personality.go).
	if p := personalityOf(os.Args[0]); p != nil {
		os.Exit(p.run(os.Args[1:], signals))
	}
	os.Exit(run(os.Args[1:], signals))
}

func run(args []string, signals chan os.Signal) int {
	if len(args) > 0 && args[0] == "ctl" {
		if err := reserveDescriptors(needCtl, "pidone ctl"); err != nil {
			fmt.Fprintf(os.Stderr, "pidone ctl: %v\n", err)
			return exitInternal
		}
		return workers.Ctl(args[1:], os.Stdout, os.Stderr)
	}
	s, err := parseArgs(args, pidoneOptions)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pidone: %v\n%s\nTry 'pidone --help' for more information.\n", err, usageLine)
		return exitUsage
	}
	switch {
	case s.showHelp:
		printHelp(os.Stdout, pidoneOptions)
		return 0
	case s.showVersion:
		fmt.Printf("pidone version %s\n", version)
		return 0
	}
	log := logging.New(logging.Options{Format: s.logFormat, Level: s.level()})
	if !urgIsNeverOurs {
		log.Warn("async preemption is on (a build without `make`, or GODEBUG asyncpreemptoff=0): SIGURG is not forwarded")
	}
	if !entry.Ran() {
		log.Debug("built without the entry point (a build without `make`, or not amd64/arm64): " +
			"every signal goes through os/signal, and the child gets only the signal state the runtime left visible")
	}

	if s.pdeathsig != 0 {
		if err := supervisor.SetParentDeathSignal(s.pdeathsig); err != nil {
			log.Error("cannot set the parent-death signal", "error", err)
			return exitInternal
		}
	}
	if s.workers != nil {
		// The master forwards nothing directly: every signal goes
		// through its loop (a zero Shortcut).
		return serve(new(forward.Shortcut), signals, func() int { return runWorkers(s, log, signals) })
	}

	return supervise(supervisor.Config{
		Command:        s.command,
		Pause:          s.pause,
		SingleChild:    s.singleChild,
		RemapExit:      s.remapExit,
		WarnOnReap:     s.warnOnReap,
		Log:            log,
		Grace:          s.grace,
		WaitAll:        s.waitAll,
		StopOnRequest:  true,
		Rewrites:       s.rewrites,
		Delays:         s.delays,
		TerminationLog: s.termLog,
		Session:        supervisor.Foreground,
		JobControl:     supervisor.JobFollow,
		ListenPID:      true,
		ChildSignals:   childSignals("pidone", entry.Signals()),
		User:           s.user(),
		NoNewPrivs:     s.noNewPrivs,
	}, signals, func(e *supervisor.StartError) int {
		log.Error("cannot run command", startFailureAttrs(e)...)
		return e.ExitCode()
	})
}

// supervise runs the supervisor and exits pidone with its outcome; it
// returns only when RLIMIT_NOFILE is too low to start. It must be called on
// the main goroutine, still locked to the main thread, which becomes the
// thread that takes the forwardable signals and forwards most of them
// itself (forward.Shortcut); the supervisor's event loop runs beside it.
// startFailed logs a command that could not be started and says the code.
func supervise(cfg supervisor.Config, signals chan os.Signal, startFailed func(*supervisor.StartError) int) int {
	plan := planThreads()
	if err := reserveDescriptors(superviseNeed(cfg.Pause, os.Getpid() == 1), "pidone"); err != nil {
		cfg.Log.Error("too few file descriptors", "error", err)
		return exitInternal
	}
	cfg.Running = plan.reserve()
	cfg.Shortcut = new(forward.Shortcut)
	return serve(cfg.Shortcut, signals, func() int { return outcome(cfg, signals, startFailed) })
}

// serve runs body on a goroutine and exits pidone with its result; it
// never returns. The calling goroutine, still locked to the main thread,
// becomes the thread that takes the blockable signals (forward.Shortcut):
// with the entry point no other thread ever receives them.
func serve(shortcut *forward.Shortcut, signals chan os.Signal, body func() int) int {
	go func() { os.Exit(body()) }()
	shortcut.Serve(forward.Blockable(urgIsNeverOurs), signals)
	panic("forward.Shortcut.Serve returned")
}

// outcome runs the supervisor and maps its outcome to pidone's exit code.
func outcome(cfg supervisor.Config, signals <-chan os.Signal, startFailed func(*supervisor.StartError) int) int {
	code, err := supervisor.Run(cfg, signals)
	var startErr *supervisor.StartError
	switch {
	case errors.As(err, &startErr):
		return startFailed(startErr)
	case err != nil:
		cfg.Log.Error("pidone failed", "error", err)
		return exitInternal
	}
	return code
}

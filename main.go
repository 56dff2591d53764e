// pidone is a container init: it runs a command as PID 1's main child, reaps
// every orphan, forwards signals and exits with the child's status.
// See README.md for the options and exit codes.
//
// main reads top-down: catch the signals, parse the command line (package
// cli decides what to do), prepare (parent-death signal, descriptors,
// threads), run the supervisor or the master, exit with its code.
//
// Asynchronous preemption makes the Go runtime send SIGURG to its own threads
// (hundreds a second under allocation load, golang/go#37942), and os/signal
// cannot tell those from a SIGURG somebody sent. pidone forwards SIGURG, so
// the Makefile links it with asyncpreemptoff=1 as the default GODEBUG
// (-X runtime.godebugDefault); pidone has no loop that needs preempting. A
// build without that default does not catch SIGURG at all (cli/preempt.go).
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"

	"github.com/pidone/pidone/cli"
	"github.com/pidone/pidone/forward"
	supervisor "github.com/pidone/pidone/init"
	"github.com/pidone/pidone/internal/entry"
	"github.com/pidone/pidone/internal/exitreport"
	"github.com/pidone/pidone/workers"
	"golang.org/x/sys/unix"
)

func init() {
	// Keep main on the main thread: the kernel ties PR_SET_PDEATHSIG to
	// the calling thread, and the main thread is the one thread the
	// runtime never retires. In supervisor mode it stays locked for good,
	// as the thread that takes the signals (supervise).
	runtime.LockOSThread()
	// The cap of cli/threads.go, from the start: more processors would
	// only mean more threads while pidone starts.
	if runtime.GOMAXPROCS(0) > cli.MaxProcs {
		runtime.GOMAXPROCS(cli.MaxProcs)
	}
}

// urgIsNeverOurs: the runtime never sends pidone a SIGURG of its own, so
// every SIGURG can be forwarded (cli/preempt.go).
var urgIsNeverOurs = cli.PreemptionOff(os.Getenv("GODEBUG"))

func main() {
	// Before anything else: a Go PID 1 without a handler exits 2 on SIGTERM
	// (golang/go#13484).
	signals := forward.Catch(urgIsNeverOurs)
	// Installed as tini, docker-init, dumb-init or catatonit, pidone takes
	// that program's options (cli/personality.go).
	c := cli.Parse(os.Args[0], os.Args[1:], os.Environ())
	os.Exit(run(c, signals))
}

// run does what the command line asks and returns pidone's exit code.
func run(c cli.Config, signals chan os.Signal) int {
	switch c.Mode {
	case cli.Print:
		if c.Report != nil {
			// A usage error once the report's path was known
			// (cli/usagereport.go): the report first, as for any exit.
			if err := exitreport.Write(c.ExitReport, c.Report); err != nil {
				fmt.Fprintf(os.Stderr, "pidone: cannot write the exit report %s: %v\n", c.ExitReport, err)
			}
		}
		fmt.Fprint(os.Stdout, c.Stdout)
		fmt.Fprint(os.Stderr, c.Stderr)
		return c.Code
	case cli.Ctl:
		// ctl is an ordinary command, not an init: SIGINT (Ctrl-C in
		// `docker exec -it`), SIGTERM (timeout(1)), SIGHUP and SIGPIPE end
		// it as they end any program, by the signal. forward's package
		// initialization registered them for an init; Reset, once that
		// registration is done, gives them back to the runtime's defaults
		// (issue 18).
		forward.Registered()
		signal.Reset(unix.SIGHUP, unix.SIGINT, unix.SIGTERM, unix.SIGPIPE)
		if err := cli.ReserveDescriptors(cli.NeedCtl, "pidone ctl"); err != nil {
			fmt.Fprintf(os.Stderr, "pidone ctl: %v\n", err)
			return cli.ExitInternal
		}
		return workers.Ctl(c.CtlArgs, os.Stdout, os.Stderr)
	}
	if c.BuildNotes {
		noteBuild(c.Log)
	}
	if c.ParentDeathSignal != 0 {
		if err := supervisor.SetParentDeathSignal(c.ParentDeathSignal); err != nil {
			c.Log.Error("cannot set the parent-death signal", "error", err)
			return c.ParentDeathFailed
		}
	}
	if c.Mode == cli.Master {
		// The master forwards nothing directly: every signal goes
		// through its loop (a zero Shortcut).
		return serve(new(forward.Shortcut), signals, func() int { return master(c, signals) })
	}
	return supervise(c.Supervisor, signals, c.StartFailed)
}

// noteBuild logs what a build without make lacks.
func noteBuild(log *slog.Logger) {
	if !urgIsNeverOurs {
		log.Warn("async preemption is on (a build without `make`, or GODEBUG asyncpreemptoff=0): SIGURG is not forwarded")
	}
	if !entry.Ran() {
		log.Debug("built without the entry point (a build without `make`, or not amd64/arm64): " +
			"every signal goes through os/signal, and the child gets only the signal state the runtime left visible")
	}
}

// supervise runs the supervisor and exits pidone with its outcome; it
// returns only when RLIMIT_NOFILE is too low to start. It must be called on
// the main goroutine, still locked to the main thread, which becomes the
// thread that takes the forwardable signals and forwards most of them
// itself (forward.Shortcut); the supervisor's event loop runs beside it.
// startFailed logs a command that could not be started and says the code.
func supervise(cfg supervisor.Config, signals chan os.Signal, startFailed func(*supervisor.StartError) int) int {
	plan := cli.PlanThreads()
	if err := cli.ReserveDescriptors(cli.SuperviseNeed(cfg.Pause, os.Getpid() == 1, cfg.ControlSocket != ""), "pidone"); err != nil {
		cfg.Log.Error("too few file descriptors", "error", err)
		return cli.ExitInternal
	}
	cfg.Running = plan.Reserve()
	cfg.Shortcut = new(forward.Shortcut)
	return serve(cfg.Shortcut, signals, func() int { return outcome(cfg, signals, startFailed) })
}

// serve runs body on a goroutine and exits pidone with its result; it
// never returns. The calling goroutine, still locked to the main thread,
// becomes the thread that takes the blockable signals (forward.Shortcut):
// with the entry point no other thread ever receives them.
func serve(shortcut *forward.Shortcut, signals chan os.Signal, body func() int) int {
	go func() {
		// os/signal's loop starts with the first signal.Notify and drops
		// what it reads that no channel wants yet. The runtime may already
		// hold an early stop request for forward's channel
		// (entry.WantedEarly), so forward's registration must be the first
		// Notify: were the reaper's SIGCHLD first, its loop would read
		// that SIGTERM and drop it (TestEarlyStopRequest, issue 19).
		forward.Registered()
		os.Exit(body())
	}()
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
		return cli.ExitInternal
	}
	return code
}

// master runs workers mode and maps its outcome to pidone's exit code.
func master(c cli.Config, signals <-chan os.Signal) int {
	plan := cli.PlanThreads()
	if err := cli.ReserveDescriptors(cli.NeedWorkersLoad, "workers mode"); err != nil {
		c.Log.Error("too few file descriptors", "error", err)
		return workers.ExitInternal
	}
	// Workers mode's start is on nobody's clock: the reserve is begun
	// before the first worker either way.
	plan.Reserve()()
	code, err := workers.Run(c.Workers, signals)
	if err != nil {
		c.Log.Error("workers mode failed", "error", err)
		return workers.ExitCode(err)
	}
	return code
}

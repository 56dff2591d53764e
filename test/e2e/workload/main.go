// Command workload is the set of small programs the pidone end-to-end tests
// run under pidone (and later inside Docker images). One static binary, the
// subcommand in os.Args[1], one file per subcommand.
package main

import (
	"fmt"
	"os"
	"sort"
)

// subcommands maps os.Args[1] to its implementation, which gets the rest of
// the arguments. Returning an error prints it and exits 1.
var subcommands = map[string]func(args []string) error{
	"exit":        runExit,
	"killself":    runKillself,
	"storm":       runStorm,
	"daemons":     runDaemons,
	"sigrecord":   runSigrecord,
	"termexit":    runTermexit,
	"noreap":      runNoreap,
	"swapper":     runSwapper,
	"ps":          runPs,
	"demo":        runDemo,
	"worker":      runWorker,
	"withproc":    runWithproc,
	"lingerers":   runLingerers,
	"forkexit":    runForkExit,
	"sigtime":     runSigtime,
	"listenpid":   runListenPID,
	"holdfd":      runHoldFD,
	"ttyprobe":    runTTYProbe,
	"httpserver":  runHTTPServer,
	"execpending": runExecPending,
	"confine":     runConfine,
	"forkbomb":    runForkbomb,
	"hog":         runHog,
	"pinpid":      runPinpid,
	"rounds":      runRounds,
	"leave":       runLeave,
	"swarm":       runSwarm,
	"libhvworker": runLibhvWorker,
	"ctlattack":   runCtlAttack,
}

// hidden are the re-exec targets of the subcommands above; they are not
// meant to be run by hand, so usage does not list them.
var hidden = map[string]func(args []string) error{
	"spawner":       runSpawner,
	"daemon-parent": runDaemonParent,
	"daemon":        runDaemon,
	"demo-parent":   runDemoParent,
	"sleep":         runSleep,
	"linger":        runLinger,
	"linger-escape": runLingerEscape,
	"sdnotify":      runSDNotify,
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	reexecOnce(os.Args[1] == "sigrecord")
	run, ok := subcommands[os.Args[1]]
	if !ok {
		run, ok = hidden[os.Args[1]]
	}
	if !ok {
		usage()
	}
	if err := run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "workload %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	names := make([]string, 0, len(subcommands))
	for name := range subcommands {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: workload SUBCOMMAND [args...]\nsubcommands: %v\n", names)
	os.Exit(2)
}

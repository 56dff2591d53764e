package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// runLibhvWorker behaves as a worker of a libhv program does under hmain
// (libhv's examples/hmain_test.cpp): it reloads on SIGUSR1 and has no
// handler for anything else, so SIGHUP (pidone's default reload signal)
// and SIGTERM end it by their default action. It reports on stdout:
//
//	libhv start index=I pid=P gen=G
//	libhv reload index=I pid=P              (every SIGUSR1)
//
// With -pidfile PATH it writes its pid there at start, as a libhv program
// writes logs/PROG.pid: run as N workers, they overwrite each other's.
func runLibhvWorker(args []string) error {
	fs := flag.NewFlagSet("libhvworker", flag.ContinueOnError)
	pidfile := fs.String("pidfile", "", "write the pid here, as a libhv program does")
	if err := fs.Parse(args); err != nil {
		return err
	}
	reload := make(chan os.Signal, 8)
	signal.Notify(reload, syscall.SIGUSR1)
	index, pid := os.Getenv("PIDONE_WORKER_INDEX"), os.Getpid()
	if *pidfile != "" {
		if err := os.WriteFile(*pidfile, fmt.Appendf(nil, "%d\n", pid), 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("libhv start index=%s pid=%d gen=%s\n", index, pid, os.Getenv("PIDONE_WORKER_GENERATION"))
	for range reload {
		fmt.Printf("libhv reload index=%s pid=%d\n", index, pid)
	}
	return nil
}

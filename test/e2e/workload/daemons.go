package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// runDaemons starts N daemons the classic way: an intermediate process starts
// the daemon in a new session and exits without waiting, so the daemon is
// orphaned to the init and the init alone reaps it when it exits after -life.
// We wait for the intermediates (our own children), print "daemons started
// n=N", then wait for SIGTERM or stdin EOF.
func runDaemons(args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("usage: daemons N [-life 200ms]")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 {
		return fmt.Errorf("daemon count %q is not a number", args[0])
	}
	fs := flag.NewFlagSet("daemons", flag.ContinueOnError)
	life := fs.Duration("life", 200*time.Millisecond, "how long each daemon lives")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	// Start all intermediates first so they run in parallel, then wait.
	cmds := make([]*exec.Cmd, n)
	for i := range cmds {
		cmd, err := reexec("daemon-parent", "-life", life.String())
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		cmds[i] = cmd
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("daemon-parent: %w", err)
		}
	}
	fmt.Printf("daemons started n=%d\n", n)
	waitTermOrEOF()
	return nil
}

// runDaemonParent is the intermediate: start the daemon in its own session
// and exit at once, without waiting for it.
func runDaemonParent(args []string) error {
	fs := flag.NewFlagSet("daemon-parent", flag.ContinueOnError)
	life := fs.Duration("life", 200*time.Millisecond, "how long the daemon lives")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmd, err := reexec("daemon", "-life", life.String())
	if err != nil {
		return err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if os.Getenv(readyEnv) != "" {
		// The caller waits for the daemon's ready (startReady): hand it
		// the descriptor, which it inherits with readyEnv.
		cmd.ExtraFiles = []*os.File{os.NewFile(3, "ready")}
	}
	return cmd.Start()
}

// runDaemon is the daemon itself: it lives -life, then exits 0.
func runDaemon(args []string) error {
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	life := fs.Duration("life", 200*time.Millisecond, "how long to live")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sayReady()
	time.Sleep(*life)
	return nil
}

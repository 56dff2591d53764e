package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runWorker is a worker for pidone's workers mode. It reports what it is and
// what it receives, one line each on stdout:
//
//	worker start group=G index=I count=N gen=G pid=P pgid=PG
//	worker env index=I NAME=VALUE          (with -print-env NAME)
//	worker sig index=I pid=P sig=S          (every signal, by number)
//	worker orphans index=I pid=P n=N        (with -orphans N, once started)
//	worker exit index=I pid=P code=C        (before every exit of its own)
//
// It exits 0 on SIGTERM unless -ignore-term. It exits at once (after -after)
// with -code when -exit is given, when its slot is in -crash-slots, or when
// the file -crash-if exists.
func runWorker(args []string) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	exit := fs.Bool("exit", false, "exit with -code after -after")
	code := fs.Int("code", 1, "exit code for -exit, -crash-slots and -crash-if")
	after := fs.Duration("after", 0, "delay before exiting")
	crashSlots := fs.String("crash-slots", "", "comma-separated slot indexes that exit with -code")
	crashIf := fs.String("crash-if", "", "exit with -code if this file exists")
	ignoreTerm := fs.Bool("ignore-term", false, "report SIGTERM but keep running")
	orphans := fs.Int("orphans", 0, "start this many daemons that are orphaned to the init")
	printEnv := fs.String("print-env", "", "comma-separated variables to report")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, forwardable()...)
	index := os.Getenv("PIDONE_WORKER_INDEX")
	pid := os.Getpid()
	fmt.Printf("worker start group=%s index=%s count=%s gen=%s pid=%d pgid=%d\n",
		os.Getenv("PIDONE_WORKER_GROUP"), index, os.Getenv("PIDONE_WORKER_COUNT"),
		os.Getenv("PIDONE_WORKER_GENERATION"), pid, syscall.Getpgrp())
	for _, name := range strings.Split(*printEnv, ",") {
		if name != "" {
			fmt.Printf("worker env index=%s %s=%s\n", index, name, os.Getenv(name))
		}
	}
	exitNow := func(c int) {
		fmt.Printf("worker exit index=%s pid=%d code=%d\n", index, pid, c)
		os.Exit(c)
	}

	_, statErr := os.Stat(*crashIf)
	if *exit || slices.Contains(strings.Split(*crashSlots, ","), index) || *crashIf != "" && statErr == nil {
		time.Sleep(*after)
		exitNow(*code)
	}
	if *orphans > 0 {
		if err := startOrphans(*orphans); err != nil {
			return err
		}
		fmt.Printf("worker orphans index=%s pid=%d n=%d\n", index, pid, *orphans)
	}
	for s := range sigs {
		n := int(s.(syscall.Signal))
		fmt.Printf("worker sig index=%s pid=%d sig=%s\n", index, pid, strconv.Itoa(n))
		if s == syscall.SIGTERM && !*ignoreTerm {
			exitNow(0)
		}
	}
	return nil
}

// startOrphans starts n daemons the classic way (daemons.go): each
// intermediate exits at once, so the daemon is re-parented to the init,
// which alone reaps it when it exits 50ms later.
func startOrphans(n int) error {
	cmds := make([]*exec.Cmd, n)
	for i := range cmds {
		cmd, err := reexec("daemon-parent", "-life", "50ms")
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
	return nil
}

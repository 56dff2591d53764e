package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// runTTYProbe reports how it meets its terminal, for the job-control tests:
// "probe pid=P pgrp=G sid=S fg=BOOL" where fg says its process group is the
// terminal's foreground group. It reports SIGWINCH and SIGCONT as
// "probe sig N" and leaves every other signal at its default action, so that
// Ctrl-C (SIGINT) kills it and Ctrl-Z (SIGTSTP) stops it. It reads lines:
// "status" prints the first line again, "quit" exits 0. With -daemon D it
// first leaves a double-forked process living D behind.
func runTTYProbe(args []string) error {
	fs := flag.NewFlagSet("ttyprobe", flag.ContinueOnError)
	daemon := fs.Duration("daemon", 0, "leave a daemon living this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *daemon > 0 {
		cmd, err := reexec("daemon-parent", "-life", daemon.String())
		if err != nil {
			return err
		}
		if err := cmd.Run(); err != nil {
			return err
		}
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGWINCH, syscall.SIGCONT)
	go func() {
		for s := range sigs {
			fmt.Printf("probe sig %d\n", int(s.(syscall.Signal)))
		}
	}()
	status()
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		switch lines.Text() {
		case "status":
			status()
		case "quit":
			fmt.Println("probe quitting")
			// Let the line reach the terminal before the exit.
			time.Sleep(50 * time.Millisecond)
			return nil
		}
	}
	return nil
}

func status() {
	pgrp := unix.Getpgrp()
	sid, _ := unix.Getsid(0)
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	fmt.Printf("probe pid=%d pgrp=%d sid=%d fg=%v\n", os.Getpid(), pgrp, sid, err == nil && fg == pgrp)
}

package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"syscall"
)

// runLeave is a main child that exits with -code and leaves processes
// behind it (the exit report's leftovers, issue 21): -plain sleepers with
// SIGTERM at its default action (it kills them), -group lingerers in
// its own process group and -escapees in sessions of their own (setsid,
// double-forked, so re-parented to the init at once), each exiting on
// SIGTERM, or surviving it with -ignore. It exits only once every lingerer
// has its SIGTERM handler in place.
func runLeave(args []string) error {
	fs := flag.NewFlagSet("leave", flag.ContinueOnError)
	group := fs.Int("group", 0, "lingerers in the process group")
	escapees := fs.Int("escapees", 0, "lingerers in sessions of their own")
	plain := fs.Int("plain", 0, "sleepers that SIGTERM kills")
	ignore := fs.Bool("ignore", false, "the lingerers survive SIGTERM")
	code := fs.Int("code", 0, "exit status")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mode := "-exit"
	if *ignore {
		mode = "-ignore"
	}
	for i := 0; i < *plain; i++ {
		cmd, err := reexec("sleep", "1h")
		if err != nil {
			return err
		}
		// Past its re-exec, or its argv could read empty (startReady).
		if err := startReady(cmd); err != nil {
			return err
		}
	}
	for i := 0; i < *group+*escapees; i++ {
		// The lingerer says "ready" on a pipe of its own once its
		// SIGTERM handler is in place (a Go program catches every
		// signal from the start, so /proc's SigCgt cannot tell).
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		cmd, err := reexec("linger", "-role", "left", "-ready-fd", "3", mode)
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = os.Stdout, os.Stderr, []*os.File{w}
		if i >= *group {
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		w.Close()
		line, err := bufio.NewReader(r).ReadString('\n')
		r.Close()
		if line != "ready\n" {
			return fmt.Errorf("lingerer %d did not get ready: %q %v", cmd.Process.Pid, line, err)
		}
	}
	os.Exit(*code)
	return nil
}

package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"
)

// runDemo is what `make demo` shows: run as the main child of pidone in a
// fresh PID namespace with its own /proc (unshare --pid --fork --mount-proc),
// it makes zombies and orphans, shows them in /proc, shows that they are
// gone, and exits 3 so the user sees pidone pass the status through.
func runDemo(args []string) error {
	// Our parent must be PID 1, and /proc must be this namespace's (then it
	// knows our pid as we do). pidone's own threads use up the next few
	// pids, so we are not necessarily PID 2.
	if me, err := readProc(os.Getpid()); err != nil || me.ppid != 1 {
		return fmt.Errorf("run me as the main child of pidone in a fresh PID namespace with its own /proc: make demo")
	}
	say(fmt.Sprintf("I am PID %d, the main child of pidone, which is PID 1 of this namespace.", os.Getpid()))
	say("Starting a parent that forks 5 children which exit at once and are never")
	say("waited for (zombies), and 3 children that sleep for 1s.")
	parent, err := reexec("demo-parent")
	if err != nil {
		return err
	}
	parent.Stderr = os.Stderr
	stdin, err := parent.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := parent.StdoutPipe()
	if err != nil {
		return err
	}
	if err := parent.Start(); err != nil {
		return err
	}
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		return fmt.Errorf("demo-parent did not get ready: %q", line)
	}
	say("Process table while that parent is alive (Z = zombie):")
	table()

	say("The parent exits now: its 8 children are reparented to PID 1, which")
	say("reaps the zombies at once and the sleepers when they exit (-w logs each).")
	stdin.Close()
	if err := parent.Wait(); err != nil {
		return err
	}
	say("Process table right after the parent exited:")
	table()

	say("Waiting until /proc shows no zombie and no orphan (at most 5s)...")
	deadline := time.Now().Add(5 * time.Second)
	for !clean() {
		if time.Now().After(deadline) {
			table()
			return fmt.Errorf("zombies or orphans still there after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	say("Process table now:")
	table()
	say("Nothing left behind. Exiting with status 3; pidone should exit 3 too.")
	os.Exit(3)
	return nil
}

// runDemoParent forks the 5 zombies and starts the 3 sleepers, prints
// "ready" once the zombies show in /proc, and exits on stdin EOF without
// waiting for any of them.
func runDemoParent(args []string) error {
	var zombies []int
	err := withSignalsBlocked(func() error {
		for range 5 {
			pid, err := retryFork(forkZombie)
			if err != nil {
				return err
			}
			zombies = append(zombies, pid)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for range 3 {
		cmd, err := reexec("sleep", "1s")
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for _, pid := range zombies {
		for {
			p, err := readProc(pid)
			if err == nil && p.state == "Z" || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return nil
}

// runSleep sleeps for the duration given (saying ready first, see
// sayReady).
func runSleep(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		return err
	}
	sayReady()
	time.Sleep(d)
	return nil
}

// clean reports whether only pidone and the demo itself are left.
func clean() bool {
	procs, err := readProcs()
	if err != nil {
		return false
	}
	for _, p := range procs {
		if p.state == "Z" || p.pid != 1 && p.pid != os.Getpid() {
			return false
		}
	}
	return true
}

func say(line string) { fmt.Println("demo: " + line) }

// table prints the namespace's process table from /proc.
func table() {
	procs, err := readProcs()
	if err != nil {
		say(err.Error())
		return
	}
	fmt.Println("    PID  PPID  S  COMMAND")
	for _, p := range procs {
		cmd := p.cmdline
		if cmd == "" {
			cmd = "[" + p.comm + "]"
		}
		if len(cmd) > 60 {
			cmd = cmd[:57] + "..."
		}
		fmt.Printf("  %5d %5d  %s  %s\n", p.pid, p.ppid, p.state, strings.TrimSpace(cmd))
	}
}

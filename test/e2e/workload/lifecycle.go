package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The lifecycle workloads: processes that outlive the main child or ignore
// SIGTERM, for pidone's shutdown (docs/lifecycle.md).

// runLingerers is a main child that leaves two processes behind it: one in
// its own process group ("group") and one double-forked into a session of
// its own ("escapee"), the kind kill(-pgid) never reaches. With -ignore they
// both ignore SIGTERM (reporting it); without, they exit on it. The main
// child itself exits with -code on SIGTERM. Every process prints
// "<role> <pid> ready" once its handler is in place, and "<role> <pid> TERM"
// for each SIGTERM it gets.
func runLingerers(args []string) error {
	fs := flag.NewFlagSet("lingerers", flag.ContinueOnError)
	ignore := fs.Bool("ignore", false, "the lingerers ignore SIGTERM")
	code := fs.Int("code", 0, "exit status of the main child on SIGTERM")
	if err := fs.Parse(args); err != nil {
		return err
	}
	term := notifyTerm()
	mode := "-exit"
	if *ignore {
		mode = "-ignore"
	}
	group, err := reexec("linger", "-role", "group", mode)
	if err != nil {
		return err
	}
	group.Stdout, group.Stderr = os.Stdout, os.Stderr
	if err := group.Start(); err != nil {
		return err
	}
	escape, err := reexec("linger-escape", mode)
	if err != nil {
		return err
	}
	escape.Stdout, escape.Stderr = os.Stdout, os.Stderr
	if err := escape.Run(); err != nil { // it exits at once: a double fork
		return err
	}
	fmt.Printf("main %d ready\n", os.Getpid())
	<-term
	fmt.Printf("main %d TERM\n", os.Getpid())
	os.Exit(*code)
	return nil
}

// runLingerEscape starts a linger process in a new session and exits
// without waiting, so that it is re-parented to the init.
func runLingerEscape(args []string) error {
	cmd, err := reexec(append([]string{"linger", "-role", "escapee"}, args...)...)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd.Start()
}

// runLinger reports SIGTERM and, with -ignore, carries on; it never exits
// on its own.
func runLinger(args []string) error {
	fs := flag.NewFlagSet("linger", flag.ContinueOnError)
	role := fs.String("role", "linger", "name printed in every line")
	ignore := fs.Bool("ignore", false, "survive SIGTERM")
	fs.Bool("exit", false, "exit 0 on SIGTERM (the default)")
	readyFD := fs.Int("ready-fd", 0, "also say \"ready\" on this descriptor, then close it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	term := notifyTerm()
	if *readyFD > 0 {
		f := os.NewFile(uintptr(*readyFD), "ready")
		fmt.Fprintln(f, "ready")
		f.Close()
	}
	fmt.Printf("%s %d ready\n", *role, os.Getpid())
	for range term {
		fmt.Printf("%s %d TERM\n", *role, os.Getpid())
		if !*ignore {
			return nil
		}
	}
	return nil
}

func notifyTerm() chan os.Signal {
	c := make(chan os.Signal, 8)
	signal.Notify(c, syscall.SIGTERM)
	return c
}

// runForkExit starts a double-forked daemon that lives -life and exits
// without waiting for it, with status -code: a program that "daemonizes".
// It prints "daemon started" first.
func runForkExit(args []string) error {
	fs := flag.NewFlagSet("forkexit", flag.ContinueOnError)
	life := fs.Duration("life", time.Second, "how long the daemon lives")
	code := fs.Int("code", 0, "exit status")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmd, err := reexec("daemon-parent", "-life", life.String())
	if err != nil {
		return err
	}
	// Once the daemon is past its re-exec (startReady), its argv is what
	// the exit report's tests expect to read.
	if err := startReady(cmd); err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("daemon-parent: %w", err)
	}
	fmt.Println("daemon started")
	os.Exit(*code)
	return nil
}

// runSigtime prints "ready", then "sig N" for every forwardable signal it
// gets, and exits 0 on SIGTERM. On SIGUSR2 it also leaves an orphan behind
// (a double-forked process living 50ms), so that a test can see the init
// reap while it holds another signal back.
func runSigtime(args []string) error {
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, forwardable()...)
	fmt.Println("ready")
	for s := range sigs {
		n := s.(syscall.Signal)
		fmt.Printf("sig %d\n", int(n))
		switch n {
		case syscall.SIGTERM:
			return nil
		case syscall.SIGUSR2:
			cmd, err := reexec("daemon-parent", "-life", "50ms")
			if err != nil {
				return err
			}
			if err := cmd.Run(); err != nil {
				return err
			}
			fmt.Println("orphan started")
		}
	}
	return nil
}

// runListenPID prints "LISTEN_PID=<value> pid=<pid> fd3=<open>" (socket
// activation: the value must be the pid of the process that uses the
// sockets, passed from descriptor 3 on), then waits for stdin EOF.
func runListenPID(args []string) error {
	v, ok := os.LookupEnv("LISTEN_PID")
	if !ok {
		v = "unset"
	}
	_, err := os.Stat("/proc/self/fd/3")
	fmt.Printf("LISTEN_PID=%s pid=%s fd3=%v\n", v, strconv.Itoa(os.Getpid()), err == nil)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// runHoldFD is a socket activator in miniature: it puts an open descriptor
// at 3 (without close-on-exec), sets LISTEN_FDS=1 and LISTEN_PID to its own
// pid, and execs the command in its place, which so inherits all three.
func runHoldFD(args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return fmt.Errorf("usage: holdfd -- command [args...]")
	}
	r, _, err := os.Pipe()
	if err != nil {
		return err
	}
	if fd := int(r.Fd()); fd != 3 {
		if err := unix.Dup3(fd, 3, 0); err != nil {
			return err
		}
	} else if _, err := unix.FcntlInt(3, unix.F_SETFD, 0); err != nil {
		return err
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return err
	}
	env := append(os.Environ(), "LISTEN_FDS=1", "LISTEN_PID="+strconv.Itoa(os.Getpid()))
	return syscall.Exec(path, args, env)
}

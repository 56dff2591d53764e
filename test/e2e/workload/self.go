package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
)

// reexec returns a command that runs this same binary with args. It uses the
// path os.Executable resolves from /proc/self/exe rather than the
// /proc/self/exe link itself: exec through the link would name every copy
// "exe" in /proc/PID/comm, which makes the demo and ps output unreadable.
func reexec(args ...string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return exec.Command(self, args...), nil
}

// readyEnv names the descriptor on which a process started with
// startReady says "ready" once it runs its subcommand: past exec and the
// re-exec of reexecOnce, so that its /proc/PID/cmdline is its argv for good
// (during an exec it reads empty) and the argv is the one given.
const readyEnv = "WORKLOAD_READY_FD"

// startReady starts cmd with a pipe at descriptor 3 and readyEnv naming it,
// and returns once the process has said ready there (sayReady).
func startReady(cmd *exec.Cmd) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd.ExtraFiles = []*os.File{w}
	cmd.Env = append(os.Environ(), readyEnv+"=3")
	err = cmd.Start()
	w.Close()
	if err != nil {
		return err
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if line != "ready\n" {
		return fmt.Errorf("%s %d did not say ready: %q %v", cmd.Args[1], cmd.Process.Pid, line, err)
	}
	return nil
}

// sayReady says "ready" on the descriptor readyEnv names, if it is set,
// and closes it.
func sayReady() {
	fd, err := strconv.Atoi(os.Getenv(readyEnv))
	if err != nil {
		return
	}
	os.Unsetenv(readyEnv)
	f := os.NewFile(uintptr(fd), "ready")
	fmt.Fprintln(f, "ready")
	f.Close()
}

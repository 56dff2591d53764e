package main

import (
	"os"
	"os/exec"
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

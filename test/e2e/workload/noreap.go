package main

import (
	"fmt"
	"os"
	"os/exec"
)

// runNoreap is meant to be PID 1 of a namespace that never reaps anything,
// like a careless container entrypoint: it starts the command with inherited
// stdio, prints "noreap child pid=<pid>" on stderr, and blocks forever
// without ever calling wait. pidone running below it as a subreaper must
// still reap every orphan of its own subtree.
func runNoreap(args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return fmt.Errorf("usage: noreap -- command [args...]")
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return err
	}
	p, err := os.StartProcess(path, args, &os.ProcAttr{Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "noreap child pid=%d\n", p.Pid)
	blockForever()
	return nil
}

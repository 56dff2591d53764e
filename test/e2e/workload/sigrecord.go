package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// runSigrecord reports every forwardable signal it receives, one line
// "<role> <pid> <signum>" per signal on stdout, and never exits on a signal.
// It prints "<role> <pid> ready" once signal.Notify is in place.
//
// With -grandchild it also starts a copy of itself (role "grandchild") in the
// same process group, sharing stdout, to show whether a signal reached the
// whole group or only the child. With -storm N it runs an orphan storm in the
// background and prints "storm done orphans=<n>", to show that heavy reaping
// does not make pidone send signals nobody sent.
//
// On stdin EOF the child SIGKILLs its grandchild, waits for it and exits 0.
func runSigrecord(args []string) error {
	fs := flag.NewFlagSet("sigrecord", flag.ContinueOnError)
	grandchild := fs.Bool("grandchild", false, "also start a grandchild in the same process group")
	stormN := fs.Int("storm", 0, "run an orphan storm of this size in the background")
	role := fs.String("role", "child", "role printed in every line (internal)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, forwardable()...)
	pid := os.Getpid()
	fmt.Printf("%s %d ready\n", *role, pid)

	if *role == "grandchild" {
		// Its stdin is /dev/null; it lives until the child kills it.
		for s := range sigs {
			fmt.Printf("%s %d %d\n", *role, pid, s.(syscall.Signal))
		}
	}

	var gc *os.Process
	if *grandchild {
		cmd, err := reexec("sigrecord", "-role", "grandchild")
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		gc = cmd.Process
	}
	if *stormN > 0 {
		go func() {
			total, err := storm(4, *stormN)
			if err != nil {
				fmt.Fprintf(os.Stderr, "workload sigrecord: storm: %v\n", err)
				os.Exit(1)
			}
			fmt.Printf("storm done orphans=%d\n", total)
		}()
	}
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	for {
		select {
		case s := <-sigs:
			fmt.Printf("%s %d %d\n", *role, pid, s.(syscall.Signal))
		case <-eof:
			if gc != nil {
				_ = gc.Kill()
				_, _ = gc.Wait()
			}
			return nil
		}
	}
}

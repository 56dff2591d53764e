package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

// runTermexit prints "ready" once its SIGTERM handler is in place and exits
// with CODE on SIGTERM, the way a well-behaved service shuts down.
func runTermexit(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: termexit CODE")
	}
	code, err := strconv.Atoi(args[0])
	if err != nil || code < 0 || code > 255 {
		return fmt.Errorf("exit status %q is not a number in 0..255", args[0])
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	fmt.Println("ready")
	<-term
	os.Exit(code)
	return nil
}

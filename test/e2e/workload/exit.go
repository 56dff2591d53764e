package main

import (
	"fmt"
	"os"
	"strconv"
)

// runExit exits with status N, so the tests can check that pidone passes
// every code 0..255 through unchanged.
func runExit(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: exit N")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 || n > 255 {
		return fmt.Errorf("exit status %q is not a number in 0..255", args[0])
	}
	os.Exit(n)
	return nil
}

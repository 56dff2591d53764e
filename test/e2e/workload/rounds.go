package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
)

// runRounds runs -rounds orphan storms of -orphans each (storm.go), one
// after the other: after each it prints "round R orphans=N" and waits for a
// line on stdin (the test's go-ahead, once the init has reaped them all);
// after the last it exits with -code, the status the init must report.
func runRounds(args []string) error {
	fs := flag.NewFlagSet("rounds", flag.ContinueOnError)
	rounds := fs.Int("rounds", 4, "storms, one after the other")
	orphans := fs.Int("orphans", 25000, "orphans per storm")
	spawners := fs.Int("spawners", 4, "spawner processes per storm")
	code := fs.Int("code", 0, "exit status after the last round")
	if err := fs.Parse(args); err != nil {
		return err
	}
	in := bufio.NewScanner(os.Stdin)
	for r := 1; r <= *rounds; r++ {
		n, err := storm(*spawners, *orphans)
		if err != nil {
			return err
		}
		fmt.Printf("round %d orphans=%d\n", r, n)
		if !in.Scan() {
			return fmt.Errorf("stdin closed after round %d", r)
		}
	}
	os.Exit(*code)
	return nil
}

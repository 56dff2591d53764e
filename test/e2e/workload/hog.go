package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

// runHog allocates memory -step MiB at a time, touching every page, up to
// -mib MiB, printing "hog mib=N" after each step, then sleeps for ever: in a
// memory cgroup with a lower limit it is the process the OOM killer picks.
func runHog(args []string) error {
	fs := flag.NewFlagSet("hog", flag.ContinueOnError)
	total := fs.Int("mib", 1024, "MiB to allocate")
	step := fs.Int("step", 8, "MiB per step")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var keep [][]byte
	for n := *step; n <= *total; n += *step {
		b := make([]byte, *step<<20)
		for i := 0; i < len(b); i += os.Getpagesize() {
			b[i] = 1
		}
		keep = append(keep, b)
		fmt.Printf("hog mib=%d\n", n)
	}
	fmt.Printf("hog done mib=%d\n", len(keep)**step)
	for {
		time.Sleep(time.Hour)
	}
}

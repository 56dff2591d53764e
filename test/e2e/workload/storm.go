package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// runStorm floods the init with orphans: -spawners processes in parallel
// fork together at least -orphans processes that end up reparented to the
// init, then it prints exactly one line "storm done orphans=<total>" with the
// exact number of processes the init has to reap. With -hold it stays alive
// until SIGTERM or stdin EOF, so the test can inspect the namespace.
func runStorm(args []string) error {
	fs := flag.NewFlagSet("storm", flag.ContinueOnError)
	spawners := fs.Int("spawners", 4, "spawner processes running in parallel")
	orphans := fs.Int("orphans", 1000, "minimum number of orphans")
	hold := fs.Bool("hold", false, "wait for SIGTERM or stdin EOF before exiting")
	if err := fs.Parse(args); err != nil {
		return err
	}
	total, err := storm(*spawners, *orphans)
	if err != nil {
		return err
	}
	fmt.Printf("storm done orphans=%d\n", total)
	if *hold {
		waitTermOrEOF()
	}
	return nil
}

// storm runs k spawners and returns how many processes they orphaned. Half
// of n are plain zombies; the other half come from double forks, each
// giving a zombie intermediate and a live grandchild. The spawners are our
// own children and we wait for them: they are not orphans.
func storm(k, n int) (int, error) {
	if k < 1 {
		k = 1
	}
	zombies := (n + 1) / 2
	doubles := (n - zombies + 1) / 2
	share := func(total, i int) int {
		s := total / k
		if i < total%k {
			s++
		}
		return s
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		sum   int
		first error
	)
	for i := range k {
		cmd, err := reexec("spawner",
			"-zombies", strconv.Itoa(share(zombies, i)),
			"-doubles", strconv.Itoa(share(doubles, i)))
		if err != nil {
			return 0, err
		}
		cmd.Stderr = os.Stderr
		wg.Go(func() {
			out, err := cmd.Output()
			// A failed spawner still reports what it orphaned.
			var got int
			_, serr := fmt.Sscanf(strings.TrimSpace(string(out)), "orphaned=%d", &got)
			mu.Lock()
			defer mu.Unlock()
			sum += got
			if err == nil {
				err = serr
			}
			if err != nil && first == nil {
				first = fmt.Errorf("spawner: %w", err)
			}
		})
	}
	wg.Wait()
	return sum, first
}

// waitTermOrEOF returns on SIGTERM or when stdin reaches EOF (the test
// closed its end, or there is no stdin at all).
func waitTermOrEOF() {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-term:
	case <-eof:
	}
}

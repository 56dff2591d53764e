package main

import (
	"errors"
	"flag"
	"fmt"
	"syscall"
	"time"
)

// runSpawner is storm's hidden re-exec target. It forks -zombies children
// that exit at once and are never waited for, and -doubles double forks
// (see forkDouble), then prints "orphaned=<n>" and exits. Its exit hands
// every zombie child to the init; n counts exactly the processes the init
// will reap because of this spawner: each zombie, each double-fork
// intermediate (also a zombie of ours) and each grandchild.
func runSpawner(args []string) error {
	fs := flag.NewFlagSet("spawner", flag.ContinueOnError)
	zombies := fs.Int("zombies", 0, "children that exit at once")
	doubles := fs.Int("doubles", 0, "double forks")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var intermediates []int
	orphaned := 0
	err := withSignalsBlocked(func() error {
		for range *zombies {
			if _, err := retryFork(forkZombie); err != nil {
				return err
			}
			orphaned++
		}
		for range *doubles {
			pid, err := retryFork(forkDouble)
			if err != nil {
				return err
			}
			intermediates = append(intermediates, pid)
		}
		return nil
	})
	// Whatever was forked before an error is orphaned all the same.
	for _, pid := range intermediates {
		ok, werr := exitedZero(pid)
		if werr != nil {
			err = errors.Join(err, werr)
			continue
		}
		orphaned++ // the intermediate itself
		if ok {
			orphaned++ // its grandchild
		}
	}
	fmt.Printf("orphaned=%d\n", orphaned)
	return err
}

// retryFork retries a fork that failed for lack of resources (EAGAIN: the
// storm can outrun the init's reaping) for up to five seconds.
func retryFork(fork func() (int, syscall.Errno)) (int, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pid, errno := fork()
		if errno == 0 {
			return pid, nil
		}
		if errno != syscall.EAGAIN || time.Now().After(deadline) {
			return 0, fmt.Errorf("clone: %w", errno)
		}
		time.Sleep(time.Millisecond)
	}
}

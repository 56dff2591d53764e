package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// runSigrecord reports every forwardable signal it receives, one line
// "<role> <pid> <signum>" per signal on stdout, and never exits on a signal.
// It prints "<role> <pid> ready" once it listens for all of them.
//
// With -grandchild it also starts a copy of itself (role "grandchild") in the
// same process group, sharing stdout, to show whether a signal reached the
// whole group or only the child. With -storm N it runs an orphan storm in the
// background and prints "storm done orphans=<n>", to show that heavy reaping
// does not make pidone send signals nobody sent.
//
// On stdin EOF the child SIGKILLs its grandchild, waits for it and exits 0.
//
// Counting: two deliveries of a standard signal (1..31) that overlap merge
// into one in the kernel, so a duplicate can only show when it comes late.
// Realtime signals are queued one by one, but signal.Notify would merge
// them again (the runtime keeps one pending bit per signal). So the realtime
// signals are blocked on every thread (reexecOnce) and read from a signalfd,
// which returns each queued instance: a duplicate shows however fast it
// follows the first.
func runSigrecord(args []string) error {
	fs := flag.NewFlagSet("sigrecord", flag.ContinueOnError)
	grandchild := fs.Bool("grandchild", false, "also start a grandchild in the same process group")
	stormN := fs.Int("storm", 0, "run an orphan storm of this size in the background")
	role := fs.String("role", "child", "role printed in every line (internal)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	got := make(chan syscall.Signal, 64)
	if err := listen(got); err != nil {
		return err
	}
	pid := os.Getpid()
	fmt.Printf("%s %d ready\n", *role, pid)

	if *role == "grandchild" {
		// Its stdin is /dev/null; it lives until the child kills it.
		for sig := range got {
			fmt.Printf("%s %d %d\n", *role, pid, sig)
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
		case sig := <-got:
			fmt.Printf("%s %d %d\n", *role, pid, sig)
		case <-eof:
			if gc != nil {
				_ = gc.Kill()
				_, _ = gc.Wait()
			}
			return nil
		}
	}
}

// listen delivers every forwardable signal to got: the standard ones
// through signal.Notify, the realtime ones through a signalfd.
func listen(got chan<- syscall.Signal) error {
	var standard []os.Signal
	for _, sig := range forwardable() {
		if sig.(syscall.Signal) < rtFirst {
			standard = append(standard, sig)
		}
	}
	notified := make(chan os.Signal, 64)
	signal.Notify(notified, standard...)
	go func() {
		for sig := range notified {
			got <- sig.(syscall.Signal)
		}
	}()

	// reexecOnce blocked the realtime signals before exec; without that they
	// would run the default action (termination) instead of queueing.
	rt := realtimeSet()
	var cur unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, nil, &cur); err != nil {
		return fmt.Errorf("rt_sigprocmask: %w", err)
	}
	for i := range rt.Val {
		if cur.Val[i]&rt.Val[i] != rt.Val[i] {
			return errors.New("realtime signals are not blocked: the start-up re-exec failed")
		}
	}
	fd, err := unix.Signalfd(-1, &rt, unix.SFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("signalfd: %w", err)
	}
	go func() {
		// A read returns whole struct signalfd_siginfo records of 128
		// bytes, ssi_signo first (signalfd(2)).
		const size = 128
		var buf [16 * size]byte
		for {
			n, err := unix.Read(fd, buf[:])
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "workload sigrecord: read signalfd: %v\n", err)
				os.Exit(1)
			}
			for off := 0; off+size <= n; off += size {
				got <- syscall.Signal(binary.NativeEndian.Uint32(buf[off:]))
			}
		}
	}()
	return nil
}

package spawn

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPdeathsigOutlivesTheCallersThread starts a child with a parent-death
// signal from a goroutine locked to its thread, then lets that goroutine
// end without unlocking, which ends the thread (golang/go#27505). The
// child must not get the signal: it was forked on the forker thread,
// which lives as long as the process. Forked on the caller's thread, it
// got SIGKILL at once.
func TestPdeathsigOutlivesTheCallersThread(t *testing.T) {
	type started struct {
		pid    int
		err    error
		onMain bool
	}
	c := make(chan started)
	release := make(chan struct{})
	defer close(release)
	var s started
	for {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
			if unix.Gettid() == unix.Getpid() {
				// The runtime never ends the main thread: keep it
				// busy so that the next goroutine runs elsewhere.
				c <- started{onMain: true}
				<-release
				return
			}
			pid, pidfd, err := Start(&Attr{Argv: []string{"sleep", "600"}, Env: []string{"PATH=/bin:/usr/bin"}, Umask: -1, Pdeathsig: unix.SIGKILL})
			if pidfd >= 0 {
				unix.Close(pidfd)
			}
			c <- started{pid: pid, err: err}
		}()
		if s = <-c; !s.onMain {
			break
		}
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	defer func() {
		unix.Kill(s.pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(s.pid, &ws, 0, nil)
	}()
	// The goroutine's thread ends as soon as the goroutine has; the
	// signal would follow at once.
	time.Sleep(300 * time.Millisecond)
	var ws unix.WaitStatus
	pid, err := unix.Wait4(s.pid, &ws, unix.WNOHANG, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pid == s.pid {
		t.Fatalf("the child died (signal %v) when the thread that started it ended", ws.Signal())
	}
}

// BenchmarkStart measures a fork, exec and wait of /bin/true on the
// caller's thread and on the forker thread (a parent-death signal): the
// difference is the forker's two thread hand-offs.
func BenchmarkStart(b *testing.B) {
	for _, bc := range []struct {
		name string
		sig  unix.Signal
	}{{"caller thread", 0}, {"forker thread", unix.SIGKILL}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				pid, pidfd, err := Start(&Attr{Argv: []string{"/bin/true"}, Umask: -1, Pdeathsig: bc.sig})
				if err != nil {
					b.Fatal(err)
				}
				if pidfd >= 0 {
					unix.Close(pidfd)
				}
				var ws unix.WaitStatus
				unix.Wait4(pid, &ws, 0, nil)
			}
		})
	}
}

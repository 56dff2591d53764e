package main

import (
	"os"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Every workload process re-executes itself once at start-up, to set two
// things that the Go runtime only looks at when a program starts.
//
// Async preemption off: the runtime preempts long-running goroutines by
// sending SIGURG to its own threads (golang/go#37942, #24543). sigrecord
// would record that as a signal nobody sent, and blame pidone for it. A
// `//go:debug asyncpreemptoff=1` directive would be the obvious way, but the
// go command rejects it ("unknown //go:debug setting": only settings listed
// in internal/godebugs may be set that way). The Makefile links every binary
// with -X runtime.godebugDefault=asyncpreemptoff=1, but a plain `go build`
// does not, and a workload built without it would make the signal tests lie.
// So the setting goes into GODEBUG, which the runtime reads at start-up.
//
// Realtime signals blocked (sigrecord only): see sigrecord.go. The signal
// mask survives exec, and the runtime gives every thread it creates the mask
// the program started with (minus the signals it must see itself), so a mask
// set just before exec holds on all threads.
//
// exec keeps the pid, so nothing downstream can tell; it costs about a
// millisecond.

// reexecMarker holds the caller's original GODEBUG across the re-exec, so
// that processes we start (pidone below noreap, in particular) get the
// environment they would have had without us.
const reexecMarker = "WORKLOAD_ORIG_GODEBUG"

func reexecOnce(blockRealtime bool) {
	if orig, done := os.LookupEnv(reexecMarker); done {
		// Second run: the runtime has parsed GODEBUG already and does not
		// look at asyncpreemptoff again, so the caller's value can go back.
		os.Unsetenv(reexecMarker)
		if orig == "" {
			os.Unsetenv("GODEBUG")
		} else {
			os.Setenv("GODEBUG", orig)
		}
		return
	}
	self, err := os.Executable()
	if err != nil {
		return // run as we are rather than not at all; sigrecord checks its mask
	}
	orig := os.Getenv("GODEBUG")
	godebug := "asyncpreemptoff=1"
	if orig != "" {
		godebug = strings.TrimSuffix(orig, ",") + ",asyncpreemptoff=1"
	}
	env := []string{reexecMarker + "=" + orig, "GODEBUG=" + godebug}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	// The mask is per thread: set it on the thread that calls exec.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.Sigset_t
	if blockRealtime {
		rt := realtimeSet()
		if err := unix.PthreadSigmask(unix.SIG_BLOCK, &rt, &old); err != nil {
			return
		}
		defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil) // only if exec fails
	}
	_ = syscall.Exec(self, os.Args, env)
}

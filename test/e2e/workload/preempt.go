package main

import (
	"os"
	"strings"
	"syscall"
)

// The Go runtime preempts long-running goroutines by sending SIGURG to its
// own threads (golang/go#37942, #24543). sigrecord would record that as a
// signal nobody sent, and blame pidone for it, so every workload process
// runs with GODEBUG=asyncpreemptoff=1.
//
// A `//go:debug asyncpreemptoff=1` directive would be the obvious way, but the
// go command rejects it ("unknown //go:debug setting": only settings listed in
// internal/godebugs may be set that way). The Makefile links every binary
// with -X runtime.godebugDefault=asyncpreemptoff=1, but a plain `go build`
// does not, and a workload built without it would make the signal tests lie.
// So the process re-executes itself once, with the setting in the
// environment, which the runtime reads at start-up. exec keeps the pid, so
// nothing downstream can tell; it costs about a millisecond.

// preemptMarker holds the caller's original GODEBUG across the re-exec, so
// that processes we start (pidone below noreap, in particular) get the
// environment they would have had without us.
const preemptMarker = "WORKLOAD_ORIG_GODEBUG"

func disableAsyncPreemption() {
	if orig, done := os.LookupEnv(preemptMarker); done {
		// Second run: the runtime has parsed GODEBUG already and does not
		// look at asyncpreemptoff again, so the caller's value can go back.
		os.Unsetenv(preemptMarker)
		if orig == "" {
			os.Unsetenv("GODEBUG")
		} else {
			os.Setenv("GODEBUG", orig)
		}
		return
	}
	orig := os.Getenv("GODEBUG")
	godebug := "asyncpreemptoff=1"
	if orig != "" {
		godebug = strings.TrimSuffix(orig, ",") + ",asyncpreemptoff=1"
	}
	self, err := os.Executable()
	if err != nil {
		return // run with preemption on rather than not at all
	}
	env := []string{preemptMarker + "=" + orig, "GODEBUG=" + godebug}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	_ = syscall.Exec(self, os.Args, env)
}

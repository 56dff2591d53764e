package cli

import (
	"strconv"
	"strings"
)

// linkedGodebug is the GODEBUG default the Makefile links into the runtime
// (-X runtime.godebugDefault); it links the same string here
// (-X github.com/pidone/pidone/cli.linkedGodebug) so that pidone
// can tell whether its runtime sends itself SIGURG. A plain `go build` leaves
// both empty.
var linkedGodebug string

// PreemptionOff reports whether the runtime pidone runs in never sends
// itself SIGURG, so that every SIGURG can be forwarded; env is the GODEBUG
// environment variable.
func PreemptionOff(env string) bool {
	return preemptionOff(linkedGodebug, env)
}

// preemptionOff reports whether the runtime runs with asyncpreemptoff set:
// the linked default, then the GODEBUG environment variable, which the
// runtime reads last (runtime.parsedebugvars). Only then is every SIGURG
// pidone receives one that somebody sent, and safe to forward.
func preemptionOff(linked, env string) bool {
	off := false
	for _, settings := range []string{linked, env} {
		for _, kv := range strings.Split(settings, ",") {
			value, ok := strings.CutPrefix(kv, "asyncpreemptoff=")
			if !ok {
				continue
			}
			// As the runtime: a value that is not a number is ignored.
			if n, err := strconv.Atoi(value); err == nil {
				off = n != 0
			}
		}
	}
	return off
}

// Package poll waits, in the test tiers under test/, for state that no
// event announces (a process table in /proc, what `docker exec ps` shows).
package poll

import (
	"testing"
	"time"
)

// Until calls cond every interval until it reports true. If timeout passes
// first it fails the test with cond's last description of what it saw, so
// that the message says how far things got. The interval is the caller's:
// a cond that reads /proc is cheap, one that runs docker is not.
func Until(t testing.TB, timeout, interval time.Duration, cond func() (ok bool, saw string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not the case after %v: %s", timeout, saw)
		}
		time.Sleep(interval)
	}
}

package workers

// descriptorsNeeded is how many file descriptors the master holds at most
// at once after its configuration is loaded: two for each worker of one
// generation (its pidfd, and the reaper's copy of it, kept from the spawn
// until the wait in flight then returns: package reap, why attribution is
// exact), the pidfile's lock, and two more: the close-on-exec pipe
// of a spawn, or one file (the configuration read again on reload, the
// pidfile written or read). A replace reload holds a second generation's
// pidfds for a while; a spawn refused for want of one fails like any spawn
// (throttled, retried, and the replacement abandoned).
func descriptorsNeeded(specs []*GroupSpec, pidfile bool) int {
	n := 2
	for _, s := range specs {
		n += 2 * s.Count
	}
	if pidfile {
		n++
	}
	return n
}

package workers

// descriptorsNeeded is how many file descriptors the master holds at most
// at once after its configuration is loaded: the pidfd of each worker of
// one generation, the pidfile's lock, and two more: the close-on-exec pipe
// of a spawn, or one file (the configuration read again on reload, the
// pidfile written or read). A replace reload holds a second generation's
// pidfds for a while; a spawn refused for want of one fails like any spawn
// (throttled, retried, and the replacement abandoned).
func descriptorsNeeded(specs []*GroupSpec, pidfile bool) int {
	n := 2
	for _, s := range specs {
		n += s.Count
	}
	if pidfile {
		n++
	}
	return n
}

// Package threads makes a Go program create, while it still can, the
// threads it will need.
//
// Under a pids limit (cgroup pids.max, or RLIMIT_NPROC for a non-root user)
// that a fork bomb keeps reached, every thread counts against the limit,
// and a thread the Go runtime cannot create is a fatal error ("runtime:
// failed to create new OS thread", fatal error: newosproc), never an error
// value. The runtime keeps an idle thread for good and takes it before it
// creates another (runtime.startm), so a program that has created as many
// threads as it will ever run at once never needs to create one again.
package threads

import (
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Reserve caps GOMAXPROCS at maxProcs and has the runtime make threads
// until it has made keep. Goroutines lock a thread each, one after the
// other, so that none can share one: the first take the idle threads, the
// next need new ones. Then they unlock them and end: the threads join the
// runtime's idle list.
//
// It returns once every goroutine has let go of its thread. Until then
// each thread is its goroutine's alone, and a goroutine released under
// load may wait long for a processor to end on: a runtime that wanted a
// thread meanwhile found none idle and made one more, which under a full
// pids limit was fatal (test/e2e/exhaustion_test.go).
func Reserve(maxProcs, keep int) {
	if runtime.GOMAXPROCS(0) > maxProcs {
		runtime.GOMAXPROCS(maxProcs)
	}
	var locked, release, unlocked sync.WaitGroup
	release.Add(1)
	for i := 0; made() < keep && i < keep; i++ {
		locked.Add(1)
		unlocked.Add(1)
		go func() {
			runtime.LockOSThread()
			locked.Done()
			release.Wait()
			runtime.UnlockOSThread()
			unlocked.Done()
		}()
		locked.Wait()
	}
	release.Done()
	unlocked.Wait()
}

// made is the number of threads the runtime has made.
func made() int {
	n, _ := runtime.ThreadCreateProfile(nil)
	return n
}

// Budget reads the limits once and says how many threads to keep: want,
// or fewer, since the reservation must not itself be what exhausts a small
// pids limit, so it takes at most half of what the limit of our cgroup
// leaves (headroom). limited reports whether a limit on tasks applies that
// a child's fork bomb could keep reached, taking the threads the runtime
// would still create: a pids limit of our own cgroup, or RLIMIT_NPROC for
// a process the kernel holds to it. Where neither is seen, the limit a
// bomb reaches is one pidone cannot see (an ancestor's pids.max, as a
// Kubernetes pod's) or the system's.
func Budget(want int) (keep int, limited bool) {
	if room, ok := headroom(); ok {
		return min(want, made()+room/2), true
	}
	return want, nprocLimited()
}

// nprocLimited reports whether RLIMIT_NPROC holds this process back.
func nprocLimited() bool {
	var nproc unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NPROC, &nproc); err != nil {
		return true // cannot tell: assume the worst
	}
	initialNS, ok := readSmall("/proc/self/uid_map")
	return nprocBinds(nproc.Cur, unix.Geteuid(), ok && isInitialUserNS(initialNS))
}

// nprocBinds reports whether an RLIMIT_NPROC of limit holds a process of
// effective uid euid back. The kernel lets a fork past it for root of the
// initial user namespace (CAP_SYS_RESOURCE or CAP_SYS_ADMIN there); root
// of any other user namespace is held to it like everybody else.
func nprocBinds(limit uint64, euid int, initialUserNS bool) bool {
	if limit == unix.RLIM_INFINITY {
		return false
	}
	return euid != 0 || !initialUserNS
}

// isInitialUserNS reports whether uidMap (/proc/self/uid_map, trimmed)
// maps every uid to itself: the initial user namespace's map.
func isInitialUserNS(uidMap string) bool {
	f := strings.Fields(uidMap)
	return len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295"
}

// headroom is how many more tasks (threads and processes) the pids limit
// of our own cgroup allows; ok is false when there is none or it cannot be
// read. The cgroup is looked for where container runtimes put it: under
// /sys/fs/cgroup (v2) or /sys/fs/cgroup/pids (v1), at our path or at the
// mount's root (a container's own cgroup mounted there). A limit of an
// ancestor cgroup, or RLIMIT_NPROC, is not seen.
func headroom() (room int, ok bool) {
	self, ok := readSmall("/proc/self/cgroup")
	if !ok {
		return 0, false
	}
	for _, line := range strings.Split(self, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		var mount string
		switch {
		case f[0] == "0" && f[1] == "":
			mount = "/sys/fs/cgroup"
		case strings.Contains(","+f[1]+",", ",pids,"):
			mount = "/sys/fs/cgroup/pids"
		default:
			continue
		}
		dirs := []string{mount + f[2], mount}
		if f[2] == "/" {
			dirs = dirs[1:] // the same directory twice
		}
		for _, dir := range dirs {
			maxText, ok := readSmall(dir + "/pids.max")
			if !ok {
				continue
			}
			curText, ok := readSmall(dir + "/pids.current")
			if !ok {
				continue
			}
			limit, err1 := strconv.Atoi(maxText)
			used, err2 := strconv.Atoi(curText)
			if err1 != nil || err2 != nil {
				return 0, false // "max": no limit
			}
			return max(limit-used, 0), true
		}
	}
	return 0, false
}

// readSmall reads a small file with raw system calls, trimmed. Not through
// os: its first file starts the runtime's poller, which a caller counting
// its descriptors (internal/nofile) may not have allowed for yet.
func readSmall(path string) (string, bool) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", false
	}
	defer unix.Close(fd)
	var buf [4096]byte
	n, err := unix.Read(fd, buf[:])
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(buf[:n])), true
}

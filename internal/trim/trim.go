// Package trim gives back, once pidone has settled after start-up, the
// pages of its own binary that start-up touched and an idle pidone does not
// use (docs/performance.md, "Idle memory").
//
// Start-up runs a large part of the 3 MB binary once (option parsing,
// logging set-up, signal registration, the first fork), and the kernel maps
// it in 64 KiB at a time (fault-around) after reading 128 KiB at a time
// (read-around): about 2.8 MiB of an idle pidone's 3.7 MiB were pages of its
// binary. Paged out, a page that is needed again comes back from the page
// cache or the file on its next use.
package trim

import (
	"bufio"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Settle is how long pidone must have been quiet before it trims.
const Settle = time.Second

// quietCPU is the most CPU time pidone may use in one Settle period and
// still count as settled: an idle pidone uses none, one forwarded signal
// costs tens of microseconds and one reaped orphan a few.
const quietCPU = 2 * time.Millisecond

// Schedule trims once pidone has been quiet for Settle, and not before:
// the trim never runs on the start-up path. It runs on a goroutine of its
// own, so it holds up neither the event loop nor the reaper, and its timer
// fires once. Only if pidone was busy in that second is it set again, a
// second later: an idle pidone wakes up for it once, and never again.
func Schedule() {
	arm(cpuTime())
}

func arm(since time.Duration) {
	time.AfterFunc(Settle, func() {
		now := cpuTime()
		if !settled(now - since) {
			arm(now)
			return
		}
		Binary()
	})
}

// settled reports whether pidone, having used cpu in the last Settle, is
// idle enough to trim.
func settled(cpu time.Duration) bool { return cpu <= quietCPU }

// cpuTime is the CPU time pidone's threads have used so far.
func cpuTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// Binary pages out pidone's read-only mappings of its own binary
// (MADV_PAGEOUT), after telling the kernel not to read ahead around a page
// that faults back in (MADV_RANDOM): without that, each page pidone needs
// again would bring back the 128 KiB around it. Writable mappings are left
// alone: their content must survive, and without swap MADV_PAGEOUT cannot
// move it anyway. The kernel reclaims a page only if no other process maps
// it.
//
// On Linux 6.18, MADV_PAGEOUT reclaims the read-only data but few of the
// calling process's own executable pages (measured in Go and in C; from
// another process, process_madvise reclaims them all). Unmapping those
// with MADV_DONTNEED and dropping them with POSIX_FADV_DONTNEED saved about
// 100 KiB more; it is not done, as it would discard private copies of text
// pages (a debugger's breakpoints) and evict page cache that other
// processes running the same binary may use.
func Binary() {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	maps, err := parseMaps(f)
	f.Close()
	if err != nil {
		return
	}
	for _, m := range ownReadOnly(maps, reflect.ValueOf(Binary).Pointer()) {
		// Raw madvise: the range is not Go memory, so it cannot be a
		// slice (unix.Madvise takes one).
		unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_RANDOM)
		unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_PAGEOUT)
	}
}

// mapping is one line of /proc/PID/maps.
type mapping struct {
	start, end uintptr
	writable   bool
	path       string // "" for an anonymous mapping
}

// parseMaps reads /proc/PID/maps: "start-end perms offset dev inode [path]".
func parseMaps(r io.Reader) ([]mapping, error) {
	var maps []mapping
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// The path is the rest of the line and may hold spaces.
		f := strings.SplitN(sc.Text(), " ", 6)
		if len(f) < 5 {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || len(f[1]) < 2 {
			continue
		}
		m := mapping{start: uintptr(start), end: uintptr(end), writable: f[1][1] == 'w'}
		if len(f) == 6 {
			m.path = strings.TrimLeft(f[5], " ")
		}
		maps = append(maps, m)
	}
	return maps, sc.Err()
}

// ownReadOnly picks the read-only mappings of the file whose mapping holds
// the address pc: pidone's own binary, whatever name it was run by, even
// when it has been deleted or replaced on disk since (maps then says
// "(deleted)", on every mapping of it alike).
func ownReadOnly(maps []mapping, pc uintptr) []mapping {
	exe := ""
	for _, m := range maps {
		if m.start <= pc && pc < m.end {
			exe = m.path
		}
	}
	if exe == "" {
		return nil
	}
	var ro []mapping
	for _, m := range maps {
		if m.path == exe && !m.writable {
			ro = append(ro, m)
		}
	}
	return ro
}

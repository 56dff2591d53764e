package supervisor

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// trimMemory gives back, once start-up is over, the pages of pidone's own
// binary that start-up touched and an idle pause process does not use
// (docs/lifecycle.md has the figures): MADV_PAGEOUT on its read-only,
// file-backed mappings. Start-up maps in most of the 3 MB binary, of which
// an idle pidone needs a few pages. The kernel reclaims a page only if no
// other process maps it, and a page pidone needs again faults back in from
// the page cache or the file.
//
// Writable mappings are left alone: their content must survive, and
// without swap MADV_PAGEOUT could not move them anyway. Two more levers
// were measured and rejected, each costing more anonymous memory than it
// returned: a forced GC (debug.FreeOSMemory starts the GC's workers and
// allocates their buffers) and runtime.GOMAXPROCS(1) (resizing allocates).
func trimMemory() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		// A raw madvise: the range is not Go memory, so it cannot be a
		// slice (unix.Madvise takes one).
		unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_PAGEOUT)
	}
}

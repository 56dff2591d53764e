package workers

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// CPUs is --workers auto: how many CPUs this container may use. A CPU
// bandwidth limit (cgroup v2 cpu.max, v1 cpu.cfs_quota_us/cpu.cfs_period_us,
// the smallest on the way from our cgroup up to the mount's root) rounded up
// caps the CPUs of the scheduler affinity mask. The second result says where
// the number came from, for the log.
//
// runtime.NumCPU and GOMAXPROCS are no substitute: NumCPU ignores the
// cgroup, and GOMAXPROCS (Go 1.25+) never goes below 2 and obeys the
// GOMAXPROCS variable.
func CPUs() (int, string, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return 0, "", os.NewSyscallError("sched_getaffinity", err)
	}
	n, source := set.Count(), "sched_getaffinity"
	mountinfo, err1 := os.ReadFile("/proc/self/mountinfo")
	cgroup, err2 := os.ReadFile("/proc/self/cgroup")
	if err1 != nil || err2 != nil {
		return n, source, nil // no /proc: no cgroup to honour
	}
	for _, dir := range cpuCgroupDirs(string(mountinfo), string(cgroup)) {
		limit, ok := readCPULimit(dir)
		if ok && limit.cpus() < n {
			n, source = limit.cpus(), limit.source
		}
	}
	return max(n, 1), source, nil
}

// cpuLimit is a CPU bandwidth limit: quota microseconds per period.
type cpuLimit struct {
	quota, period int64
	source        string
}

// cpus rounds the limit up: 1.5 CPUs of bandwidth keep 2 workers busy.
func (l cpuLimit) cpus() int {
	return int(math.Ceil(float64(l.quota) / float64(l.period)))
}

// cgroupDir is one directory of a CPU controller hierarchy to read.
type cgroupDir struct {
	dir string
	v2  bool
}

// readCPULimit returns the limit set in dir, if any.
func readCPULimit(d cgroupDir) (cpuLimit, bool) {
	if d.v2 {
		b, err := os.ReadFile(path.Join(d.dir, "cpu.max"))
		if err != nil {
			return cpuLimit{}, false
		}
		return parseCPUMax(string(b), path.Join(d.dir, "cpu.max"))
	}
	q, err1 := os.ReadFile(path.Join(d.dir, "cpu.cfs_quota_us"))
	p, err2 := os.ReadFile(path.Join(d.dir, "cpu.cfs_period_us"))
	if err1 != nil || err2 != nil {
		return cpuLimit{}, false
	}
	return parseCFS(string(q), string(p), path.Join(d.dir, "cpu.cfs_quota_us"))
}

// parseCPUMax reads cgroup v2 cpu.max: "max 100000" (no limit) or
// "50000 100000".
func parseCPUMax(s, source string) (cpuLimit, bool) {
	f := strings.Fields(s)
	if len(f) != 2 || f[0] == "max" {
		return cpuLimit{}, false
	}
	q, err1 := strconv.ParseInt(f[0], 10, 64)
	p, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return cpuLimit{}, false
	}
	return cpuLimit{q, p, fmt.Sprintf("%s (%d/%d)", source, q, p)}, true
}

// parseCFS reads cgroup v1 cpu.cfs_quota_us (-1: no limit) and
// cpu.cfs_period_us.
func parseCFS(quota, period, source string) (cpuLimit, bool) {
	q, err1 := strconv.ParseInt(strings.TrimSpace(quota), 10, 64)
	p, err2 := strconv.ParseInt(strings.TrimSpace(period), 10, 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return cpuLimit{}, false
	}
	return cpuLimit{q, p, fmt.Sprintf("%s (%d/%d)", source, q, p)}, true
}

// cpuCgroupDirs lists the directories that can hold our CPU limit, from our
// own cgroup up to the root of the hierarchy's mount, given the text of
// /proc/self/mountinfo and /proc/self/cgroup. A v1 cpu hierarchy wins over
// v2, as the kernel enforces whichever has the cpu controller.
func cpuCgroupDirs(mountinfo, cgroup string) []cgroupDir {
	var v1Path, v2Path string
	haveV1, haveV2 := false, false
	for _, line := range strings.Split(cgroup, "\n") {
		// hierarchy-ID:controller-list:cgroup-path (cgroups(7))
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case f[0] == "0" && f[1] == "":
			v2Path, haveV2 = f[2], true
		case hasWord(f[1], ",", "cpu"):
			v1Path, haveV1 = f[2], true
		}
	}
	sc := bufio.NewScanner(strings.NewReader(mountinfo))
	for sc.Scan() {
		// id parent major:minor root mount-point options [optional...] - fstype source super-options (proc(5))
		left, right, ok := strings.Cut(sc.Text(), " - ")
		lf, rf := strings.Fields(left), strings.Fields(right)
		if !ok || len(lf) < 5 || len(rf) < 3 {
			continue
		}
		root, mountPoint := unescapeMount(lf[3]), unescapeMount(lf[4])
		var dirs []cgroupDir
		switch {
		case haveV1 && rf[0] == "cgroup" && hasWord(rf[2], ",", "cpu"):
			dirs = walkUp(mountPoint, root, v1Path, false)
		case haveV2 && !haveV1 && rf[0] == "cgroup2":
			dirs = walkUp(mountPoint, root, v2Path, true)
		}
		if dirs != nil {
			return dirs
		}
	}
	return nil
}

// walkUp maps cgroup path cg, seen from a mount of the hierarchy whose root
// is root, to directories under mountPoint, leaf first. A cgroup outside the
// mounted subtree (another cgroup namespace) has no directory we can read.
func walkUp(mountPoint, root, cg string, v2 bool) []cgroupDir {
	var rel string
	switch {
	case root == "/":
		rel = cg
	case cg == root:
		rel = "/"
	case strings.HasPrefix(cg, root+"/"):
		rel = strings.TrimPrefix(cg, root)
	default:
		return nil
	}
	rel = path.Clean("/" + rel)
	var dirs []cgroupDir
	for {
		dirs = append(dirs, cgroupDir{dir: path.Join(mountPoint, rel), v2: v2})
		if rel == "/" {
			return dirs
		}
		rel = path.Dir(rel)
	}
}

func hasWord(list, sep, word string) bool {
	for _, w := range strings.Split(list, sep) {
		if w == word {
			return true
		}
	}
	return false
}

// unescapeMount undoes the octal escapes of mountinfo (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

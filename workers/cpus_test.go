package workers

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

const (
	mountinfoV1 = `22 1 0:20 / /sys rw,nosuid - sysfs sysfs rw
31 22 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755
34 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
35 31 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
`
	// Docker without a cgroup namespace: the container sees its own
	// cgroup as the mount's root.
	mountinfoV1Docker = `600 590 0:29 /docker/abc /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
`
	mountinfoV2 = `30 22 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw
`
	mountinfoHybrid = mountinfoV1 + `40 31 0:35 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
`
	mountinfoSpaces = `34 31 0:29 / /mnt/my\040cgroups rw - cgroup cgroup rw,cpu
`
)

func TestCPUCgroupDirs(t *testing.T) {
	for _, tc := range []struct {
		doc, mountinfo, cgroup string
		want                   []cgroupDir
	}{
		{"v1, nested cgroup, walked up to the root", mountinfoV1, "4:memory:/a/b\n3:cpu,cpuacct:/a/b\n",
			[]cgroupDir{{"/sys/fs/cgroup/cpu,cpuacct/a/b", false}, {"/sys/fs/cgroup/cpu,cpuacct/a", false}, {"/sys/fs/cgroup/cpu,cpuacct", false}}},
		{"v1 root cgroup", mountinfoV1, "3:cpu,cpuacct:/\n", []cgroupDir{{"/sys/fs/cgroup/cpu,cpuacct", false}}},
		{"v1 as docker mounts it", mountinfoV1Docker, "3:cpu:/docker/abc\n", []cgroupDir{{"/sys/fs/cgroup/cpu", false}}},
		{"v1 cgroup outside the mounted subtree", mountinfoV1Docker, "3:cpu:/other\n", nil},
		{"v1 prefix that is not a parent", mountinfoV1Docker, "3:cpu:/docker/abcdef\n", nil},
		{"v2", mountinfoV2, "0::/user.slice/app\n",
			[]cgroupDir{{"/sys/fs/cgroup/user.slice/app", true}, {"/sys/fs/cgroup/user.slice", true}, {"/sys/fs/cgroup", true}}},
		{"hybrid: v1 cpu wins", mountinfoHybrid, "3:cpu,cpuacct:/x\n0::/x\n",
			[]cgroupDir{{"/sys/fs/cgroup/cpu,cpuacct/x", false}, {"/sys/fs/cgroup/cpu,cpuacct", false}}},
		{"escaped mount point", mountinfoSpaces, "3:cpu:/\n", []cgroupDir{{"/mnt/my cgroups", false}}},
		{"no cpu controller", mountinfoV1, "4:memory:/\n", nil},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			got := cpuCgroupDirs(tc.mountinfo, tc.cgroup)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestCPULimitFiles(t *testing.T) {
	for _, tc := range []struct {
		doc       string
		files     map[string]string
		v2        bool
		cpus      int
		limitless bool
	}{
		{"v2 limit rounds up", map[string]string{"cpu.max": "150000 100000\n"}, true, 2, false},
		{"v2 quarter CPU is one", map[string]string{"cpu.max": "25000 100000\n"}, true, 1, false},
		{"v2 max", map[string]string{"cpu.max": "max 100000\n"}, true, 0, true},
		{"v2 garbage", map[string]string{"cpu.max": "lots\n"}, true, 0, true},
		{"v1 limit", map[string]string{"cpu.cfs_quota_us": "300000\n", "cpu.cfs_period_us": "100000\n"}, false, 3, false},
		{"v1 no limit", map[string]string{"cpu.cfs_quota_us": "-1\n", "cpu.cfs_period_us": "100000\n"}, false, 0, true},
		{"v1 missing period", map[string]string{"cpu.cfs_quota_us": "300000\n"}, false, 0, true},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			l, ok := readCPULimit(cgroupDir{dir, tc.v2})
			if ok == tc.limitless || ok && l.cpus() != tc.cpus {
				t.Errorf("got %+v ok=%v; want %d CPUs, limit=%v", l, ok, tc.cpus, !tc.limitless)
			}
		})
	}
}

// TestCPUsHere checks --workers auto on this machine against what the
// scheduler allows; a cgroup limit can only lower it.
func TestCPUsHere(t *testing.T) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	n, source, err := CPUs()
	if err != nil || n < 1 || n > set.Count() || source == "" {
		t.Errorf("CPUs() = %d, %q, %v; want 1..%d (affinity) with a source", n, source, err, set.Count())
	}
	t.Logf("auto: %d workers (%s)", n, source)
}

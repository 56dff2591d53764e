package trim

import (
	"bufio"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

const sampleMaps = `00400000-00545000 r-xp 00000000 fe:00 9983063                            /usr/local/bin/pidone
00545000-006c1000 r--p 00145000 fe:00 9983063                            /usr/local/bin/pidone
006c1000-006d3000 rw-p 002c1000 fe:00 9983063                            /usr/local/bin/pidone
006d3000-0070a000 rw-p 00000000 00:00 0 
3f0afb400000-3f0afb800000 rw-p 00000000 00:00 0 
7ff7f7b4e000-7ff7f7b50000 r-xp 00000000 00:00 0                          [vdso]
7fff00000000-7fff00001000 r--p 00000000 fe:00 12                         /srv/my data/other file
`

func TestParseMaps(t *testing.T) {
	maps, err := parseMaps(strings.NewReader(sampleMaps + "garbage line\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{
		{0x400000, 0x545000, false, "/usr/local/bin/pidone"},
		{0x545000, 0x6c1000, false, "/usr/local/bin/pidone"},
		{0x6c1000, 0x6d3000, true, "/usr/local/bin/pidone"},
		{0x6d3000, 0x70a000, true, ""},
		{0x3f0afb400000, 0x3f0afb800000, true, ""},
		{0x7ff7f7b4e000, 0x7ff7f7b50000, false, "[vdso]"},
		{0x7fff00000000, 0x7fff00001000, false, "/srv/my data/other file"},
	}
	if !reflect.DeepEqual(maps, want) {
		t.Errorf("parseMaps:\n got %+v\nwant %+v", maps, want)
	}
}

func TestOwnReadOnly(t *testing.T) {
	maps, err := parseMaps(strings.NewReader(sampleMaps +
		"7fff10000000-7fff10001000 r--p 00000000 fe:00 9983063 /usr/local/bin/pidone (deleted)\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		doc  string
		pc   uintptr
		want []uintptr // starts of the mappings picked
	}{
		{"pc in the text: text and read-only data, not the writable data", 0x401234, []uintptr{0x400000, 0x545000}},
		{"pc in read-only data picks the same", 0x600000, []uintptr{0x400000, 0x545000}},
		{"pc in an anonymous mapping: nothing", 0x3f0afb400010, nil},
		{"pc nowhere: nothing", 0x10, nil},
		{"a deleted binary is matched by its whole name", 0x7fff10000000, []uintptr{0x7fff10000000}},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			var got []uintptr
			for _, m := range ownReadOnly(maps, tc.pc) {
				got = append(got, m.start)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ownReadOnly(%#x) = %#x, want %#x", tc.pc, got, tc.want)
			}
		})
	}
}

func TestSettled(t *testing.T) {
	for _, tc := range []struct {
		cpu  time.Duration
		want bool
	}{
		{0, true},
		{quietCPU, true},
		{quietCPU + 1, false},
		{time.Second, false},
	} {
		if got := settled(tc.cpu); got != tc.want {
			t.Errorf("settled(%v) = %v, want %v", tc.cpu, got, tc.want)
		}
	}
}

// TestBinaryPagesOutReadOnlyData trims this test binary and checks that the
// resident part of its read-only data mappings shrank: MADV_PAGEOUT
// reclaims them (docs/performance.md; the text of the calling process is
// mostly kept by the kernel, so it is not asserted on).
func TestBinaryPagesOutReadOnlyData(t *testing.T) {
	before := readOnlyDataRSS(t)
	if before == 0 {
		t.Fatal("no resident read-only data mapping of the test binary found in /proc/self/smaps")
	}
	Binary()
	after := readOnlyDataRSS(t)
	t.Logf("resident read-only data of the test binary: %d KiB -> %d KiB", before, after)
	if after > before/2 {
		t.Errorf("read-only data still %d KiB resident after the trim, was %d KiB", after, before)
	}
}

// readOnlyDataRSS sums the Rss of this binary's r--p mappings, in KiB.
func readOnlyDataRSS(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			in = fields[1] == "r--p" && strings.HasSuffix(line, " "+exe)
			continue
		}
		if rest, ok := strings.CutPrefix(line, "Rss:"); ok && in {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				t.Fatalf("smaps: %q: %v", line, err)
			}
			total += kb
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}

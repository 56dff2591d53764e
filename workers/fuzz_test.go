package workers

import (
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pidone/pidone/forward"
	"golang.org/x/sys/unix"
)

// Fuzz targets for every parser of user input in workers mode. `go test`
// runs their seeds; `make fuzz` runs each for $(FUZZTIME). None may panic,
// and none may allocate more than a bounded amount per input byte.

// maxMessage is the longest error message any parser may return: what
// they echo is cut to 64 bytes (internal/clip), which %q may spell with 4
// characters a byte, and a JSON path has at most 64 such steps.
const maxMessage = 64*(4*64+40) + 1000

func checkMessage(t *testing.T, err error) {
	t.Helper()
	if err != nil && len(err.Error()) > maxMessage {
		t.Fatalf("a %d-byte error message: %.200q", len(err.Error()), err)
	}
}

// boundedAlloc runs f and fails if it allocated more than perByte bytes
// per input byte plus slack. ReadMemStats counts every goroutine's
// allocations, the fuzzing engine's too: the slack covers those.
func boundedAlloc(t *testing.T, input int, perByte uint64, f func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	limit := perByte*uint64(input) + 1<<20
	if got := after.TotalAlloc - before.TotalAlloc; got > limit {
		t.Fatalf("%d bytes of input allocated %d bytes, more than %d", input, got, limit)
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		goodConfig,
		`{"groups": {"web": {"count": "auto", "process": {"args": ["x"]}}}}`,
		`{"groups": {"a": {"count": 1024, "process": {"args": ["x"]}}, "b": {"count": 1, "process": {"args": ["y"]}}}}`,
		`{"groups": {"web": {"count": 1, "count": 2}}}`,
		`{"groups": {"web": {"process": {"args": ["x"], "env": ["A"], "rlimits": [{"type": "RLIMIT_CORE", "soft": 2, "hard": 1}]}}}}`,
		`{"groups": {"web": {"process": {"args": ["x"], "user": {"uid": 4294967295, "umask": 511}}}}}`,
		`{"groups": {"\u0000": {}}}`,
		`{"groups": ` + strings.Repeat("[", 65) + strings.Repeat("]", 65) + `}`,
		`["\"[[[[", {"a": [[[{}]]]}]`,
		`{"groups": {"web": {"giveUp": "5/60s", "fatalExit": [0, 255], "stopSignal": "RTMIN+3", "grace": "1ns"}}}`,
		"{\n\"groups\": {,}\n}",
		`{"groups": {}} {}`,
		`1e999999`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o := DefaultOptions()
		var groups []*GroupSpec
		var err error
		boundedAlloc(t, len(data), 128, func() { groups, err = o.parseConfig(data) })
		checkMessage(t, err)
		if tooDeep(data, MaxConfigDepth) >= 0 && (err == nil || !strings.Contains(err.Error(), "nested deeper than")) {
			t.Fatalf("over-deep input not refused as such: %v", err)
		}
		if err != nil {
			return
		}
		total := 0
		for _, g := range groups {
			switch {
			case g.Count < 1 || g.Count > MaxWorkers:
				t.Fatalf("group %q: count %d", g.Name, g.Count)
			case !groupName(g.Name):
				t.Fatalf("group name %q accepted", g.Name)
			case len(g.Process.Args) == 0 || g.Process.Args[0] == "":
				t.Fatalf("group %q: no command", g.Name)
			case g.Policy.Validate() != nil:
				t.Fatalf("group %q: invalid policy accepted: %v", g.Name, g.Policy.Validate())
			}
			total += g.Count
		}
		if total > MaxWorkers {
			t.Fatalf("%d workers in all", total)
		}
	})
}

// FuzzParseTree is the strict decoder alone: any bytes at all.
func FuzzParseTree(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a": 1, "a": 2}`, `"\ud800"`, `[1, 2,]`, strings.Repeat("[", 64) + strings.Repeat("]", 64), strings.Repeat("{\"\":", 70), `{"a\"[": "[{"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var err error
		deep := tooDeep(data, MaxConfigDepth) >= 0
		perByte := uint64(128)
		if deep {
			perByte = 1 // refused before anything is built
		}
		boundedAlloc(t, len(data), perByte, func() { _, err = parseTree(data) })
		checkMessage(t, err)
		if deep && (err == nil || !strings.Contains(err.Error(), "nested deeper than")) {
			t.Fatalf("over-deep input not refused as such: %v", err)
		}
	})
}

func FuzzParseBundleProcess(f *testing.F) {
	for _, s := range []string{
		`{"ociVersion": "1.2.0", "root": {"path": "rootfs"}, "linux": {"seccomp": {"syscalls": [{"names": ["x"], "args": [{"index": 0}]}]}},
		  "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0, "additionalGids": [1]}, "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 2, "soft": 1}], "noNewPrivileges": true}}`,
		`{"process": null}`,
		`{"process": {"args": [""], "capabilities": {}}}`,
		`{"proces": {}}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Process
		var err error
		boundedAlloc(t, len(data), 128, func() { p, err = parseBundleProcess("config.json", data) })
		checkMessage(t, err)
		if err == nil && (len(p.Args) == 0 || p.Args[0] == "") {
			t.Fatalf("a process without a command: %+v", p)
		}
	})
}

// FuzzWorkerOptionValues feeds one string to every parser of a workers
// option value: --workers, --restart, --throttle, --reload, --give-up,
// --fatal-exit and the durations (--backoff-*, --ready-after).
func FuzzWorkerOptionValues(f *testing.F) {
	for _, s := range []string{"4", "auto", "1024", "1025", "0", "-1", "+5", "99999999999999999999", "always", "on-failure", "backoff", "hmain",
		"replace", "5/60s", "off", "0/1s", "5/", "/1s", "3,78", "3,,4", " 3 , 78 ", "256", "100ms", "1.5s", "-1s", "1e9s", "9223372036854775807ns", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := ParseCount(s); err == nil {
			if !c.Auto && (c.N < 1 || c.N > MaxWorkers) {
				t.Fatalf("ParseCount(%q) = %+v", s, c)
			}
		} else {
			checkMessage(t, err)
		}
		_, err := ParseRestart(s)
		checkMessage(t, err)
		_, err = ParseThrottle(s)
		checkMessage(t, err)
		_, err = ParseReload(s)
		checkMessage(t, err)
		if g, err := ParseGiveUp(s); err == nil {
			if g != (GiveUp{}) && (g.Count < 1 || g.Window <= 0) {
				t.Fatalf("ParseGiveUp(%q) = %+v", s, g)
			}
		} else {
			checkMessage(t, err)
		}
		if codes, err := ParseCodes(s); err == nil {
			for _, c := range codes {
				if c < 0 || c > 255 {
					t.Fatalf("ParseCodes(%q) = %v", s, codes)
				}
			}
		} else {
			checkMessage(t, err)
		}
		if d, err := ParseDuration(s); err == nil && d < 0 {
			t.Fatalf("ParseDuration(%q) = %v", s, d)
		} else {
			checkMessage(t, err)
		}
	})
}

func FuzzParsePid(f *testing.F) {
	for _, s := range []string{"1\n", "4194304\n", "4194305", " 17 ", "0", "-1", "+1", "1\n2\n", "", "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pid, err := parsePid(b)
		checkMessage(t, err)
		if err == nil && (pid < 1 || pid > pidMaxLimit) {
			t.Fatalf("parsePid(%q) = %d", b, pid)
		}
	})
}

func FuzzParseLockInfo(f *testing.F) {
	for _, s := range []string{"pid=1\nreload-signal=SIGHUP\nrestart-signal=SIGUSR2\n", "pid=-1\nreload-signal=KILL\nrestart-signal=CHLD", "pid=\n=\n\n", "reload-signal=RTMIN++3", "pid=1\npid-ns=4026531836\nstart-time=81234567\n", "pid-ns=-1\nstart-time=99999999999999999999999"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		info := parseLockInfo(b)
		if info.Pid < 0 || info.Pid > pidMaxLimit || !forward.Forwardable(info.ReloadSignal) || !forward.Forwardable(info.RestartSignal) {
			t.Fatalf("parseLockInfo(%q) = %+v", b, info)
		}
	})
}

// FuzzNotifyMessage is the notify socket's parser (issue 18): a datagram's
// text, its control data and recvmsg's flags, as any process in the
// network namespace may send them. parseDatagram must not close, keep or
// make up descriptors (the caller closes what it returns, off the reading
// goroutine), and notifyFields must give only what the text says.
func FuzzNotifyMessage(f *testing.F) {
	cred := unix.UnixCredentials(&unix.Ucred{Pid: 7, Uid: 65534, Gid: 65534})
	rights := unix.UnixRights(0, 1, 2)
	for _, s := range []struct {
		text  string
		oob   []byte
		flags int
	}{
		{"READY=1", cred, 0},
		{"READY=1\nSTATUS=serving\nMAINPID=1", append(append([]byte{}, cred...), rights...), 0},
		{"FDSTORE=1", rights, unix.MSG_CTRUNC},
		{"=\n\n==\nA==\nREADY", nil, unix.MSG_TRUNC},
		{"STATUS=\xff\xfe", cred[:len(cred)-1], 0},
		{strings.Repeat("X=1\n", 1024), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 1, 0, 0, 0}, 0},
	} {
		f.Add([]byte(s.text), s.oob, s.flags)
	}
	f.Fuzz(func(t *testing.T, data, oob []byte, flags int) {
		var msg notification
		var fds []int
		boundedAlloc(t, len(data)+len(oob), 64, func() { msg, fds = parseDatagram(data, oob, flags) })
		if msg.text != string(data) || msg.fds != len(fds) || msg.err != nil {
			t.Fatalf("parseDatagram(%q, %x, %#x) = %+v, %v", data, oob, flags, msg, fds)
		}
		if len(fds) > len(oob)/4 {
			t.Fatalf("%d descriptors from %d bytes of control data", len(fds), len(oob))
		}
		if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 && !msg.truncated {
			t.Fatalf("flags %#x: not marked truncated", flags)
		}
		var fields [][2]string
		boundedAlloc(t, len(data), 64, func() { fields = notifyFields(msg.text) })
		lines := strings.Split(msg.text, "\n")
		for _, kv := range fields {
			if kv[0] == "" || strings.ContainsAny(kv[0], "=\n") || strings.Contains(kv[1], "\n") || !slices.Contains(lines, kv[0]+"="+kv[1]) {
				t.Fatalf("notifyFields(%q): %q", msg.text, kv)
			}
		}
		if l := oneLine(msg.text); strings.Contains(l, "\n") || len(l) > 2*200+3 {
			t.Fatalf("oneLine(%q) = %q", msg.text, l)
		}
	})
}

package workers

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const goodConfig = `{
  "groups": {
    "web": {
      "count": 3,
      "restart": "on-failure",
      "backoffMin": "10ms",
      "backoffMax": "1s",
      "giveUp": "5/60s",
      "fatalExit": [78],
      "stopSignal": "QUIT",
      "grace": "2s",
      "process": {
        "args": ["/srv/web", "--port", "80"],
        "env": ["PATH=/usr/bin", "MODE=prod"],
        "cwd": "/srv",
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [27, 100], "umask": 18},
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096}],
        "noNewPrivileges": true
      }
    },
    "jobs": {"throttle": "hmain", "process": {"args": ["jobs"]}}
  }
}`

func TestParseConfig(t *testing.T) {
	o := DefaultOptions()
	o.Count = Count{N: 2}
	groups, err := o.parseConfig([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 2 || groups[0].Name != "web" || groups[1].Name != "jobs" {
		t.Fatalf("groups %v; want web then jobs, in file order", groups)
	}
	web, jobs := groups[0], groups[1]
	checks := []struct {
		doc       string
		got, want any
	}{
		{"web count", web.Count, 3},
		{"web restart", web.Policy.Restart, RestartOnFailure},
		{"web backoff-min", web.Policy.BackoffMin, 10 * time.Millisecond},
		{"web backoff-reset from the options", web.Policy.BackoffReset, 60 * time.Second},
		{"web give-up", web.Policy.GiveUp, GiveUp{5, time.Minute}},
		{"web stop signal", web.StopSignal, unix.SIGQUIT},
		{"web grace", web.Grace, 2 * time.Second},
		{"web uid", web.Process.User.UID, uint32(1000)},
		{"web groups", len(web.Process.User.AdditionalGids), 2},
		{"web umask", *web.Process.User.Umask, uint32(0o22)},
		{"web rlimit", web.Process.Rlimits[0], Rlimit{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, 1024, 4096}},
		{"web nnp", web.Process.NoNewPrivileges, true},
		{"jobs count from --workers", jobs.Count, 2},
		{"jobs throttle", jobs.Policy.Throttle, ThrottleHmain},
		{"jobs keeps pidone's identity", jobs.Process.User == nil, true},
		{"jobs keeps pidone's environment", jobs.Process.Env == nil, true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.doc, c.got, c.want)
		}
	}
}

func TestConfigErrorsNameTheJSONPath(t *testing.T) {
	proc := `"process": {"args": ["x"]}`
	for _, tc := range []struct {
		doc, json, want string
	}{
		{"syntax error with position", "{\n  \"groups\": {,}\n}", "line 2, column"},
		{"truncated", `{"groups": {"a": `, "unexpected end"},
		{"trailing data", `{"groups": {"a": {` + proc + `}}} {}`, "after the top-level value"},
		{"unknown top-level field", `{"group": {}}`, "group: unknown field (known: groups)"},
		{"no groups", `{"groups": {}}`, "groups: at least one group"},
		{"bad group name", `{"groups": {"a b": {` + proc + `}}}`, `["a b"]: group names`},
		{"unknown group field", `{"groups": {"web": {"cont": 2, ` + proc + `}}}`, "groups.web.cont: unknown field"},
		{"keys are case-sensitive", `{"groups": {"web": {"Count": 2, ` + proc + `}}}`, "groups.web.Count: unknown field"},
		{"duplicate key", `{"groups": {"web": {"count": 1, "count": 2, ` + proc + `}}}`, "groups.web.count: duplicate key"},
		{"duplicate group", `{"groups": {"web": {` + proc + `}, "web": {` + proc + `}}}`, "groups.web: duplicate key"},
		{"count zero", `{"groups": {"web": {"count": 0, ` + proc + `}}}`, "groups.web.count: "},
		{"count wrong type", `{"groups": {"web": {"count": true, ` + proc + `}}}`, "groups.web.count: want a number from 1 to 1024"},
		{"bad restart", `{"groups": {"web": {"restart": "sometimes", ` + proc + `}}}`, `groups.web.restart: unknown restart policy "sometimes"`},
		{"bad duration", `{"groups": {"web": {"grace": "5 sec", ` + proc + `}}}`, "groups.web.grace: "},
		{"duration as number", `{"groups": {"web": {"grace": 5, ` + proc + `}}}`, "groups.web.grace: want a string"},
		{"bad give-up", `{"groups": {"web": {"giveUp": "5", ` + proc + `}}}`, "groups.web.giveUp: "},
		{"bad fatal code type", `{"groups": {"web": {"fatalExit": ["x"], ` + proc + `}}}`, "groups.web.fatalExit[0]: want an integer"},
		{"fatal code out of range", `{"groups": {"web": {"fatalExit": [300], ` + proc + `}}}`, "groups.web: fatal exit code 300"},
		{"bad signal", `{"groups": {"web": {"stopSignal": "NOPE", ` + proc + `}}}`, "groups.web.stopSignal: unknown signal"},
		{"inconsistent policy", `{"groups": {"web": {"backoffMin": "2s", "backoffMax": "1s", ` + proc + `}}}`, "groups.web: backoff-max"},
		{"no process", `{"groups": {"web": {"count": 1}}}`, "groups.web.process: missing"},
		{"no args", `{"groups": {"web": {"process": {"cwd": "/"}}}}`, "groups.web.process.args: missing"},
		{"unknown process field", `{"groups": {"web": {"process": {"args": ["x"], "argv": []}}}}`, "groups.web.process.argv: unknown field"},
		{"args wrong type", `{"groups": {"web": {"process": {"args": "x"}}}}`, "groups.web.process.args: want an array"},
		{"arg wrong type", `{"groups": {"web": {"process": {"args": ["x", 3]}}}}`, "groups.web.process.args[1]: want a string"},
		{"relative cwd", `{"groups": {"web": {"process": {"args": ["x"], "cwd": "srv"}}}}`, "groups.web.process.cwd: must be an absolute path"},
		{"bad env", `{"groups": {"web": {"process": {"args": ["x"], "env": ["A=1", "B"]}}}}`, "groups.web.process.env[1]: want NAME=VALUE"},
		{"negative uid", `{"groups": {"web": {"process": {"args": ["x"], "user": {"uid": -1}}}}}`, "groups.web.process.user.uid: want a non-negative integer"},
		{"unknown user field", `{"groups": {"web": {"process": {"args": ["x"], "user": {"name": "x"}}}}}`, "groups.web.process.user.name: unknown field"},
		{"bad umask", `{"groups": {"web": {"process": {"args": ["x"], "user": {"umask": 4096}}}}}`, "groups.web.process.user.umask"},
		{"unknown rlimit", `{"groups": {"web": {"process": {"args": ["x"], "rlimits": [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]}}}}`, "groups.web.process.rlimits[0].type: unknown rlimit"},
		{"soft above hard", `{"groups": {"web": {"process": {"args": ["x"], "rlimits": [{"type": "RLIMIT_CORE", "soft": 2, "hard": 1}]}}}}`, "groups.web.process.rlimits[0]: soft limit"},
		{"rlimit twice", `{"groups": {"web": {"process": {"args": ["x"], "rlimits": [{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}, {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]}}}}`, "groups.web.process.rlimits[1].type: RLIMIT_CORE given twice"},
		{"unknown rlimit field", `{"groups": {"web": {"process": {"args": ["x"], "rlimits": [{"type": "RLIMIT_CORE", "max": 1}]}}}}`, "groups.web.process.rlimits[0].max: unknown field"},
		{"capabilities refused", `{"groups": {"web": {"process": {"args": ["x"], "capabilities": {"bounding": []}}}}}`, "groups.web.process.capabilities: not supported"},
		{"terminal refused", `{"groups": {"web": {"process": {"args": ["x"], "terminal": true}}}}`, "groups.web.process.terminal: not supported"},
		{"username refused", `{"groups": {"web": {"process": {"args": ["x"], "user": {"username": "www"}}}}}`, "groups.web.process.user.username: not supported"},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			o := DefaultOptions()
			_, err := o.parseConfig([]byte(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadBundleProcess(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"ociVersion": "1.2.0", "root": {"path": "rootfs"}, "hostname": "x", "mounts": [],
	        "linux": {"namespaces": [{"type": "pid"}]},
	        "process": {"args": ["sh", "-c", "true"], "cwd": "/", "user": {"uid": 0, "gid": 0},
	                    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}], "noNewPrivileges": true}}`)
	for _, path := range []string{dir, filepath.Join(dir, "config.json")} {
		p, err := loadBundleProcess(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(p.Args) != 3 || p.User == nil || len(p.Rlimits) != 1 || !p.NoNewPrivileges {
			t.Errorf("%s: %+v", path, p)
		}
	}
	for _, tc := range []struct{ json, want string }{
		{`{"ociVersion": "1.2.0", "proces": {}}`, "proces: unknown field"},
		{`{"ociVersion": "1.2.0"}`, "process: missing"},
		{`{"process": {"args": ["x"], "capabilities": {}}}`, "process.capabilities: not supported"},
		{`[]`, "want an OCI runtime-spec config object"},
	} {
		write(tc.json)
		if _, err := loadBundleProcess(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.json, err, tc.want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		edit func(*Options)
		want string
	}{
		{"no source", func(*Options) {}, "needs a command"},
		{"two sources", func(o *Options) { o.Command = []string{"x"}; o.ConfigPath = "c" }, "only one of"},
		{"reload signal that is a stop signal", func(o *Options) { o.Command = []string{"x"}; o.ReloadSignal = unix.SIGTERM }, "already the stop signal"},
		{"reload and restart the same", func(o *Options) { o.Command = []string{"x"}; o.RestartSignal = unix.SIGHUP }, "already the --reload-signal"},
		{"uncatchable reload signal", func(o *Options) { o.Command = []string{"x"}; o.ReloadSignal = unix.SIGKILL }, "cannot be caught"},
		{"bad policy", func(o *Options) { o.Command = []string{"x"}; o.Policy.BackoffMin = 0 }, "backoff-min"},
	} {
		o := DefaultOptions()
		tc.edit(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.doc, err, tc.want)
		}
	}
}

func TestParseHelpers(t *testing.T) {
	if g, err := ParseGiveUp("5/60s"); err != nil || g != (GiveUp{5, time.Minute}) {
		t.Errorf("ParseGiveUp(5/60s) = %v, %v", g, err)
	}
	for _, bad := range []string{"5", "0/1s", "x/1s", "5/0s", "5/-1s", "5/x"} {
		if _, err := ParseGiveUp(bad); err == nil {
			t.Errorf("ParseGiveUp(%q) accepted", bad)
		}
	}
	if c, err := ParseCodes("3, 78,0"); err != nil || len(c) != 3 || c[1] != 78 {
		t.Errorf("ParseCodes = %v, %v", c, err)
	}
	for _, bad := range []string{"", "256", "-1", "3,,4"} {
		if _, err := ParseCodes(bad); err == nil {
			t.Errorf("ParseCodes(%q) accepted", bad)
		}
	}
	if c, err := ParseCount("auto"); err != nil || !c.Auto {
		t.Errorf("ParseCount(auto) = %v, %v", c, err)
	}
	for _, bad := range []string{"0", "-2", "many", ""} {
		if _, err := ParseCount(bad); err == nil {
			t.Errorf("ParseCount(%q) accepted", bad)
		}
	}
}

// nameInputs is every string of up to 3 bytes over an alphabet holding each
// class of the name rules and the bytes either side of every range ('/' and
// ':' around digits, '@' and '[' around A-Z, '`' and '{' around a-z), plus
// non-ASCII bytes, then random strings over the same alphabet.
func nameInputs() []string {
	alphabet := []byte("aqzAQZ059_-./:@[`{ \xc3\xa9\xff\x00")
	all := []string{""}
	level := []string{""}
	for range 3 {
		var next []string
		for _, s := range level {
			for _, c := range alphabet {
				next = append(next, s+string(c))
			}
		}
		all = append(all, next...)
		level = next
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, 4+r.IntN(12))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		all = append(all, string(b))
	}
	return append(all, "é", "aé", "a\n", "\na", "web-1", "Web_1.v2", strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("a", 1000))
}

func TestPlainKeyMatchesRegexp(t *testing.T) {
	for key, want := range map[string]bool{
		"": false, "a": true, "_": true, "Z": true, "-": false, "0": false, "0a": false, "-a": false,
		"web-1": true, "_x_9-": true, "a.b": false, "a b": false, "a[0]": false, "é": false, "aé": false, "a\n": false,
	} {
		if got := plainKey(key); got != want {
			t.Errorf("plainKey(%q) = %v, want %v", key, got, want)
		}
	}
	old := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)
	inputs, accepted := nameInputs(), 0
	for _, key := range inputs {
		got, want := plainKey(key), old.MatchString(key)
		if got != want {
			t.Errorf("plainKey(%q) = %v, the regexp %v", key, got, want)
		}
		if want {
			accepted++
		}
	}
	// The comparison proves little unless both outcomes are common.
	if accepted < len(inputs)/100 || accepted > len(inputs)*99/100 {
		t.Errorf("the regexp accepted %d of %d inputs: the generated inputs no longer test both outcomes", accepted, len(inputs))
	}
}

func TestGroupNameMatchesRegexp(t *testing.T) {
	for name, want := range map[string]bool{
		"": false, "a": true, "0": true, "Z": true, "_": false, "-": false, ".": false, "_a": false, "-a": false, ".a": false,
		"web-1": true, "Web_1.v2": true, "a b": false, "a/b": false, "é": false, "aé": false, "a\n": false,
	} {
		if got := groupName(name); got != want {
			t.Errorf("groupName(%q) = %v, want %v", name, got, want)
		}
	}
	old := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	inputs, accepted := nameInputs(), 0
	for _, name := range inputs {
		got, want := groupName(name), old.MatchString(name)
		if got != want {
			t.Errorf("groupName(%q) = %v, the regexp %v", name, got, want)
		}
		if want {
			accepted++
		}
	}
	// The comparison proves little unless both outcomes are common.
	if accepted < len(inputs)/100 || accepted > len(inputs)*99/100 {
		t.Errorf("the regexp accepted %d of %d inputs: the generated inputs no longer test both outcomes", accepted, len(inputs))
	}
}

// TestConfigFilesAreBounded: only regular files (or a bundle directory) are
// read, never more than MaxConfigSize bytes, never blocking.
func TestConfigFilesAreBounded(t *testing.T) {
	dir := t.TempDir()
	good := `{"groups": {"web": {"process": {"args": ["x"]}}}}`
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	// Before this was fixed, open(2) of the FIFO blocked for ever: a
	// writer that opens it at the end lets a blocked open return.
	t.Cleanup(func() {
		if fd, err := unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			unix.Close(fd)
		}
	})
	bundleFifo := filepath.Join(dir, "bundle-fifo")
	os.Mkdir(bundleFifo, 0o755)
	unix.Mkfifo(filepath.Join(bundleFifo, "config.json"), 0o644)
	bundleDir := filepath.Join(dir, "bundle-dir")
	os.MkdirAll(filepath.Join(bundleDir, "config.json"), 0o755)
	bundleBig := filepath.Join(dir, "bundle-big")
	os.Mkdir(bundleBig, 0o755)
	os.WriteFile(filepath.Join(bundleBig, "config.json"), []byte(`{"process": {"args": ["x"]}}`+strings.Repeat(" ", MaxConfigSize)), 0o644)
	exact := good + strings.Repeat(" ", MaxConfigSize-len(good))

	for _, tc := range []struct {
		doc  string
		opts Options
		want string // "" loads
	}{
		{"a regular file", Options{ConfigPath: file("good.json", good)}, ""},
		{"exactly the size limit", Options{ConfigPath: file("exact.json", exact)}, ""},
		{"one byte more", Options{ConfigPath: file("big.json", exact+" ")}, "big.json: larger than 1048576 bytes (1 MiB), the limit for a configuration"},
		{"a FIFO with no writer", Options{ConfigPath: fifo}, "refusing --config " + fifo + ": " + fifo + " is a named pipe (FIFO), not a regular file"},
		{"/dev/zero", Options{ConfigPath: "/dev/zero"}, "refusing --config /dev/zero: /dev/zero is a character device, not a regular file"},
		{"/dev/urandom", Options{ConfigPath: "/dev/urandom"}, "is a character device, not a regular file"},
		{"a directory", Options{ConfigPath: dir}, "is a directory, not a regular file"},
		{"missing", Options{ConfigPath: filepath.Join(dir, "none.json")}, "--config " + filepath.Join(dir, "none.json") + ": no such file or directory"},
		{"too deep", Options{ConfigPath: file("deep.json", `{"groups": `+strings.Repeat("[", 70)+strings.Repeat("]", 70)+"}")}, "deep.json: line 1, column 75: nested deeper than 64 levels"},
		{"spec /dev/zero", Options{SpecPath: "/dev/zero"}, "is a character device, not a regular file or a bundle directory"},
		{"spec FIFO", Options{SpecPath: fifo}, "is a named pipe (FIFO), not a regular file or a bundle directory"},
		{"bundle whose config.json is a FIFO", Options{SpecPath: bundleFifo}, "refusing --spec " + bundleFifo + ": " + bundleFifo + "/config.json is a named pipe (FIFO), not a regular file"},
		{"bundle whose config.json is a directory", Options{SpecPath: bundleDir}, "config.json is a directory, not a regular file"},
		{"bundle whose config.json is too big", Options{SpecPath: bundleBig}, "config.json: larger than 1048576 bytes"},
		{"bundle without config.json", Options{SpecPath: dir}, "--spec " + dir + ": " + dir + "/config.json: no such file"},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			o := DefaultOptions()
			o.ConfigPath, o.SpecPath = tc.opts.ConfigPath, tc.opts.SpecPath
			done := make(chan error, 1)
			go func() {
				_, err := o.Load()
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("Load did not return within 10s")
			}
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Load: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Load: %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

// TestDecoderCostIsLinear: the worst documents within the limits cost a
// bounded amount per input byte. A JSON path string built for every node
// made a deep document (or a long key over a wide array) quadratic: a
// 60 KB file nested 30,000 deep took 2 GB.
func TestDecoderCostIsLinear(t *testing.T) {
	longKey := strings.Repeat("k", 32<<10)
	wide := `{"groups": {"` + longKey + `": {"process": {"args": [` + strings.Repeat(`"x",`, 20000) + `"x"]}}}}`
	var keyed strings.Builder
	keyed.WriteString(`{"groups": `)
	for range 60 {
		keyed.WriteString(`{"` + strings.Repeat("k", 8<<10) + `": `)
	}
	keyed.WriteString("0" + strings.Repeat("}", 60) + "}")
	for _, tc := range []struct {
		doc, json, want string
		perByte         uint64 // allocation allowed per input byte
	}{
		{"30,000 deep, refused before anything is built", `{"groups": ` + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + "}", "nested deeper than 64 levels", 1},
		{"a 32 KB key over 20,000 array elements", wide, "group names are letters", 128},
		{"60 levels of 8 KB keys", keyed.String(), "group names are letters", 128},
		{"1 MiB of empty strings", "[" + strings.Repeat(`"",`, MaxConfigSize/3-1) + `""]`, "want an object", 128},
		{"1 MiB of empty objects", "[" + strings.Repeat(`{},`, MaxConfigSize/3-1) + `{}]`, "want an object", 128},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			o := DefaultOptions()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := o.parseConfig([]byte(tc.json))
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
			alloc, limit := after.TotalAlloc-before.TotalAlloc, tc.perByte*uint64(len(tc.json))+64<<10
			t.Logf("%d bytes of input, %d bytes allocated", len(tc.json), alloc)
			if alloc > limit {
				t.Errorf("%d bytes of input allocated %d bytes, more than %d", len(tc.json), alloc, limit)
			}
		})
	}
}

func TestParseTreeDepth(t *testing.T) {
	at := func(d int) string { return strings.Repeat("[", d) + strings.Repeat("]", d) }
	if _, err := parseTree([]byte(at(MaxConfigDepth))); err != nil {
		t.Errorf("%d levels: %v", MaxConfigDepth, err)
	}
	for _, tc := range []struct{ json, want string }{
		{at(MaxConfigDepth + 1), "line 1, column 65: nested deeper than 64 levels"},
		{`{"a": "` + strings.Repeat("[", 100) + `", "b": ` + at(65) + `}`, "column 179: nested deeper"},
		{"[\n" + strings.Repeat(`{"x":`, 64) + "1", "line 2, column 316: nested deeper"},
	} {
		if _, err := parseTree([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.40s...: got %v, want an error containing %q", tc.json, err, tc.want)
		}
	}
	// Brackets in strings (escaped quotes included) are not nesting.
	if _, err := parseTree([]byte(`["\"` + strings.Repeat("[", 100) + `"]`)); err != nil {
		t.Errorf("brackets in a string counted: %v", err)
	}
}

func TestWorkerCountIsBounded(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"1024", ""},
		{"1025", "worker count 1025 is above the limit of 1024 workers"},
		{"99999999999999999999999", "is above the limit of 1024 workers"},
		{"0", "not a positive number or auto"},
		{strings.Repeat("x", 100000), `worker count "` + strings.Repeat("x", 64) + `"... (100000 bytes) is not`},
	} {
		_, err := ParseCount(tc.in)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("ParseCount(%.20q): %v, want %q", tc.in, err, tc.want)
		}
	}
	group := func(name string, n int) string {
		return fmt.Sprintf(`%q: {"count": %d, "process": {"args": ["x"]}}`, name, n)
	}
	o := DefaultOptions()
	if _, err := o.parseConfig([]byte(`{"groups": {` + group("a", 1000) + "," + group("b", 24) + `}}`)); err != nil {
		t.Errorf("1024 workers in all: %v", err)
	}
	_, err := o.parseConfig([]byte(`{"groups": {` + group("a", 1000) + "," + group("b", 25) + `}}`))
	if want := "groups.b: the groups up to this one have 1025 workers in all, above the limit of 1024"; err == nil || err.Error() != want {
		t.Errorf("1025 workers in all: %v, want %q", err, want)
	}
	_, err = o.parseConfig([]byte(`{"groups": {` + group("a", 5000) + `}}`))
	if want := "groups.a.count: worker count 5000 is above the limit of 1024 workers"; err == nil || err.Error() != want {
		t.Errorf("count 5000: %v, want %q", err, want)
	}
}

package control

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pidone/pidone/internal/exitreport"
	"golang.org/x/sys/unix"
)

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		doc, in, want, err string
	}{
		{"the request", "status\n", "status", ""},
		{"a CRLF line", "status\r\n", "status", ""},
		{"no newline yet", "status", "", "not ended by a newline"},
		{"nothing", "", "", "not ended by a newline"},
		{"another verb", "stop\n", "", `unknown request "stop"`},
		{"upper case", "STATUS\n", "", "unknown request"},
		{"two lines", "status\nstatus\n", "", "more than one line"},
		{"garbage", "\x00\xff\n", "", "unknown request"},
		{"too long", strings.Repeat("s", MaxRequest), "", "longer than 256 bytes"},
		{"a long verb is cut in the message", strings.Repeat("x", 100) + "\n", "", `"` + strings.Repeat("x", 32) + `..."`},
	} {
		got, err := ParseRequest([]byte(tc.in))
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: ParseRequest(%q) = %q, %v; want an error with %q", tc.doc, tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%s: ParseRequest(%q) = %q, %v; want %q", tc.doc, tc.in, got, err, tc.want)
		}
	}
}

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		uid, self int
		want      bool
	}{{0, 0, true}, {0, 1000, true}, {1000, 1000, true}, {65534, 0, false}, {65534, 1000, false}} {
		if got := Allowed(tc.uid, tc.self); got != tc.want {
			t.Errorf("Allowed(%d, %d) = %v, want %v", tc.uid, tc.self, got, tc.want)
		}
	}
}

func TestCheckPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct{ path, err string }{
		{filepath.Join(dir, "pidone.sock"), ""},
		{"", "empty"},
		{"pidone.sock", "not an absolute path"},
		{dir + "/", "names a directory"},
		{filepath.Join(dir, "none", "s.sock"), "no such file or directory"},
		{filepath.Join(file, "s.sock"), "not a directory"},
		{filepath.Join(dir, strings.Repeat("n", 100)), "longer than"},
	} {
		err := CheckPath(tc.path)
		if (tc.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("CheckPath(%q) = %v, want %q", tc.path, err, tc.err)
		}
	}
}

func sampleStatus() *Status {
	code := 3
	after := 1.5
	return &Status{Schema: Schema, Version: "1.2.3", Mode: "single", Personality: "pidone", PID1: true, Pid: 1,
		StartTime: "2026-01-02T03:04:05Z", Now: "2026-01-02T03:05:05Z", Uptime: 60,
		MainChild: &MainChild{MainChild: exitreport.MainChild{Pid: 7, Argv: []string{"sh", "-c", "sleep 1 & wait"},
			End: exitreport.End{How: exitreport.Exited, Code: &code, AfterSeconds: &after}}, StartTime: "2026-01-02T03:04:05Z"},
		OrphansReaped: 2, ProcessesKnown: true,
		Processes: []exitreport.Leftover{
			{Pid: 8, PPid: 1, Comm: "sleep", Argv: []string{"sleep", "1"}, Starttime: 1000, End: exitreport.End{How: exitreport.Running}},
			{Pid: 9, PPid: 8, Comm: "kworker", Starttime: 1500},
		}}
}

func TestWriteText(t *testing.T) {
	now, _ := time.Parse(time.RFC3339, "2026-01-02T03:05:05Z")
	for _, tc := range []struct {
		doc   string
		edit  func(*Status)
		lines []string
	}{
		{"an ended main child and two processes", func(*Status) {}, []string{
			"running (pid 1, PID 1; pidone 1.2.3, single mode, personality pidone)",
			"started 2026-01-02T03:04:05Z, up 1m0s",
			`main child: pid 7, exited 3 after 1.5s: sh -c "sleep 1 & wait"`,
			"orphans reaped: 2",
			"processes below pidone: 2",
			"PID  PPID  COMM     ELAPSED  ARGV",
			"8    1     sleep    25s      sleep 1",
			"9    8     kworker  20s      -",
		}},
		{"pause mode, a stop request, nothing below", func(s *Status) {
			s.MainChild, s.Processes, s.PID1 = nil, nil, false
			s.StopRequest = &exitreport.Signal{Name: "SIGTERM", Number: 15}
		}, []string{
			"running (pid 1; pidone 1.2.3, single mode, personality pidone)",
			"started 2026-01-02T03:04:05Z, up 1m0s",
			"main child: none (--pause)",
			"stopping: SIGTERM received",
			"orphans reaped: 2",
			"processes below pidone: 0",
		}},
		{"a running main child, a cut argv, processes beyond the bound", func(s *Status) {
			s.MainChild.End = exitreport.End{How: exitreport.Running}
			s.MainChild.ArgvTruncated = true
			s.Processes = make([]exitreport.Leftover, exitreport.MaxLeftovers+5)
		}, []string{
			`main child: pid 7, running for 1m0s: sh -c "sleep 1 & wait" ...`,
			"processes below pidone: 1005",
			"... and 5 more",
		}},
		{"unknown processes", func(s *Status) { s.ProcessesKnown = false }, []string{
			"processes below pidone: unknown (/proc is not this PID namespace's)",
		}},
		{"killed", func(s *Status) {
			s.MainChild.End = exitreport.KilledBy(exitreport.Signal{Name: "SIGKILL", Number: 9}, "")
		}, []string{"main child: pid 7, killed by SIGKILL: sh -c \"sleep 1 & wait\""}},
	} {
		s := sampleStatus()
		tc.edit(s)
		s.Bound()
		var b bytes.Buffer
		WriteText(&b, s, now, 3500)
		out := b.String()
		for _, l := range tc.lines {
			if !strings.Contains(out, l+"\n") {
				t.Errorf("%s: no line %q in\n%s", tc.doc, l, out)
			}
		}
	}
}

func TestArgvText(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		cut  bool
		want string
	}{
		{nil, false, "-"},
		{[]string{"nginx", "-g", "daemon off;"}, false, `nginx -g "daemon off;"`},
		{[]string{"a", ""}, false, `a ""`},
		{[]string{"x\x1b[2J"}, false, `"x\x1b[2J"`},
		{[]string{"a"}, true, "a ..."},
	} {
		if got := argvText(tc.argv, tc.cut); got != tc.want {
			t.Errorf("argvText(%q, %v) = %s, want %s", tc.argv, tc.cut, got, tc.want)
		}
	}
}

func TestDecodeAnswer(t *testing.T) {
	good, _ := Encode(sampleStatus(), false)
	for _, tc := range []struct{ in, err string }{
		{string(good), ""},
		{`{"error":"busy: too many clients at once"}`, "pidone answered: busy"},
		{`{"schema":2}`, "status schema 2"},
		{`HTTP/1.1 200 OK`, "not a pidone answer"},
		{``, "not a pidone answer"},
	} {
		s, err := DecodeAnswer([]byte(tc.in))
		switch {
		case tc.err == "" && (err != nil || s.MainChild.Pid != 7 || s.Processes[0].Comm != "sleep"):
			t.Errorf("DecodeAnswer(%.40q) = %+v, %v", tc.in, s, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("DecodeAnswer(%.40q): %v, want %q", tc.in, err, tc.err)
		}
	}
	if !bytes.Contains(good, []byte(`"sleep 1 & wait"`)) {
		t.Errorf("an argv's & is escaped: %s", good)
	}
}

// The server in this process: an answer, a silent client that does not
// hold up the next one, garbage, and the socket gone after Close.
func TestServer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pidone.sock")
	asked := make(chan int, 10)
	srv, err := Listen(path, func(peer int) *Status { asked <- peer; return sampleStatus() }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK || st.Mode&0o777 != Mode {
		t.Fatalf("%s: mode %o, %v; want a socket with mode %o", path, st.Mode, err, Mode)
	}

	silent := dial(t, path)
	defer unix.Close(silent)
	s, err := Ask(path)
	if err != nil || s.MainChild.Pid != 7 {
		t.Fatalf("Ask with a silent client connected: %+v, %v", s, err)
	}
	if peer := <-asked; peer != os.Getpid() {
		t.Errorf("peer pid %d, want ours, %d", peer, os.Getpid())
	}

	// Three more silent clients fill the slots (the accept goroutine
	// takes them in order): the next one is turned away at once.
	for range MaxClients - 1 {
		defer unix.Close(dial(t, path))
	}
	if _, err := Ask(path); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Errorf("Ask with %d silent clients connected: %v, want busy", MaxClients, err)
	}
	// The first silent client is dropped at its deadline: EOF (the
	// deadline covers the answer too, so none is sent).
	tv := unix.Timeval{Sec: 10}
	unix.SetsockoptTimeval(silent, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	buf := make([]byte, 256)
	if n, err := unix.Read(silent, buf); n != 0 || err != nil {
		t.Errorf("a silent client read %q, %v; want EOF after %v", buf[:max(n, 0)], err, Deadline)
	}
	// Once the silent ones are gone, clients are answered again.
	for {
		if _, err := Ask(path); err == nil {
			break
		} else if !strings.Contains(err.Error(), "busy") {
			t.Fatalf("Ask after the deadline: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	g := dial(t, path)
	unix.Write(g, []byte("GET / HTTP/1.0\r\n\r\n"))
	b, _ := io.ReadAll(os.NewFile(uintptr(g), "garbage"))
	if !strings.Contains(string(b), `{"error":"more than one line"}`) {
		t.Errorf("answer to garbage: %q", b)
	}

	srv.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("%s after Close: %v", path, err)
	}
	if code := Ctl(path, false, io.Discard, io.Discard); code != StatusNotRunning && code != StatusUnknown {
		t.Errorf("ctl status with no server: %d", code)
	}
}

func dial(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	return fd
}

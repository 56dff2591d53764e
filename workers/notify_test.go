package workers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain doubles as a tiny sd_notify client: with PIDONE_TEST_SDNOTIFY
// set, the test binary sends PIDONE_TEST_SDNOTIFY_STATE there and exits, so
// that a test has a sender whose pid is not its own.
func TestMain(m *testing.M) {
	if addr := os.Getenv("PIDONE_TEST_SDNOTIFY"); addr != "" {
		if err := sdNotify(addr, os.Getenv("PIDONE_TEST_SDNOTIFY_STATE")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func openTestNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	n, err := openNotifySocket()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(n.fd) })
	if !strings.HasPrefix(n.addr, "@") || len(n.addr) < 2 {
		t.Fatalf("NOTIFY_SOCKET %q: want an abstract address", n.addr)
	}
	return n
}

// sendFromChild sends state to addr from a new process and returns its pid.
func sendFromChild(t *testing.T, addr, state string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PIDONE_TEST_SDNOTIFY="+addr, "PIDONE_TEST_SDNOTIFY_STATE="+state)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sender: %v: %s", err, out)
	}
	return cmd.Process.Pid
}

func TestNotifySocketNamesTheSenderByItsCredentials(t *testing.T) {
	n := openTestNotifySocket(t)

	// The message's claim about a pid changes nothing: the kernel says
	// who sent it.
	if err := sdNotify(n.addr, "MAINPID=1\nREADY=1"); err != nil {
		t.Fatal(err)
	}
	got := n.receive()
	if got.err != nil || got.pid != os.Getpid() || got.text != "MAINPID=1\nREADY=1" {
		t.Errorf("from this process: %+v; want pid %d and the text", got, os.Getpid())
	}

	child := sendFromChild(t, n.addr, "READY=1")
	got = n.receive()
	if got.pid != child || got.text != "READY=1" {
		t.Errorf("from a child: %+v; want pid %d", got, child)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func TestNotifySocketClosesPassedDescriptors(t *testing.T) {
	n := openTestNotifySocket(t)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	before := openFDs(t)
	rights := unix.UnixRights(p[0], p[1])
	if err := unix.Sendmsg(s, []byte("FDSTORE=1"), rights, &unix.SockaddrUnix{Name: n.addr}, 0); err != nil {
		t.Fatal(err)
	}
	got := n.receive()
	if got.fds != 2 || got.pid != os.Getpid() || got.text != "FDSTORE=1" {
		t.Errorf("got %+v; want 2 descriptors counted", got)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open after receiving, %d before: the passed ones leaked", after, before)
	}
}

func TestNotifyTruncatedMessage(t *testing.T) {
	n := openTestNotifySocket(t)
	if err := sdNotify(n.addr, "STATUS="+strings.Repeat("x", notifyBufferSize)); err != nil {
		t.Fatal(err)
	}
	if got := n.receive(); !got.truncated || len(got.text) != notifyBufferSize {
		t.Errorf("a message longer than the buffer: truncated %v, %d bytes", got.truncated, len(got.text))
	}
}

func TestNotifyFields(t *testing.T) {
	got := notifyFields("READY=1\nSTATUS=serving: 4 conns\n\nnonsense\n=x\nMAINPID=7")
	want := [][2]string{{"READY", "1"}, {"STATUS", "serving: 4 conns"}, {"MAINPID", "7"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSDNotifyToAPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := sdNotify(path, "READY=1"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	nb, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil || string(buf[:nb]) != "READY=1" {
		t.Errorf("received %q, %v", buf[:nb], err)
	}
	for _, bad := range []string{"", "relative", "vsock:2:1"} {
		if err := sdNotify(bad, "READY=1"); err == nil {
			t.Errorf("sdNotify(%q) succeeded", bad)
		}
	}
}

func TestSupervisorMessage(t *testing.T) {
	tests := []struct {
		old, new supervisorPhase
		want     string
	}{
		{phaseStarting, phaseStarting, ""},
		{phaseStarting, phaseReady, "READY=1\nSTATUS=s"},
		{phaseReady, phaseReady, ""},
		{phaseReady, phaseReloading, "RELOADING=1\nMONOTONIC_USEC=1500000\nSTATUS=s"},
		{phaseReloading, phaseReady, "READY=1\nSTATUS=s"},
		{phaseReady, phaseStopping, "STOPPING=1\nSTATUS=s"},
		{phaseStarting, phaseStopping, "STOPPING=1\nSTATUS=s"},
	}
	for _, tc := range tests {
		if got := supervisorMessage(tc.old, tc.new, "s", 1500*time.Millisecond); got != tc.want {
			t.Errorf("%v -> %v: %q, want %q", tc.old, tc.new, got, tc.want)
		}
	}
}

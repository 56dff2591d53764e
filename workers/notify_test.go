package workers

import (
	"errors"
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

// sendRights sends text with fds passed to addr, and returns sendmsg's
// error.
func sendRights(t *testing.T, addr, text string, fds ...int) error {
	t.Helper()
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(s)
	return unix.Sendmsg(s, []byte(text), unix.UnixRights(fds...), &unix.SockaddrUnix{Name: addr}, 0)
}

func TestNotifySocketClosesPassedDescriptors(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])

	// Where the kernel has SO_PASSRIGHTS, none arrives: the sender is
	// refused.
	if n := openTestNotifySocket(t); n.refusesRights {
		if err := sendRights(t, n.addr, "FDSTORE=1", p[0], p[1]); !errors.Is(err, unix.EPERM) {
			t.Errorf("sending descriptors to a socket with SO_PASSRIGHTS off: %v, want EPERM", err)
		}
	} else {
		t.Logf("kernel %s has no SO_PASSRIGHTS: only the fallback is tested", kernelRelease(t))
	}

	// Elsewhere they arrive, are counted, and closed.
	n, err := bindNotifySocket(false)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(n.fd)
	before := openFDs(t)
	if err := sendRights(t, n.addr, "FDSTORE=1", p[0], p[1]); err != nil {
		t.Fatal(err)
	}
	got := n.receive()
	if got.fds != 2 || got.pid != os.Getpid() || got.text != "FDSTORE=1" {
		t.Errorf("got %+v; want 2 descriptors counted", got)
	}
	// The closer closes them, not the reader: wait for it.
	for deadline := time.Now().Add(10 * time.Second); openFDs(t) != before && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open after receiving, %d before: the passed ones leaked", after, before)
	}
}

func kernelRelease(t *testing.T) string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	return unix.ByteSliceToString(u.Release[:])
}

// lingeringSocket returns a TCP socket whose last close sleeps for linger:
// SO_LINGER on, and data queued that its peer never acknowledges (the
// peer's receive buffer is full and nobody reads it). The peer is closed
// at the end of the test.
func lingeringSocket(t *testing.T, linger time.Duration) int {
	t.Helper()
	check := func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	}
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	check(err)
	defer unix.Close(ln)
	check(unix.SetsockoptInt(ln, unix.SOL_SOCKET, unix.SO_RCVBUF, 4096))
	check(unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	check(unix.Listen(ln, 1))
	sa, err := unix.Getsockname(ln)
	check(err)
	c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	check(err)
	check(unix.SetsockoptInt(c, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096))
	check(unix.Connect(c, sa))
	peer, _, err := unix.Accept(ln)
	check(err)
	t.Cleanup(func() { unix.Close(peer) })
	// Write until nothing more goes for a while: the kernel collapses the
	// peer's queue a few times before it is full.
	check(unix.SetNonblock(c, true))
	buf := make([]byte, 64<<10)
	for stalls := 0; stalls < 3; {
		if _, err := unix.Write(c, buf); errors.Is(err, unix.EAGAIN) {
			stalls++
			time.Sleep(100 * time.Millisecond)
		} else {
			check(err)
			stalls = 0
		}
	}
	if outq, err := unix.IoctlGetInt(c, unix.SIOCOUTQ); err != nil || outq == 0 {
		t.Fatalf("%d bytes unacknowledged (%v): the close would not linger", outq, err)
	}
	check(unix.SetsockoptLinger(c, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: int32(linger / time.Second)}))
	return c
}

// TestNotifyReaderNeverWaitsOnAPassedDescriptor is issue 18's attack in
// one process: a datagram carrying a TCP socket whose close lingers for
// ten minutes, then a READY=1. The reader must take both at once, with
// and without SO_PASSRIGHTS. Before the fix it closed the socket itself
// and slept for the linger time.
func TestNotifyReaderNeverWaitsOnAPassedDescriptor(t *testing.T) {
	for _, refuse := range []bool{true, false} {
		t.Run(fmt.Sprintf("SO_PASSRIGHTS off %v", refuse), func(t *testing.T) {
			n, err := bindNotifySocket(refuse)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(n.fd)
			if refuse && !n.refusesRights {
				t.Skipf("kernel %s has no SO_PASSRIGHTS", kernelRelease(t))
			}
			c := lingeringSocket(t, 600*time.Second)
			err = sendRights(t, n.addr, "FDSTORE=1", c)
			if err != nil {
				// Refused: ours is the last copy, which must not linger.
				unix.SetsockoptLinger(c, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1})
			}
			unix.Close(c) // else the notify socket's copy is the last
			if refuse != errors.Is(err, unix.EPERM) || !refuse && err != nil {
				t.Fatalf("sendmsg with a descriptor: %v (SO_PASSRIGHTS off: %v)", err, refuse)
			}
			if err := sdNotify(n.addr, "READY=1"); err != nil {
				t.Fatal(err)
			}
			want := []string{"FDSTORE=1", "READY=1"}
			if refuse {
				want = want[1:]
			}
			// Exactly as many as are sent: a reader left behind would
			// take the next subtest's messages (its descriptor number is
			// reused).
			got := make(chan notification, len(want))
			go func() {
				for range want {
					got <- n.receive()
				}
			}()
			for _, text := range want {
				select {
				case msg := <-got:
					if msg.text != text {
						t.Errorf("got %q, want %q", msg.text, text)
					}
				case <-time.After(20 * time.Second):
					t.Fatalf("%q not read within 20s: the reader is waiting on the passed socket", text)
				}
			}
		})
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

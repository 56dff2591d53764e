package workers

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pidone/pidone/internal/clip"
	"github.com/pidone/pidone/internal/unixsock"
	"golang.org/x/sys/unix"
)

func TestParseListen(t *testing.T) {
	long := "/" + strings.Repeat("x", 108)
	tests := []struct {
		doc, in string
		want    ListenSpec // Mode, UID, GID: -1 unless set
		err     string     // a part of the error; "" for none
	}{
		{doc: "tcp, loopback", in: "tcp:127.0.0.1:8080", want: ListenSpec{Network: "tcp", Address: "127.0.0.1:8080"}},
		{doc: "named, every address", in: "web=tcp::8080", want: ListenSpec{Name: "web", Network: "tcp", Address: ":8080"}},
		{doc: "tcp6 in brackets", in: "tcp6:[::1]:443,backlog=128", want: ListenSpec{Network: "tcp6", Address: "[::1]:443", Backlog: 128}},
		{doc: "tcp4", in: "tcp4:0.0.0.0:80", want: ListenSpec{Network: "tcp4", Address: "0.0.0.0:80"}},
		{doc: "port 0: the kernel picks", in: "tcp:127.0.0.1:0", want: ListenSpec{Network: "tcp", Address: "127.0.0.1:0"}},
		{doc: "udp", in: "dns=udp:127.0.0.1:5353", want: ListenSpec{Name: "dns", Network: "udp", Address: "127.0.0.1:5353"}},
		{doc: "leading zeros in the port", in: "tcp:127.0.0.1:0080", want: ListenSpec{Network: "tcp", Address: "127.0.0.1:80"}},
		{doc: "unix with mode and owner", in: "admin=unix:/run/app/admin.sock,mode=0660,owner=1000:50",
			want: ListenSpec{Name: "admin", Network: "unix", Address: "/run/app/admin.sock", Mode: 0o660, UID: 1000, GID: 50}},
		{doc: "unix, owner without group", in: "unix:/run/a.sock,owner=7", want: ListenSpec{Network: "unix", Address: "/run/a.sock", UID: 7}},
		{doc: "unix path cleaned", in: "unix:/run//a/../a.sock", want: ListenSpec{Network: "unix", Address: "/run/a.sock"}},

		{doc: "no network", in: "8080", err: "want [NAME=]tcp:HOST:PORT"},
		{doc: "unknown network", in: "sctp:127.0.0.1:80", err: `unknown network "sctp"`},
		{doc: "no port", in: "tcp:127.0.0.1", err: "is not HOST:PORT"},
		{doc: "IPv6 without brackets", in: "tcp6:::1:80", err: "is not HOST:PORT"},
		{doc: "port too big", in: "tcp::70000", err: `port "70000" is not a number from 0 to 65535`},
		{doc: "named port", in: "tcp::http", err: `port "http"`},
		{doc: "host name", in: "tcp:localhost:80", err: `host "localhost" is not an IP address`},
		{doc: "tcp4 with IPv6", in: "tcp4:[::1]:80", err: "::1 is not an IPv4 address"},
		{doc: "tcp6 with IPv4", in: "tcp6:127.0.0.1:80", err: "127.0.0.1 is not an IPv6 address"},
		{doc: "bad name", in: "-web=tcp::80", err: `the name "-web" must be`},
		{doc: "name with a colon cannot be written", in: "a:b=tcp::80", err: "unknown network"},
		{doc: "unix without a path", in: "unix:", err: "needs the socket's path"},
		{doc: "unix relative", in: "unix:app.sock", err: "must be absolute"},
		{doc: "unix abstract", in: "unix:@app", err: "must be absolute"},
		{doc: "unix too long", in: "unix:" + long, err: "at most 107"},
		{doc: "bad mode", in: "unix:/run/a.sock,mode=0999", err: `mode "0999" is not an octal permission`},
		{doc: "mode too big", in: "unix:/run/a.sock,mode=01777", err: "is not an octal permission"},
		{doc: "owner by name", in: "unix:/run/a.sock,owner=www-data", err: "numbers"},
		{doc: "backlog zero", in: "tcp::80,backlog=0", err: `backlog "0"`},
		{doc: "backlog on udp", in: "udp::53,backlog=5", err: "option backlog does not apply to udp sockets"},
		{doc: "mode on tcp", in: "tcp::80,mode=0600", err: "option mode does not apply to tcp sockets"},
		{doc: "unknown option", in: "tcp::80,reuseport", err: `unknown option "reuseport"`},
		{doc: "a trailing comma (issue 18)", in: "tcp::0,", err: "an empty option: a comma too many"},
		{doc: "a trailing comma after options", in: "unix:/run/a.sock,mode=0600,", err: "an empty option"},
		{doc: "two commas", in: "tcp::80,,backlog=5", err: "an empty option"},
		{doc: "a comma alone", in: "unix:/run/a.sock,", err: "an empty option"},
		{doc: "unix path with a NUL: the kernel would bind a shorter one", in: "unix:/run/a\x00b.sock", err: "contains a NUL byte"},
		{doc: "unix path of the root", in: "unix:/", err: "names no file"},
		{doc: "unix path that cleans to the root", in: "unix:/a/..", err: "names no file"},
		{doc: "a long value is cut in the message", in: "tcp::80,backlog=" + strings.Repeat("9", 1000), err: `"... (1000 bytes) is not a number`},
	}
	for _, tc := range tests {
		got, err := ParseListen(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), clip.Quote(tc.in)) {
				t.Errorf("%s: ParseListen(%q) = %+v, %v; want an error naming the spec and containing %q", tc.doc, tc.in, got, err, tc.err)
			}
			continue
		}
		want := tc.want
		if want.Mode == 0 {
			want.Mode = -1
		}
		if want.UID == 0 {
			want.UID, want.GID = -1, -1
		} else if want.GID == 0 {
			want.GID = -1
		}
		if err != nil || got != want {
			t.Errorf("%s: ParseListen(%q) = %+v, %v; want %+v", tc.doc, tc.in, got, err, want)
			continue
		}
		// String writes a spec that reads back the same.
		if again, err := ParseListen(got.String()); err != nil || again != got {
			t.Errorf("%s: %q reads back as %+v, %v", tc.doc, got.String(), again, err)
		}
	}
}

func TestCheckListenRefusesTheSameSocketTwice(t *testing.T) {
	a, _ := ParseListen("web=tcp:127.0.0.1:80")
	b, _ := ParseListen("api=tcp:127.0.0.1:80")
	c, _ := ParseListen("tcp:127.0.0.1:81")
	if err := checkListen([]ListenSpec{a, c}); err != nil {
		t.Errorf("two sockets: %v", err)
	}
	if err := checkListen([]ListenSpec{a, c, b}); err == nil || !strings.Contains(err.Error(), "tcp:127.0.0.1:80 is given twice") {
		t.Errorf("the same address under two names: %v; want refused", err)
	}
}

func mustParseListen(t *testing.T, s string) ListenSpec {
	t.Helper()
	l, err := ParseListen(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// acceptOne checks that a connection to address reaches the socket fd:
// the kernel completes it into fd's accept queue.
func acceptOne(t *testing.T, network, address string, fd int) {
	t.Helper()
	c, err := net.Dial(network, address)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, address, err)
	}
	defer c.Close()
	nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatalf("accept on the bound socket: %v", err)
	}
	unix.Close(nfd)
}

func TestBindTCP(t *testing.T) {
	s, err := bindSocket(mustParseListen(t, "tcp:127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	addr := strings.TrimPrefix(s.bound, "tcp:")
	if _, port, _ := net.SplitHostPort(addr); port == "0" || port == "" {
		t.Fatalf("bound %q; want the port the kernel chose", s.bound)
	}
	if flags, _ := unix.FcntlInt(uintptr(s.fd), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC == 0 {
		t.Error("the master's copy is not close-on-exec: every child would inherit it")
	}
	if fl, _ := unix.FcntlInt(uintptr(s.fd), unix.F_GETFL, 0); fl&unix.O_NONBLOCK != 0 {
		t.Error("the socket is non-blocking; socket activation passes it blocking")
	}
	if v, _ := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_REUSEADDR); v != 1 {
		t.Error("SO_REUSEADDR is not set")
	}
	acceptOne(t, "tcp", addr, s.fd)
}

func TestBindEveryAddressTakesIPv4AndIPv6(t *testing.T) {
	s, err := bindSocket(mustParseListen(t, "tcp::0"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.bound, "tcp:"))
	acceptOne(t, "tcp4", "127.0.0.1:"+port, s.fd)
	if _, err := os.Stat("/proc/net/if_inet6"); err == nil {
		acceptOne(t, "tcp6", "[::1]:"+port, s.fd)
	} else {
		t.Logf("no IPv6 here (%v): only IPv4 checked", err)
	}
}

func TestBindUDP(t *testing.T) {
	s, err := bindSocket(mustParseListen(t, "udp:127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	c, err := net.Dial("udp", strings.TrimPrefix(s.bound, "udp:"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping"))
	buf := make([]byte, 8)
	n, _, err := unix.Recvfrom(s.fd, buf, 0)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("recvfrom on the bound udp socket: %q, %v", buf[:n], err)
	}
}

func TestBindPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	spec := mustParseListen(t, "web=tcp:"+ln.Addr().String())
	_, err = bindSocket(spec)
	var le *ListenError
	if !errors.As(err, &le) || !errors.Is(err, unix.EADDRINUSE) {
		t.Fatalf("bind of a port in use: %v; want a ListenError wrapping EADDRINUSE", err)
	}
	want := "listen web=tcp:" + ln.Addr().String() + ": address already in use: bind: another socket is bound to this address"
	if err.Error() != want {
		t.Errorf("message %q\nwant       %q", err, want)
	}
	if ExitCode(&ConfigError{err}) != ExitConfig {
		t.Error("a bind failure must be a usage error (exit 2)")
	}
}

func TestBindUnix(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.sock")
	s, err := bindSocket(mustParseListen(t, "unix:"+path+",mode=0640"))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o640 {
		t.Fatalf("%s: %v, %v; want a socket with mode 0640", path, fi.Mode(), err)
	}
	acceptOne(t, "unix", path, s.fd)

	// A second master cannot take a socket somebody accepts on.
	if _, err := bindSocket(mustParseListen(t, "unix:"+path)); err == nil || !strings.Contains(err.Error(), "is in use: another process accepts connections on it") {
		t.Errorf("bind over a live socket: %v; want refused", err)
	}
	s.close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("the socket file is left after close: %v", err)
	}
}

func TestBindUnixReplacesAStaleSocketOnly(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	// A socket file nobody accepts on: bound, never listened on, closed.
	fd, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: stale}); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	s, err := bindSocket(mustParseListen(t, "unix:"+stale))
	if err != nil {
		t.Fatalf("a stale socket file must be replaced: %v", err)
	}
	s.close()

	plain := filepath.Join(dir, "data")
	os.WriteFile(plain, []byte("keep me"), 0o644)
	if _, err := bindSocket(mustParseListen(t, "unix:"+plain)); err == nil || !strings.Contains(err.Error(), "exists and is not a socket") {
		t.Errorf("bind over a regular file: %v; want refused", err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "keep me" {
		t.Error("the regular file was touched")
	}
}

func TestBindUnixInAMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "app.sock")
	_, err := bindSocket(mustParseListen(t, "unix:"+path))
	want := "listen unix:" + path + ": the directory " + filepath.Dir(path) + " does not exist (pidone does not create it)"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestAttachIsAllOrNothingAndKeepsSockets(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := mustParseListen(t, "a=tcp:127.0.0.1:0")
	var ss socketSet
	defer ss.closeAll()

	bad := []*GroupSpec{{Name: "g", Listen: []ListenSpec{free, mustParseListen(t, "b=tcp:"+busy.Addr().String())}}}
	if err := ss.attach(bad, log); err == nil {
		t.Fatal("attach with a port in use succeeded")
	}
	if len(ss.byKey) != 0 || len(ss.order) != 0 {
		t.Fatalf("a failed attach kept sockets: %v", ss.byKey)
	}

	first := []*GroupSpec{{Name: "g", Listen: []ListenSpec{free}}}
	if err := ss.attach(first, log); err != nil {
		t.Fatal(err)
	}
	// A reload lists the same socket (port 0 included): the same socket,
	// not a new one.
	second := []*GroupSpec{{Name: "g", Listen: []ListenSpec{free}}, {Name: "h", Listen: []ListenSpec{free}}}
	if err := ss.attach(second, log); err != nil {
		t.Fatal(err)
	}
	s := first[0].sockets[0]
	if second[0].sockets[0] != s || second[1].sockets[0] != s || len(ss.order) != 1 {
		t.Errorf("a reload bound the socket again: %v", ss.order)
	}
}

func TestHandoff(t *testing.T) {
	web := &socket{fd: 7, spec: mustParseListen(t, "tcp::80")}
	admin := &socket{fd: 9, spec: mustParseListen(t, "admin=unix:/run/a.sock")}
	spec := &GroupSpec{Name: "front", Listen: []ListenSpec{web.spec, admin.spec}, sockets: []*socket{web, admin}, notifySocket: "@1a2b3"}
	inherited := []string{"PATH=/bin", "LISTEN_FDS=2", "LISTEN_PID=1", "LISTEN_FDNAMES=x:y", "NOTIFY_SOCKET=/run/systemd/notify", "HOME=/"}
	env, files, listenPID := handoff(spec, inherited)
	want := []string{"PATH=/bin", "HOME=/", "LISTEN_FDS=2", "LISTEN_FDNAMES=front:admin", "NOTIFY_SOCKET=@1a2b3"}
	if !slices.Equal(env, want) || !slices.Equal(files, []int{7, 9}) || !listenPID {
		t.Errorf("handoff: env %q files %v listenPID %v\nwant env %q files [7 9] listenPID true", env, files, listenPID, want)
	}

	// Nothing to hand off: pidone's own variables are still not passed on.
	env, files, listenPID = handoff(&GroupSpec{Name: "jobs"}, inherited)
	if !slices.Equal(env, []string{"PATH=/bin", "HOME=/"}) || files != nil || listenPID {
		t.Errorf("handoff without sockets: env %q files %v listenPID %v", env, files, listenPID)
	}
}

func TestBindUnixOwner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "owned.sock")
	s, err := bindSocket(mustParseListen(t, "unix:"+path+",owner=4321:4322"))
	if os.Geteuid() != 0 {
		// Without privilege chown to another user fails, and says so.
		if err == nil || !strings.Contains(err.Error(), "operation not permitted") {
			t.Errorf("owner=4321:4322 as uid %d: %v; want refused", os.Geteuid(), err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil || st.Uid != 4321 || st.Gid != 4322 {
		t.Errorf("%s owned by %d:%d (%v); want 4321:4322", path, st.Uid, st.Gid, err)
	}
}

func TestBindTCP6IsIPv6Only(t *testing.T) {
	if _, err := os.Stat("/proc/net/if_inet6"); err != nil {
		t.Skipf("no IPv6 in this network namespace: %v", err)
	}
	s, err := bindSocket(mustParseListen(t, "tcp6:[::1]:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if v, _ := unix.GetsockoptInt(s.fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY); v != 1 {
		t.Error("tcp6 socket is not IPV6_V6ONLY")
	}
	if !strings.HasPrefix(s.bound, "tcp6:[::1]:") {
		t.Errorf("bound %q", s.bound)
	}
	acceptOne(t, "tcp6", strings.TrimPrefix(s.bound, "tcp6:"), s.fd)
}

// splitHostPort and parseIP stand in for package net's: the cases where
// its answers are easy to get wrong.
func TestSplitHostPortAndParseIP(t *testing.T) {
	for _, c := range []struct {
		in         string
		host, port string
		ok         bool
	}{
		{":8080", "", "8080", true},
		{"127.0.0.1:80", "127.0.0.1", "80", true},
		{"[::1]:80", "::1", "80", true},
		{"[::]:0", "::", "0", true},
		{"::1:80", "", "", false},
		{"[::1]80", "", "", false},
		{"[::1:80", "", "", false},
		{"8080", "", "", false},
		{"a]:80", "", "", false},
		{"x:[80]", "", "", false},
	} {
		host, port, ok := splitHostPort(c.in)
		if ok != c.ok || host != c.host || port != c.port {
			t.Errorf("splitHostPort(%q) = %q, %q, %v; want %q, %q, %v", c.in, host, port, ok, c.host, c.port, c.ok)
		}
	}
	for in, want := range map[string]string{
		"127.0.0.1":      "127.0.0.1",
		"::1":            "::1",
		"::ffff:1.2.3.4": "1.2.3.4", // IPv4-mapped: the IPv4 address
		"fe80::1%eth0":   "",        // a zone is not an address
		"localhost":      "",
		"1.2.3":          "",
	} {
		ip, ok := parseIP(in)
		if got := ip.String(); ok != (want != "") || ok && got != want {
			t.Errorf("parseIP(%q) = %s, %v; want %q", in, got, ok, want)
		}
	}
	if got := joinHostPort("::1", "80"); got != "[::1]:80" {
		t.Errorf("joinHostPort(::1, 80) = %q", got)
	}
}

// The socket is made in a private directory and linked into place: once
// bound, the directory holds the socket and nothing else, and a failed
// bind leaves nothing.
func TestBindUnixLeavesOnlyTheSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.sock")
	s, err := bindSocket(mustParseListen(t, "unix:"+path+",mode=0600"))
	if err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"app.sock"}) {
		t.Errorf("%s holds %q; want only app.sock", dir, names)
	}
	s.close()
	os.WriteFile(path, []byte("keep me"), 0o644)
	if _, err := bindSocket(mustParseListen(t, "unix:"+path+",mode=0600")); err == nil {
		t.Fatal("bind over a regular file succeeded")
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"app.sock"}) {
		t.Errorf("a failed bind left %q in %s", names, dir)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Without /proc the private directory is named by its path, and the
// socket is still checked, moded and linked into place.
func TestBindUnixWithoutProc(t *testing.T) {
	defer func(saved string) { unixsock.ProcSelfFD = saved }(unixsock.ProcSelfFD)
	unixsock.ProcSelfFD = "/nonexistent/proc/self/fd"
	dir := t.TempDir()
	path := filepath.Join(dir, "app.sock")
	s, err := bindSocket(mustParseListen(t, "unix:"+path+",mode=0620"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o620 {
		t.Fatalf("%s: %v, %v; want a socket with mode 0620", path, fi, err)
	}
	acceptOne(t, "unix", path, s.fd)

	// A path that fits, but not once the private directory is added.
	long := filepath.Join(dir, strings.Repeat("l", 100-len(dir)))
	if _, err := bindSocket(mustParseListen(t, "unix:"+long)); err == nil || !strings.Contains(err.Error(), "more than 107: shorten the path, or mount /proc") {
		t.Errorf("a long path without /proc: %v", err)
	}
}

// A symlink at PATH is neither followed nor replaced: issue 18's attacker
// puts one there to make root act on the file it points at.
func TestBindUnixRefusesASymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "secret")
	os.WriteFile(target, []byte("x"), 0o600)
	path := filepath.Join(dir, "app.sock")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	_, err := bindSocket(mustParseListen(t, "unix:"+path+",mode=0666"))
	if err == nil || !strings.Contains(err.Error(), "exists and is not a socket") {
		t.Errorf("bind over a symlink: %v; want refused", err)
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the symlink's target: %v, %v; want it untouched (0600)", fi.Mode(), err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != os.ModeSymlink {
		t.Errorf("the symlink was replaced: %v, %v", fi, err)
	}
}

// A live socket whose accept queue is full is in use: the probe must say
// so at once, not wait in connect(2) for a slot (issue 18: never block on
// what a stranger made).
func TestBindUnixOverAFullSocketDoesNotBlock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.sock")
	busy, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(busy)
	if err := unix.Bind(busy, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(busy, 0); err != nil {
		t.Fatal(err)
	}
	// Fill the queue: with backlog 0 one connection fits, the next waits.
	for i := 0; ; i++ {
		c, _ := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		defer unix.Close(c)
		if err := unix.Connect(c, &unix.SockaddrUnix{Name: path}); errors.Is(err, unix.EAGAIN) {
			break
		} else if err != nil || i > 8 {
			t.Fatalf("filling the queue: %v after %d", err, i)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := bindSocket(mustParseListen(t, "unix:"+path))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is in use") {
			t.Errorf("bind over a live socket with a full queue: %v; want in use", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bind over a live socket with a full queue still blocked after 10s")
	}
}

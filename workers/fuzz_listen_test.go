package workers

import (
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzParseListen: whatever --listen or a group's "listen" holds, the
// parser returns a socket it can bind or an error of bounded length,
// never a panic; what it accepts is within the documented bounds and
// reads back the same from its String form.
func FuzzParseListen(f *testing.F) {
	for _, s := range []string{
		"tcp:127.0.0.1:8080", "web=tcp::8080", "tcp6:[::1]:443,backlog=128", "tcp4:0.0.0.0:80", "udp:127.0.0.1:5353",
		"dns=udp6:[::]:53", "tcp:[::ffff:1.2.3.4]:80", "tcp6:[::ffff:1.2.3.4]:80", "tcp:127.0.0.1:0080",
		"admin=unix:/run/app/admin.sock,mode=0660,owner=1000:50", "unix:/run//a/../a.sock", "unix:/", "unix:/a/..", "unix:@abstract",
		"unix:/run/a\x00b", "unix:/run/a.sock,owner=7", "unix:/run/a.sock,owner=7:", "unix:/run/a.sock,owner=:7",
		"tcp::0,", "tcp::0,,", ",", ":", "=", "=tcp::80", "a=b=tcp::80", "tcp:::80", "tcp:[::1]", "tcp::65536", "tcp::-1",
		"udp::53,backlog=5", "tcp::80,mode=0600", "unix:/a,mode=0o777", "unix:/a,mode=+777", "unix:/a,mode=", "tcp::80,backlog=0x10",
		"tcp:fe80::1%eth0:80", "tcp:[fe80::1%eth0]:80", "unix:/" + strings.Repeat("x", 106), "unix:/" + strings.Repeat("x", 107),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var l ListenSpec
		var err error
		boundedAlloc(t, len(s), 64, func() { l, err = ParseListen(s) })
		checkMessage(t, err)
		if err != nil {
			return
		}
		if strings.HasSuffix(s, ",") {
			t.Fatalf("ParseListen(%q) accepted a trailing comma: %+v", s, l)
		}
		switch {
		case l.Name != "" && !groupName(l.Name):
			t.Fatalf("ParseListen(%q): name %q", s, l.Name)
		case l.Mode < -1 || l.Mode > 0o777:
			t.Fatalf("ParseListen(%q): mode %o", s, l.Mode)
		case l.UID < -1 || l.GID < -1 || l.UID == -1 && l.GID != -1:
			t.Fatalf("ParseListen(%q): owner %d:%d", s, l.UID, l.GID)
		case l.Backlog < 0 || l.Backlog > 65535:
			t.Fatalf("ParseListen(%q): backlog %d", s, l.Backlog)
		}
		switch l.Network {
		case "unix":
			switch {
			case !filepath.IsAbs(l.Address) || filepath.Clean(l.Address) != l.Address || l.Address == "/":
				t.Fatalf("ParseListen(%q): unix path %q", s, l.Address)
			case strings.ContainsRune(l.Address, 0) || len(l.Address) >= len(unix.RawSockaddrUnix{}.Path):
				t.Fatalf("ParseListen(%q): unix path %q cannot be bound as it is", s, l.Address)
			}
		case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
			if _, _, ok := splitHostPort(l.Address); !ok || l.Mode != -1 || l.UID != -1 {
				t.Fatalf("ParseListen(%q): %+v", s, l)
			}
			if strings.HasPrefix(l.Network, "udp") && l.Backlog != 0 {
				t.Fatalf("ParseListen(%q): a backlog for udp", s)
			}
		default:
			t.Fatalf("ParseListen(%q): network %q", s, l.Network)
		}
		again, err := ParseListen(l.String())
		if err != nil || again != l {
			t.Fatalf("ParseListen(%q) = %+v, written %q, which reads back as %+v, %v", s, l, l.String(), again, err)
		}
	})
}

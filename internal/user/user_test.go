package user

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const passwd = `root:x:0:0:root:/root:/bin/sh
# a comment
+nisuser::::::
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
www:x:33:33:www-data:/var/www:/usr/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
broken:x:notanumber:1::/:/bin/sh
short:x
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
`

const group = `root:x:0:
daemon:x:1:
www:x:33:app
docker:x:999:app,www
staff:x:50:other,app
app:x:1000:
dup:x:999:app
nogroup:x:65534:
`

// fakeRoot writes files (path relative to the root: contents) and returns
// the root.
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestResolve(t *testing.T) {
	image := fakeRoot(t, map[string]string{"etc/passwd": passwd, "etc/group": group})
	scratch := fakeRoot(t, nil)
	passwdOnly := fakeRoot(t, map[string]string{"etc/passwd": passwd})
	for _, tc := range []struct {
		doc, spec, root string
		want            Credential
	}{
		{"numeric, FROM scratch: group 0, no groups", "1000", scratch, Credential{1000, 0, []uint32{}}},
		{"numeric user and group, FROM scratch", "1000:1000", scratch, Credential{1000, 1000, []uint32{}}},
		{"numeric 0", "0:0", scratch, Credential{0, 0, []uint32{}}},
		{"largest id", "4294967294:4294967294", scratch, Credential{4294967294, 4294967294, []uint32{}}},
		{"name: primary group and memberships in file order, each once", "app", image, Credential{1000, 1000, []uint32{33, 999, 50}}},
		{"numeric uid with an entry: its group and memberships", "1000", image, Credential{1000, 1000, []uint32{33, 999, 50}}},
		{"leading zeros are the same uid", "01000", image, Credential{1000, 1000, []uint32{33, 999, 50}}},
		{"numeric uid without an entry", "4242", image, Credential{4242, 0, []uint32{}}},
		{"name in no group", "nobody", image, Credential{65534, 65534, []uint32{}}},
		{"group by name overrides the primary group; no supplementary groups", "app:staff", image, Credential{1000, 50, []uint32{}}},
		{"group by number", "app:7", image, Credential{1000, 7, []uint32{}}},
		{"numeric user, named group", "4242:docker", image, Credential{4242, 999, []uint32{}}},
		{"name, no /etc/group: no supplementary groups", "www", passwdOnly, Credential{33, 33, []uint32{}}},
	} {
		got, err := Resolve(tc.spec, tc.root)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Resolve(%q) = %+v, %v; want %+v", tc.doc, tc.spec, got, err, tc.want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	image := fakeRoot(t, map[string]string{"etc/passwd": passwd, "etc/group": group})
	scratch := fakeRoot(t, nil)
	big := fakeRoot(t, map[string]string{"etc/passwd": strings.Repeat("#\n", MaxFileSize/2+1)})
	longLine := fakeRoot(t, map[string]string{"etc/passwd": "root:x:0:0::/:/bin/sh\n" + strings.Repeat("x", MaxLine+1) + "\n"})
	fifo := fakeRoot(t, nil)
	os.Mkdir(filepath.Join(fifo, "etc"), 0o755)
	if err := unix.Mkfifo(filepath.Join(fifo, "etc/passwd"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		doc, spec, root, want string
	}{
		{"unknown name", "nosuch", image, `no user "nosuch" in ` + image + "/etc/passwd"},
		{"unknown group", "app:nosuch", image, `no group "nosuch" in ` + image + "/etc/group"},
		{"name, FROM scratch", "app", scratch, `user "app": ` + scratch + "/etc/passwd does not exist (an image without one takes numeric ids"},
		{"group name, FROM scratch", "1000:app", scratch, `group "app": ` + scratch + "/etc/group does not exist"},
		{"empty", "", image, "no user before the ':'"},
		{"no user", ":1000", image, "no user before the ':'"},
		{"no group", "1000:", image, "no group after the ':'"},
		{"uid -1 is nobody's", "4294967295", scratch, "user id 4294967295 is out of range 0-4294967294"},
		{"huge uid", "99999999999999999999999", scratch, "out of range"},
		{"huge gid", "1:99999999999999999999999", scratch, "group id 99999999999999999999999 is out of range"},
		{"negative", "-1", image, `no user "-1"`},
		{"two colons", "app:staff:x", image, `group "staff:x": a name cannot hold ':'`},
		{"newline in a name", "ro\not", image, "a name cannot hold"},
		{"passwd too large", "app", big, "etc/passwd is larger than 4194304 bytes (4 MiB), the limit"},
		{"line too long", "app", longLine, "etc/passwd: line 2 is longer than 65536 bytes, the limit"},
		{"passwd a FIFO", "app", fifo, "etc/passwd is a named pipe (FIFO), not a regular file"},
		{"a numeric uid does not hide a bad passwd", "1000", fifo, "not a regular file"},
		{"100 KB name cut in the message", strings.Repeat("n", 100_000), image, `no user "` + strings.Repeat("n", 64) + `"... (100000 bytes) in`},
	} {
		got, err := Resolve(tc.spec, tc.root)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Resolve(%.30q) = %+v, %v; want an error containing %q", tc.doc, tc.spec, got, err, tc.want)
		}
		if err != nil && len(err.Error()) > 400 {
			t.Errorf("%s: a %d-byte message", tc.doc, len(err.Error()))
		}
	}
}

func FuzzResolve(f *testing.F) {
	root := f.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	f.Add("app", passwd, group)
	f.Add("1000:staff", passwd, group)
	f.Add("4294967295", "", "")
	f.Add("a:b:c", "a:x:1:1::/:\n", "b:x:2:a,a,a\n")
	f.Add("x", "x:x:1:1\n::::\n:\n", "g:x:1:x\ng:x:1:x\n")
	f.Fuzz(func(t *testing.T, spec, passwd, group string) {
		for name, content := range map[string]string{"passwd": passwd, "group": group} {
			if err := os.WriteFile(filepath.Join(root, "etc", name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		c, err := Resolve(spec, root)
		switch {
		case err != nil:
			if len(err.Error()) > 600 {
				t.Fatalf("a %d-byte error message", len(err.Error()))
			}
		case c.Groups == nil:
			t.Fatalf("Resolve(%q) = %+v: nil groups would leave pidone's", spec, c)
		case c.UID == 1<<32-1 || c.GID == 1<<32-1:
			t.Fatalf("Resolve(%q) = %+v: id -1", spec, c)
		case len(c.Groups) > len(group):
			t.Fatalf("Resolve(%q): %d groups from a %d-byte file", spec, len(c.Groups), len(group))
		}
	})
}

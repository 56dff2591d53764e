package e2e

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestUserAndNoNewPrivs: --user sets the main child's identity, groups
// included, and --no-new-privs its no_new_privs bit; pidone itself keeps
// running as it started. Read from /proc/PID/status of both.
func TestUserAndNoNewPrivs(t *testing.T) {
	t.Parallel()
	needRoot(t, "switching to another user needs root")
	pidone, _ := bins(t)
	for _, tc := range []struct {
		doc              string
		args             []string
		uid, gid, groups string
		nnp              string
	}{
		{"numeric user and group", []string{"--user", "65534:65533", "--no-new-privs"}, "65534", "65533", "", "1"},
		{"a name from /etc/passwd", []string{"--user", "nobody"}, "65534", "65534", "", "0"},
		{"numeric user only: group 0, as docker run --user", []string{"--user", "4242"}, "4242", "0", "", "0"},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			args := append(append([]string{pidone}, tc.args...), "--", "/bin/sh", "-c", "cat /proc/self/status; echo done; read line || exit 0")
			p := startInit(t, args...)
			p.stdout.WaitFor(t, regexp.MustCompile(`^done$`), exitTimeout)
			child := statusFields(p.stdout.Snapshot())
			want := map[string]string{"Uid": strings.Repeat(tc.uid+" ", 4), "Gid": strings.Repeat(tc.gid+" ", 4), "Groups": tc.groups, "NoNewPrivs": tc.nnp}
			for k, v := range want {
				if got := child[k]; got != strings.TrimSpace(v) {
					t.Errorf("child %s = %q, want %q", k, got, strings.TrimSpace(v))
				}
			}
			self, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
			if err != nil {
				t.Fatal(err)
			}
			if got := statusFields(strings.Split(string(self), "\n"))["Uid"]; got != "0 0 0 0" {
				t.Errorf("pidone's own Uid = %q, want 0 0 0 0", got)
			}
			p.closeStdin()
			if code := p.exitCode(exitTimeout); code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
		})
	}
}

// TestUserErrors: an unknown name is a usage error naming it.
func TestUserErrors(t *testing.T) {
	t.Parallel()
	code, _, stderr := run(t, 10*time.Second, "--user", "no-such-user-xyz", "--", "true")
	if code != 2 || !strings.Contains(strings.Join(stderr, "\n"), "no-such-user-xyz") {
		t.Errorf("got %d, %q; want 2 and a message naming the user", code, stderr)
	}
}

// statusFields reads /proc/PID/status lines, whitespace folded.
func statusFields(lines []string) map[string]string {
	m := map[string]string{}
	for _, l := range lines {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return m
}

package e2e

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestUserAsItselfWithoutRoot: a pidone that is not root (uid 65534, no
// supplementary groups) runs its child with --user naming its own ids: no
// credential step changes anything, so none is made (setgroups would need
// CAP_SETGID even to set no groups: issue 18 saw exit 126). Asking for
// another user still fails, as the kernel says.
func TestUserAsItselfWithoutRoot(t *testing.T) {
	t.Parallel()
	needRoot(t, "the test drops pidone to uid 65534")
	pidone, _ := bins(t)
	for _, tc := range []struct {
		doc  string
		user string
		code int
		out  string // stdout, or a part of stderr when code is not 0
	}{
		{"its own uid and gid", "65534:65534", 0, "65534 65534 65534\n"},
		{"its own uid, the group from /etc/passwd", "65534", 0, "65534 65534 65534\n"},
		{"another user: refused by the kernel", "0:0", 126, "operation not permitted"},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			cmd := exec.Command(pidone, "--user", tc.user, "--", "/bin/sh", "-c", `echo "$(id -u) $(id -g) $(id -G)"`)
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID,
				Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			switch {
			case code != tc.code:
				t.Errorf("--user %s as uid 65534: exit %d, want %d; stderr:\n%s", tc.user, code, tc.code, stderr.String())
			case code == 0 && stdout.String() != tc.out:
				t.Errorf("--user %s as uid 65534: the child says %q, want %q", tc.user, stdout.String(), tc.out)
			case code != 0 && !strings.Contains(stderr.String(), tc.out):
				t.Errorf("--user %s as uid 65534: stderr %q, want it to say %q", tc.user, stderr.String(), tc.out)
			}
		})
	}
}

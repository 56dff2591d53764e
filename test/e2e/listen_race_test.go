package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// raceTries is how many masters the symlink race runs against: issue 18
// saw 29 hits in 300 starts with a slower attacker than workload swapper.
const raceTries = 300

// TestListenUnixSymlinkRace is issue 18's attack on --listen
// unix:PATH,mode=M,owner=U:G: the socket's directory belongs to uid 65534
// (the docs' /run/app/admin.sock in a directory the app owns), and that
// user swaps every new entry of it for a symlink to a root-owned 0600 file
// the moment it appears (workload swapper, inotify). A master that bound
// the socket and then set its mode or owner through the path changed the
// file instead. The race runs raceTries times; the file must never change.
func TestListenUnixSymlinkRace(t *testing.T) {
	t.Parallel()
	needRoot(t, "the attacker is uid 65534 and the file it aims at is root's")
	pidone, workload := bins(t)
	base, err := os.MkdirTemp("", "pidone-race-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	app := filepath.Join(base, "app")
	secret := filepath.Join(base, "secret")
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(app, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(app, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	writeFile(t, secret, "root's secret\n")

	attacker := exec.Command(workload, "swapper", app, secret)
	attacker.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := attacker.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	attacker.Stderr = os.Stderr
	if err := attacker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		attacker.Process.Kill()
		attacker.Wait()
	})
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "swapper ready\n" {
		t.Fatalf("the attacker did not start: %q, %v", line, err)
	}

	sock := filepath.Join(app, "admin.sock")
	spec := "admin=unix:" + sock + ",mode=0666,owner=65534:65534"
	hits, swapped, bound := 0, 0, 0
	for i := range raceTries {
		clearDir(t, app)
		if err := os.Chmod(secret, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), workersTimeout)
		cmd := exec.CommandContext(ctx, pidone, "--workers", "1", "--restart", "never", "--listen", spec, "--", workload, "exit", "0")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
		msg, err := cmd.CombinedOutput()
		late := ctx.Err() != nil
		cancel()
		if err == nil {
			bound++
		} else if late {
			t.Fatalf("try %d: the master did not exit within %v: %s", i, workersTimeout, msg)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(secret, &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&0o7777 != 0o600 || st.Uid != 0 || st.Gid != 0 {
			hits++
			if hits == 1 {
				t.Logf("try %d: %s is now mode %04o owner %d:%d; the master said:\n%s", i, secret, st.Mode&0o7777, st.Uid, st.Gid, msg)
			}
		}
		if fi, err := os.Lstat(sock); err == nil && fi.Mode().Type() == os.ModeSymlink {
			swapped++
		} else if moved, _ := filepath.Glob(filepath.Join(app, "swap-moved-*")); len(moved) > 0 {
			swapped++
		}
	}
	t.Logf("%d tries: the attacker swapped an entry in %d, %d masters ran to the end, %d changed %s", raceTries, swapped, bound, hits, secret)
	if swapped == 0 {
		t.Fatal("the attacker never swapped anything: the race did not run")
	}
	if hits > 0 {
		t.Errorf("a root-owned 0600 file was changed through the listen socket's path in %d of %d tries", hits, raceTries)
	}
}

// clearDir removes what the last try left in dir, but not the attacker's
// spare symlinks (swap-N).
func clearDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "swap-") && !strings.HasPrefix(name, "swap-moved-") {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

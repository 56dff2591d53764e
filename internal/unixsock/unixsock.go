// Package unixsock creates unix stream sockets at paths in directories a
// less trusted process may write, and removes them: workers mode's unix
// --listen sockets (workers/listen.go) and single mode's control socket
// (internal/control) are made the same way (issue 18, issue 21).
package unixsock

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Listen binds a unix stream socket at path, with mode (-1: as the umask
// leaves it) and owner (uid -1: pidone's own), and listens on it with
// backlog, safely in a directory that someone less trusted may write (the
// docs' /run/app/admin.sock in a directory the app owns). It returns the
// descriptor (close-on-exec, blocking) and the socket file's device and
// inode, for Remove.
//
// Whoever can write the directory can replace any name in it at any time,
// so pidone never acts on a path there after creating it: a chmod(2) or
// chown(2) of PATH after bind(2) followed the symlink an attacker swapped
// in, and root changed the mode of any file it chose (issue 18: 121 of
// 300 tries). A socket's file cannot be changed through its descriptor
// (fchmod of a socket acts on the socket, not on the file bind made), and
// the umask, which could give the mode at bind time, is shared by every
// thread of pidone. So the socket is born where no one else can reach it:
// in a fresh 0700 directory of pidone's own beside PATH, bound through
// that directory's descriptor (/proc/self/fd/N/NAME), given its mode and
// owner there and set listening, and only then linked to PATH with
// link(2), which never replaces what is at PATH. Clients can connect only
// once the mode and owner apply. The directory is beside PATH because a
// link cannot cross filesystems; link rather than rename(2) with
// RENAME_NOREPLACE, which some filesystems (NFS, FUSE) refuse.
//
// A socket file left by a previous run (nobody accepts on it) is replaced;
// a live one, or any other kind of file, is not.
//
// What getsockname(2) shows is the private name the socket was bound at,
// not PATH.
func Listen(path string, mode, uid, gid, backlog int) (fd int, dev, ino uint64, err error) {
	dirPath, name := filepath.Dir(path), filepath.Base(path)
	dir, err := unix.Open(dirPath, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return -1, 0, 0, fmt.Errorf("the directory %s does not exist (pidone does not create it)", dirPath)
	case err != nil:
		return -1, 0, 0, &os.PathError{Op: "open", Path: dirPath, Err: err}
	}
	defer unix.Close(dir)
	priv, privName, err := privateDir(dir, dirPath, name)
	if err != nil {
		return -1, 0, 0, err
	}
	defer func() {
		unix.Unlinkat(priv, name, 0)
		unix.Close(priv)
		unix.Unlinkat(dir, privName, unix.AT_REMOVEDIR)
	}()

	fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, 0, os.NewSyscallError("socket", err)
	}
	fail := func(err error) (int, uint64, uint64, error) {
		unix.Close(fd)
		return -1, 0, 0, err
	}
	privPath, ok := procPath(priv)
	if !ok {
		// No /proc: the private directory by its name. Should someone
		// swap that name between the check and bind, the socket file is
		// made where the swapped name leads, and left there untouched:
		// the check below finds none in the private directory.
		privPath = filepath.Join(dirPath, privName)
	}
	bindPath := privPath + "/" + name
	if max := len(unix.RawSockaddrUnix{}.Path) - 1; len(bindPath) > max {
		hint := "the name"
		if !ok {
			hint = "the path, or mount /proc"
		}
		return fail(fmt.Errorf("the socket is bound as %s first, %d bytes, more than %d: shorten %s", bindPath, len(bindPath), max, hint))
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: bindPath}); err != nil {
		return fail(os.NewSyscallError("bind", err))
	}
	// Only pidone can add a name to the private directory: what is there
	// is the socket bind made, and nobody can swap it.
	var st unix.Stat_t
	if err := unix.Fstatat(priv, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fail(fmt.Errorf("%s changed while pidone bound %s in it: another process writes the directory", dirPath, name))
	}
	if mode >= 0 {
		if err := unix.Fchmodat(priv, name, uint32(mode), 0); err != nil {
			return fail(os.NewSyscallError("chmod", err))
		}
	}
	if uid >= 0 {
		if err := unix.Fchownat(priv, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fail(os.NewSyscallError("chown", err))
		}
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return fail(os.NewSyscallError("listen", err))
	}
	if err := placeSocket(dir, priv, dirPath, name); err != nil {
		return fail(err)
	}
	return fd, st.Dev, st.Ino, nil
}

// ProcSelfFD is where a descriptor can be named as a path; a test points
// it elsewhere to run without /proc.
var ProcSelfFD = "/proc/self/fd"

// procPath names descriptor fd as a path (/proc/self/fd/N) that reaches
// fd's own file whatever happens to the names around it, if /proc is
// there and is ours: it must lead to the same file as fd.
func procPath(fd int) (string, bool) {
	p := ProcSelfFD + "/" + strconv.Itoa(fd)
	var viaProc, direct unix.Stat_t
	if unix.Stat(p, &viaProc) != nil || unix.Fstat(fd, &direct) != nil || viaProc.Dev != direct.Dev || viaProc.Ino != direct.Ino {
		return "", false
	}
	return p, true
}

// privateDirAttempts bounds the retries on a name already taken.
const privateDirAttempts = 8

// privateDir makes a fresh directory in dir that only pidone's uid can
// enter or write (mode 0700, the umask can only narrow it), and returns
// its descriptor and name. It is opened without following a symlink and
// checked after opening: the name is in a directory someone else may
// write, so what is opened may not be what mkdir made, and it is used only
// if nobody but pidone's uid can add or swap a name in it.
func privateDir(dir int, dirPath, name string) (fd int, privName string, err error) {
	for range privateDirAttempts {
		privName = ".pidone-" + strconv.FormatUint(rand.Uint64(), 36)
		err = unix.Mkdirat(dir, privName, 0o700)
		if !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	switch {
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EROFS), errors.Is(err, unix.EPERM):
		return -1, "", fmt.Errorf("%w: pidone may not create %s in %s", err, name, dirPath)
	case err != nil:
		return -1, "", os.NewSyscallError("mkdir", err)
	}
	fd, err = unix.Openat(dir, privName, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	var st unix.Stat_t
	if err == nil {
		err = unix.Fstat(fd, &st)
	}
	if err != nil || int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 {
		if err == nil {
			unix.Close(fd)
		}
		return -1, "", fmt.Errorf("%s changed while pidone bound %s in it: another process writes the directory", dirPath, name)
	}
	return fd, privName, nil
}

// placeSocket links the socket bound in the private directory priv to its
// name in dir. link(2) never replaces a name, so a file someone put there
// stays; a socket file nobody accepts on (left by a previous run) is
// removed and the link tried once more.
func placeSocket(dir, priv int, dirPath, name string) error {
	err := unix.Linkat(priv, name, dir, name, 0)
	if errors.Is(err, unix.EEXIST) {
		if err := removeStaleSocket(dir, filepath.Join(dirPath, name)); err != nil {
			return err
		}
		err = unix.Linkat(priv, name, dir, name, 0)
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("%s was made again while pidone replaced it: another process is binding it too", filepath.Join(dirPath, name))
		}
	}
	if err != nil {
		return os.NewSyscallError("link", err)
	}
	return nil
}

// removeStaleSocket removes the unix socket file at path (name in dir) if
// nobody accepts on it. The file is opened without following a symlink and
// probed through that descriptor, so a symlink swapped in cannot make
// pidone connect to a socket elsewhere. The probe does not block: a live
// socket with a full queue is in use, not a reason to hang the start. The
// removal is of a name in dir, which whoever could swap it may remove too.
func removeStaleSocket(dir int, path string) error {
	name := filepath.Base(path)
	f, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil // gone meanwhile
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(f)
	var st unix.Stat_t
	if err := unix.Fstat(f, &st); err != nil {
		return &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("%s exists and is not a socket; pidone does not replace it", path)
	}
	target, ok := procPath(f)
	if !ok {
		target = path
	}
	probe, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(probe)
	switch err := unix.Connect(probe, &unix.SockaddrUnix{Name: target}); {
	case err == nil, errors.Is(err, unix.EAGAIN):
		return fmt.Errorf("%s is in use: another process accepts connections on it", path)
	case !errors.Is(err, unix.ECONNREFUSED):
		return fmt.Errorf("%s exists and cannot be checked: %w", path, os.NewSyscallError("connect", err))
	}
	if err := unix.Unlinkat(dir, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "remove", Path: path, Err: err}
	}
	return nil
}

// Remove removes the socket file at path if it is still the one Listen
// created (dev, ino): a file someone put there since is left alone.
func Remove(path string, dev, ino uint64) {
	var st unix.Stat_t
	if ino != 0 && unix.Lstat(path, &st) == nil && st.Dev == dev && st.Ino == ino {
		unix.Unlink(path)
	}
}

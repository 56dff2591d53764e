package workers

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pidone/pidone/forward"
	"github.com/pidone/pidone/internal/clip"
	"github.com/pidone/pidone/internal/safefile"
	"golang.org/x/sys/unix"
)

// The pidfile follows FreeBSD pidfile(3), with a lock file beside the
// pidfile, so the pidfile itself can be replaced atomically:
//
//   - PATH.lock is created (mode 0600, and it must be ours) and flock(2)ed
//     by the master for its whole life.
//     A held lock means "running"; a pidfile without a held lock is stale,
//     whatever process its pid now names. The lock also refuses a second
//     master with the same pidfile, and the kernel drops it when the master
//     dies, however it dies.
//   - PATH is written after the workers started, through a temporary file
//     in the same directory and rename(2), so a reader never sees it half
//     written. The temporary file is flocked before the rename, so PATH is
//     locked too from the moment it appears: a lock file deleted by hand
//     (it looks like litter) does not let a second master start while the
//     first one's pidfile names it. Either lock held means "running".
//   - On exit PATH is removed only if it is still the file we wrote and
//     still holds our pid.
//   - The lock file also records the master's reload and restart signals,
//     so `pidone ctl` sends the ones this master listens to, and who the
//     master is beyond its pid (lockInfo).
//
// Symlinks are refused at both paths, and so is a directory anybody may
// write to without the sticky bit: there, another user could swap our files
// for links to files of their choosing. Files are opened with O_NONBLOCK,
// so a FIFO put in their place cannot block a master or ctl.

// Pidfile is a master's locked pidfile.
type Pidfile struct {
	path    string
	lock    *os.File // PATH.lock, flocked
	written *os.File // the file last renamed to PATH, flocked; nil before Write
}

// RunningError says that another master holds the pidfile's lock.
type RunningError struct {
	Path string
	Pid  int // 0 when its pidfile is not written yet
	// PidfileLocked: the lock file was free, but the pidfile is locked.
	PidfileLocked bool
	// Holders are the pids /proc/locks says hold the lock (in our PID
	// namespace; a holder in another one is not listed).
	Holders []int
}

func (e *RunningError) Error() string {
	who := "another pidone master"
	if e.Pid > 0 {
		who += fmt.Sprintf(" (pid %d)", e.Pid)
	}
	if e.PidfileLocked {
		return fmt.Sprintf("%s is running with pidfile %s: the pidfile is locked (its lock file %s was removed by hand?)", who, e.Path, e.Path+".lock")
	}
	held := "held"
	if len(e.Holders) > 0 {
		held += " by " + pidList(e.Holders)
	}
	return fmt.Sprintf("%s is running with pidfile %s: its lock %s is %s", who, e.Path, e.Path+".lock", held)
}

// pidList names pids for a message: "pid 7" or "pids 7, 9".
func pidList(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	if len(s) == 1 {
		return "pid " + s[0]
	}
	return "pids " + strings.Join(s, ", ")
}

// UnsafePathError refuses a pidfile location.
type UnsafePathError struct {
	Path   string
	Reason string
}

func (e *UnsafePathError) Error() string {
	return fmt.Sprintf("refusing pidfile %s: %s", e.Path, e.Reason)
}

// lockInfo is what the lock file records for pidone ctl.
//
// A pid alone does not name a process: in a container sharing the
// pidfile's directory (a volume), the same number is another process, and
// its PID 1 is pidone too (issue 18). So the lock file also records the
// master's PID namespace (the inode of /proc/self/ns/pid) and its start
// time (clock ticks after boot, field 22 of /proc/PID/stat, proc(5)), and
// ctl acts only on a pid of its own namespace that started then. A lock
// file written before these were recorded (PidNS 0) is still read: ctl
// then asks the kernel who holds the lock (/proc/locks).
type lockInfo struct {
	Pid           int
	PidNS         uint64 // 0: not recorded
	StartTime     uint64 // 0: not recorded
	ReloadSignal  unix.Signal
	RestartSignal unix.Signal
}

// AcquirePidfile checks path, then creates and locks path.lock, recording
// info in it (with our PID namespace and start time when info.Pid is ours).
// It fails with *RunningError when another master holds the lock and
// *UnsafePathError for a location it will not use.
func AcquirePidfile(path string, info lockInfo) (*Pidfile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &UnsafePathError{path, err.Error()}
	}
	path = abs
	if err := checkPidfilePath(path); err != nil {
		return nil, err
	}
	if info.Pid == os.Getpid() {
		info.PidNS, info.StartTime = selfIdentity()
	}
	lockPath := path + ".lock"
	// Someone may remove the lock file between our open and our flock
	// (a master exiting); the inode we locked must still be the one at
	// lockPath. Two tries cover that race; a third failure is not a race.
	for try := 0; try < 3; try++ {
		f, err := openLockFile(path, lockPath)
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				pid, _ := readPid(path)
				return nil, &RunningError{Path: path, Pid: pid, Holders: holdersOf(lockPath)}
			}
			return nil, &os.PathError{Op: "flock", Path: lockPath, Err: err}
		}
		if !sameFile(f, lockPath) {
			f.Close()
			continue
		}
		if pid, ok := pidfileHeldByMaster(path); ok {
			// Our lock file replaced one removed by hand while a master
			// runs: take it away again, it locks nothing.
			os.Remove(lockPath)
			f.Close()
			return nil, &RunningError{Path: path, Pid: pid, PidfileLocked: true}
		}
		p := &Pidfile{path: path, lock: f}
		if err := p.record(info); err != nil {
			f.Close()
			return nil, err
		}
		return p, nil
	}
	return nil, fmt.Errorf("lock file %s keeps being replaced", lockPath)
}

// openLockFile opens (creating it if need be) the lock file, mode 0600, and
// refuses one that is not ours. Whoever owns the lock file may rewrite what
// it records, and ctl would act on it (a reload-signal=TERM makes ctl
// reload stop the master); whoever can open it may hold a shared flock on
// it after the master died, and no master could start again (issue 18).
// An existing file gets 0600 too: older masters left 0644.
func openLockFile(path, lockPath string) (*os.File, error) {
	fd, err := unix.Open(lockPath, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if err != nil {
		// With fs.protected_regular, even root may not open with O_CREAT
		// another user's file in a sticky directory: say whose it is.
		var st unix.Stat_t
		if unix.Lstat(lockPath, &st) == nil && int(st.Uid) != os.Geteuid() {
			return nil, notOursError(path, lockPath, st)
		}
		return nil, &UnsafePathError{path, fmt.Sprintf("cannot open %s: %v", lockPath, err)}
	}
	f := os.NewFile(uintptr(fd), lockPath)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, &os.PathError{Op: "fstat", Path: lockPath, Err: err}
	}
	switch {
	case !safefile.IsRegular(st.Mode):
		f.Close()
		return nil, &UnsafePathError{path, lockPath + " is " + safefile.Kind(st.Mode)}
	case int(st.Uid) != os.Geteuid():
		f.Close()
		return nil, notOursError(path, lockPath, st)
	case st.Nlink != 1:
		// A hard link to one of our files (where fs.protected_hardlinks
		// is 0, anybody may make one): recording in it would overwrite
		// that file.
		f.Close()
		return nil, &UnsafePathError{path, fmt.Sprintf("%s has %d hard links: another name of some other file", lockPath, st.Nlink)}
	case st.Mode&0o777 != 0o600:
		if err := unix.Fchmod(fd, 0o600); err != nil {
			f.Close()
			return nil, &os.PathError{Op: "fchmod", Path: lockPath, Err: err}
		}
	}
	return f, nil
}

func notOursError(path, name string, st unix.Stat_t) error {
	return &UnsafePathError{path, fmt.Sprintf("%s belongs to uid %d, not to pidone's uid %d: another user may rewrite it; "+
		"remove it, or use a directory only pidone's user can write", name, st.Uid, os.Geteuid())}
}

// checkPidfilePath refuses symlinks and non-regular files at the pidfile
// and its lock, and a world-writable directory without the sticky bit.
func checkPidfilePath(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return &UnsafePathError{path, err.Error()}
	}
	switch mode := fi.Mode(); {
	case !mode.IsDir():
		return &UnsafePathError{path, dir + " is not a directory"}
	case mode.Perm()&0o002 != 0 && mode&os.ModeSticky == 0:
		return &UnsafePathError{path, dir + " is writable by everyone and has no sticky bit"}
	}
	for _, p := range []string{path, path + ".lock"} {
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return &UnsafePathError{path, err.Error()}
		case fi.Mode()&os.ModeSymlink != 0:
			return &UnsafePathError{path, p + " is a symbolic link"}
		case !fi.Mode().IsRegular():
			return &UnsafePathError{path, p + " is not a regular file"}
		}
	}
	return nil
}

// pidfileLocked reports whether somebody holds a lock on the pidfile at
// path (a master flocks the pidfile it writes), and the pid it holds. Testing
// takes a shared lock for an instant, which never conflicts with another test.
func pidfileLocked(path string) (bool, int) {
	fd, st, err := safefile.Open(unix.AT_FDCWD, path, unix.O_NOFOLLOW)
	if err != nil {
		return false, 0
	}
	defer unix.Close(fd)
	b, _ := safefile.ReadOpened(fd, st, path, maxPidfileSize)
	pid, _ := parsePid(b)
	if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK), pid
	}
	unix.Flock(fd, unix.LOCK_UN)
	return false, pid
}

// pidfileHeldByMaster reports whether a master holds the pidfile at path
// locked (its lock file removed by hand), and names it. The pidfile is
// readable by everyone, so anybody may hold a lock on it; a lock on a dead
// master's pidfile must not keep a new master from starting (issue 18).
// /proc/locks tells who holds it, among the processes of our PID namespace:
// the pid the pidfile names, running pidone, is a master; anybody else of
// our namespace is not. A holder we cannot see is in another PID namespace,
// a master of a container sharing the directory as likely as not: refused.
func pidfileHeldByMaster(path string) (int, bool) {
	locked, pid := pidfileLocked(path)
	if !locked {
		return pid, false
	}
	holders := holdersOf(path)
	if len(holders) == 0 {
		return pid, true
	}
	if !slices.Contains(holders, pid) {
		return pid, false
	}
	ok, _ := isPidone(pid)
	return pid, ok
}

func sameFile(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Lstat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

func (p *Pidfile) record(info lockInfo) error {
	text := fmt.Sprintf("pid=%d\npid-ns=%d\nstart-time=%d\nreload-signal=%s\nrestart-signal=%s\n",
		info.Pid, info.PidNS, info.StartTime, forward.Name(info.ReloadSignal), forward.Name(info.RestartSignal))
	if err := p.lock.Truncate(0); err != nil {
		return err
	}
	_, err := p.lock.WriteAt([]byte(text), 0)
	return err
}

// Path is the pidfile's absolute path.
func (p *Pidfile) Path() string { return p.path }

// Write puts pid into the pidfile atomically, and keeps it locked.
func (p *Pidfile) Write(pid int) error {
	f, err := writeAtomic(p.path, []byte(strconv.Itoa(pid)+"\n"), true, true)
	if err != nil {
		return err
	}
	if p.written != nil {
		p.written.Close()
	}
	p.written = f
	return nil
}

// writeAtomic replaces path with data through a temporary file in the same
// directory and rename(2), so that a reader sees the old content or the
// new, never a part; with sync the new content is on disk before it is
// visible. With keep the new file is flocked before anyone can see it and
// returned open, holding the lock; else it is closed.
func writeAtomic(path string, data []byte, sync, keep bool) (*os.File, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, ENOENT
	if keep {
		// Nobody else knows the file yet: the lock is free.
		err = unix.Flock(int(tmp.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil && sync {
		err = tmp.Sync()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil || !keep {
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		return nil, err
	}
	return tmp, nil
}

// Release removes the pidfile if it is still the one we wrote and still
// holds pid, removes the lock file if it is still ours, and drops the locks.
func (p *Pidfile) Release(pid int) error {
	var errs []error
	if p.written != nil && sameFile(p.written, p.path) {
		if got, err := readPid(p.path); err == nil && got == pid {
			errs = append(errs, os.Remove(p.path))
		}
	}
	if sameFile(p.lock, p.lock.Name()) {
		errs = append(errs, os.Remove(p.lock.Name()))
	}
	if p.written != nil {
		errs = append(errs, p.written.Close())
	}
	errs = append(errs, p.lock.Close())
	return errors.Join(errs...)
}

// readPid reads a pidfile: one positive decimal number and a newline.
// Only a regular file is read, without blocking, and at most
// maxPidfileSize bytes.
func readPid(path string) (int, error) {
	b, err := safefile.ReadRegular(path, maxPidfileSize, unix.O_NOFOLLOW)
	if err != nil {
		return 0, err
	}
	pid, err := parsePid(b)
	if err != nil {
		return 0, fmt.Errorf("%s %v", path, err)
	}
	return pid, nil
}

// parsePid reads a pidfile's contents: a pid from 1 to 2^22 (the kernel's
// PID_MAX_LIMIT) in decimal digits, with blanks around it allowed.
func parsePid(b []byte) (int, error) {
	s := strings.TrimSpace(string(b))
	ok := s != "" && len(s) <= 7
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= '0' && s[i] <= '9'
	}
	pid, _ := strconv.Atoi(s)
	if !ok || pid < 1 || pid > pidMaxLimit {
		return 0, fmt.Errorf("does not hold a pid: %s", clip.Quote(string(b)))
	}
	return pid, nil
}

// maxPidfileSize is the most a pidfile may hold: a pid and some blanks.
const maxPidfileSize = 64

// pidMaxLimit is the largest pid Linux can give (PID_MAX_LIMIT, 4194304).
const pidMaxLimit = 1 << 22

// maxLockFileSize bounds what ctl reads of a lock file.
const maxLockFileSize = 4096

// parseLockInfo reads a lock file's contents; what it does not understand
// keeps the defaults.
func parseLockInfo(b []byte) lockInfo {
	info := lockInfo{ReloadSignal: unix.SIGHUP, RestartSignal: unix.SIGUSR2}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "pid":
			if pid, err := parsePid([]byte(v)); err == nil {
				info.Pid = pid
			}
		case "pid-ns":
			info.PidNS, _ = strconv.ParseUint(v, 10, 64)
		case "start-time":
			info.StartTime, _ = strconv.ParseUint(v, 10, 64)
		case "reload-signal":
			if s, err := forward.Parse(v); err == nil && forward.Forwardable(s) {
				info.ReloadSignal = s
			}
		case "restart-signal":
			if s, err := forward.Parse(v); err == nil && forward.Forwardable(s) {
				info.RestartSignal = s
			}
		}
	}
	return info
}

// isPidone reports whether pid runs pidone: its /proc/PID/exe is the same
// file as ours, or (after an upgrade replaced the binary) has the same
// name. It returns what pid runs, for messages.
func isPidone(pid int) (bool, string) {
	link := fmt.Sprintf("/proc/%d/exe", pid)
	exe, err := os.Readlink(link)
	if err != nil {
		return false, fmt.Sprintf("unknown (%v)", err)
	}
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return false, exe
	}
	a, err1 := os.Stat(link)
	b, err2 := os.Stat("/proc/self/exe")
	if err1 == nil && err2 == nil && os.SameFile(a, b) {
		return true, exe
	}
	base := func(s string) string { return filepath.Base(strings.TrimSuffix(s, " (deleted)")) }
	return base(exe) == base(self), exe
}

// selfIdentity is our PID namespace (the inode of /proc/self/ns/pid) and
// start time; 0 for what /proc does not tell (not mounted).
func selfIdentity() (pidNS, start uint64) {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/pid", &st) == nil {
		pidNS = st.Ino
	}
	start, _ = startTimeOf("self")
	return pidNS, start
}

// startTimeOf reads the start time of /proc/PID (a pid, or "self"): field
// 22 of its stat file, in clock ticks after boot (proc(5)). The command
// name (field 2) may hold blanks and parentheses, so fields are counted
// after its last ')'.
func startTimeOf(pid string) (uint64, error) {
	path := "/proc/" + pid + "/stat"
	b, err := safefile.ReadRegular(path, 4096, unix.O_NOFOLLOW)
	if err != nil {
		return 0, err
	}
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, fmt.Errorf("%s: no ')' after the command name", path)
	}
	f := strings.Fields(string(b[end+1:])) // f[0] is field 3
	if len(f) < 20 {
		return 0, fmt.Errorf("%s: %d fields", path, len(f)+2)
	}
	return strconv.ParseUint(f[22-3], 10, 64)
}

// effectiveUidOf reads the effective uid of /proc/PID (its status file's
// Uid line: real, effective, saved, filesystem).
func effectiveUidOf(pid int) (int, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	b, err := safefile.ReadRegular(path, 64<<10, unix.O_NOFOLLOW)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "Uid:" {
			return strconv.Atoi(f[2])
		}
	}
	return 0, fmt.Errorf("%s: no Uid line", path)
}

// maxProcLocks bounds what is read of /proc/locks: about 60 bytes a lock.
const maxProcLocks = 8 << 20

// holdersOf lists the pids that hold a flock on the file at path, as
// /proc/locks says: those of our PID namespace only (Linux 4.14 filters the
// rest out; an older kernel shows them as 0, which is left out too).
func holdersOf(path string) []int {
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil {
		return nil
	}
	fd, pst, err := safefile.Open(unix.AT_FDCWD, "/proc/locks", 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	b, err := safefile.ReadOpened(fd, pst, "/proc/locks", maxProcLocks)
	if err != nil {
		return nil
	}
	return lockHolders(b, st.Ino)
}

// lockHolders parses /proc/locks (proc(5)) for the pids holding a FLOCK
// lock on inode ino: "1: FLOCK  ADVISORY  WRITE 9500 fe:00:9979726 0 EOF".
// Lines of waiters ("1: -> FLOCK ...") hold nothing. Only the inode is
// compared: on overlayfs, stat(2) and /proc/locks may name different
// devices for one file.
func lockHolders(b []byte, ino uint64) []int {
	var pids []int
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "FLOCK" {
			continue
		}
		dev := strings.Split(f[5], ":")
		n, err1 := strconv.ParseUint(dev[len(dev)-1], 10, 64)
		pid, err2 := strconv.Atoi(f[4])
		if err1 == nil && err2 == nil && n == ino && pid > 0 && !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

//go:build linux && s390x

package spawn

import "golang.org/x/sys/unix"

const (
	sysSetgroups = unix.SYS_SETGROUPS
	sysSetgid    = unix.SYS_SETGID
	sysSetuid    = unix.SYS_SETUID
	fcntlSyscall = unix.SYS_FCNTL
	// s390x's clone(2) takes the stack first, then the flags.
	cloneStackFirst = true
)

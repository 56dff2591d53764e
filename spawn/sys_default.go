//go:build linux && !386 && !arm && !s390x

package spawn

import "golang.org/x/sys/unix"

const (
	sysSetgroups = unix.SYS_SETGROUPS
	sysSetgid    = unix.SYS_SETGID
	sysSetuid    = unix.SYS_SETUID
	fcntlSyscall = unix.SYS_FCNTL
	// cloneStackFirst: clone(2) takes the stack before the flags.
	cloneStackFirst = false
)

//go:build linux && (mips || mipsle || mips64 || mips64le)

package spawn

import "golang.org/x/sys/unix"

const (
	sysSetgroups    = unix.SYS_SETGROUPS
	sysSetgid       = unix.SYS_SETGID
	sysSetuid       = unix.SYS_SETUID
	fcntlSyscall    = unix.SYS_FCNTL
	cloneStackFirst = false
)

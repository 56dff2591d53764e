//go:build linux && (386 || arm)

package spawn

import "golang.org/x/sys/unix"

// The 32-bit-id system calls; the plain ones take 16-bit ids.
const (
	sysSetgroups    = unix.SYS_SETGROUPS32
	sysSetgid       = unix.SYS_SETGID32
	sysSetuid       = unix.SYS_SETUID32
	fcntlSyscall    = unix.SYS_FCNTL64
	cloneStackFirst = false
)

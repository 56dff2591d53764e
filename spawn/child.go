package spawn

import (
	"syscall"
	"unsafe"

	"github.com/pidone/pidone/internal/sigsys"
	"golang.org/x/sys/unix"
)

// cloneArgs is the kernel's struct clone_args (clone3(2)).
type cloneArgs struct {
	flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls uint64
}

// useClone3 is cleared once the kernel (or a seccomp filter, as Docker's
// default one) answers clone3 with ENOSYS.
var useClone3 = true

// forkExec forks and, in the child, sets up and execs p. In the parent it
// returns the child's pid and pidfd (-1 without CLONE_PIDFD) or the fork's
// errno; the child never returns.
//
// After the fork the child is a copy of this one thread, with a copy of
// pidone's memory: it runs only this function, which must not grow the
// stack, allocate, or call anything that may (nosplit, raw system calls),
// as syscall.forkAndExecInChild1. Every signal is blocked across the fork,
// so no handler of the runtime runs in the child; the child sets the
// dispositions and the mask it must exec with as its last steps.
//
//go:noinline
//go:norace
//go:nocheckptr
//go:nosplit
func forkExec(p *plan) (pid uintptr, pidfd int32, errno unix.Errno) {
	// Its locals live in p, so that the child's frames stay small enough
	// for nosplit code.
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&p.all)), uintptr(unsafe.Pointer(&p.old)), sigsys.SetSize, 0, 0)
	p.pidfd = -1
	var r uintptr
	var e syscall.Errno
	if useClone3 {
		p.clone = cloneArgs{flags: unix.CLONE_PIDFD, pidfd: uint64(uintptr(unsafe.Pointer(&p.pidfd))), exitSignal: uint64(unix.SIGCHLD)}
		r, _, e = syscall.RawSyscall6(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&p.clone)), unsafe.Sizeof(p.clone), 0, 0, 0, 0)
		if e == unix.ENOSYS {
			useClone3 = false
		}
	}
	if !useClone3 {
		// clone(flags, stack, parent_tid, ...): CLONE_PIDFD puts the
		// pidfd where parent_tid points. s390x swaps the first two.
		flags, stack := uintptr(unix.CLONE_PIDFD|unix.SIGCHLD), uintptr(0)
		if cloneStackFirst {
			flags, stack = stack, flags
		}
		r, _, e = syscall.RawSyscall6(unix.SYS_CLONE, flags, stack, uintptr(unsafe.Pointer(&p.pidfd)), 0, 0, 0)
		if e == unix.EINVAL {
			// Before Linux 5.2: no pidfd.
			flags &^= unix.CLONE_PIDFD
			if cloneStackFirst {
				stack &^= unix.CLONE_PIDFD
			}
			p.pidfd = -1
			r, _, e = syscall.RawSyscall6(unix.SYS_CLONE, flags, stack, 0, 0, 0, 0)
		}
	}
	if e != 0 || r != 0 {
		// The parent: its own mask back.
		syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&p.old)), 0, sigsys.SetSize, 0, 0)
		return r, p.pidfd, unix.Errno(e)
	}
	child(p)
	return 0, 0, 0 // not reached
}

// child is the child's side of forkExec, in the order the steps are listed
// in spawn.go. A failure is written to p.pipe and ends the child.
//
//go:noinline
//go:norace
//go:nocheckptr
//go:nosplit
func child(p *plan) {
	var e syscall.Errno
	pipe := p.pipe
	next := uintptr(p.nextFD)

	// Descriptors. First move the report pipe and every source that a
	// later dup onto a lower number would overwrite above them all...
	if p.files != nil {
		if pipe < len(p.files) {
			if _, _, e = syscall.RawSyscall6(unix.SYS_DUP3, uintptr(pipe), next, unix.O_CLOEXEC, 0, 0, 0); e != 0 {
				fail(pipe, StepFiles, e)
			}
			pipe = int(next)
			next++
		}
		for i, fd := range p.files {
			if fd >= 0 && fd < i {
				if _, _, e = syscall.RawSyscall6(unix.SYS_DUP3, uintptr(fd), next, unix.O_CLOEXEC, 0, 0, 0); e != 0 {
					fail(pipe, StepFiles, e)
				}
				p.files[i] = int(next)
				next++
			}
		}
		// ...then put each in place, without close-on-exec.
		for i, fd := range p.files {
			switch {
			case fd < 0:
				syscall.RawSyscall6(unix.SYS_CLOSE, uintptr(i), 0, 0, 0, 0, 0)
			case fd == i:
				_, _, e = syscall.RawSyscall6(fcntlSyscall, uintptr(i), unix.F_SETFD, 0, 0, 0, 0)
			default:
				_, _, e = syscall.RawSyscall6(unix.SYS_DUP3, uintptr(fd), uintptr(i), 0, 0, 0, 0)
			}
			if e != 0 {
				fail(pipe, StepFiles, e)
			}
		}
	}

	// Session or process group.
	if p.setsid {
		if _, _, e = syscall.RawSyscall6(unix.SYS_SETSID, 0, 0, 0, 0, 0, 0); e != 0 {
			fail(pipe, StepSession, e)
		}
	} else if p.setpgid {
		if _, _, e = syscall.RawSyscall6(unix.SYS_SETPGID, 0, 0, 0, 0, 0, 0); e != 0 {
			fail(pipe, StepSession, e)
		}
	}
	// Controlling terminal, and the terminal's foreground. tcsetpgrp
	// from a background group raises SIGTTOU, which is blocked here and
	// so lets the call through.
	if p.setctty {
		if _, _, e = syscall.RawSyscall6(unix.SYS_IOCTL, 0, unix.TIOCSCTTY, 1, 0, 0, 0); e != 0 {
			fail(pipe, StepTerminal, e)
		}
	}
	if p.foreground {
		self, _, _ := syscall.RawSyscall6(unix.SYS_GETPID, 0, 0, 0, 0, 0, 0)
		pgrp := int32(self)
		if _, _, e = syscall.RawSyscall6(unix.SYS_IOCTL, 0, unix.TIOCSPGRP, uintptr(unsafe.Pointer(&pgrp)), 0, 0, 0); e != 0 {
			fail(pipe, StepForeground, e)
		}
	}
	// Resource limits, before the credentials: raising a hard limit
	// needs CAP_SYS_RESOURCE, which setuid drops.
	for i := range p.rlimits {
		rl := &p.rlimits[i]
		if _, _, e = syscall.RawSyscall6(unix.SYS_PRLIMIT64, 0, uintptr(rl.resource), uintptr(unsafe.Pointer(&rl.limit)), 0, 0, 0); e != 0 {
			fail(pipe, StepRlimit, e)
		}
	}
	if p.umask >= 0 {
		syscall.RawSyscall6(unix.SYS_UMASK, uintptr(p.umask), 0, 0, 0, 0, 0)
	}
	// Credentials: groups, then gid, then uid (after which the others
	// can no longer be changed), each only if it changes anything
	// (credentialSteps). The child has one thread, so the raw calls
	// change the whole process.
	if p.setGroups {
		var list uintptr
		if len(p.groups) > 0 {
			list = uintptr(unsafe.Pointer(&p.groups[0]))
		}
		if _, _, e = syscall.RawSyscall6(sysSetgroups, uintptr(len(p.groups)), list, 0, 0, 0, 0); e != 0 {
			fail(pipe, StepGroups, e)
		}
	}
	if p.setGID {
		if _, _, e = syscall.RawSyscall6(sysSetgid, p.gid, 0, 0, 0, 0, 0); e != 0 {
			fail(pipe, StepGID, e)
		}
	}
	if p.setUID {
		if _, _, e = syscall.RawSyscall6(sysSetuid, p.uid, 0, 0, 0, 0, 0); e != 0 {
			fail(pipe, StepUID, e)
		}
	}
	if p.dir != nil {
		if _, _, e = syscall.RawSyscall6(unix.SYS_CHDIR, uintptr(unsafe.Pointer(p.dir)), 0, 0, 0, 0, 0); e != 0 {
			fail(pipe, StepDir, e)
		}
	}
	if p.noNewPrivs {
		if _, _, e = syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
			fail(pipe, StepNoNewPrivs, e)
		}
	}
	if p.pdeathsig != 0 {
		if _, _, e = syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, p.pdeathsig, 0, 0, 0, 0); e != 0 {
			fail(pipe, StepPdeathsig, e)
		}
		// pidone may have died before the call: then the kernel will
		// never send it, so send it now (it stays pending until exec).
		if ppid, _, _ := syscall.RawSyscall6(unix.SYS_GETPPID, 0, 0, 0, 0, 0, 0); ppid != p.parent {
			self, _, _ := syscall.RawSyscall6(unix.SYS_GETPID, 0, 0, 0, 0, 0, 0)
			syscall.RawSyscall6(unix.SYS_KILL, self, p.pdeathsig, 0, 0, 0, 0)
		}
	}
	if p.listenPIDDigits != nil {
		self, _, _ := syscall.RawSyscall6(unix.SYS_GETPID, 0, 0, 0, 0, 0, 0)
		writeDecimal(p.listenPIDDigits, self)
	}
	// Dispositions: SIG_IGN where the child must inherit it, SIG_DFL
	// where pidone may have SIG_IGN; exec turns the runtime's handlers
	// into SIG_DFL.
	act := &p.act
	for sig := uintptr(1); sig <= 64; sig++ {
		if sig == uintptr(unix.SIGKILL) || sig == uintptr(unix.SIGSTOP) || p.reset&(1<<(sig-1)) == 0 {
			continue
		}
		act[sigsys.HandlerWord] = sigsys.SigDFL
		if p.ignored&(1<<(sig-1)) != 0 {
			act[sigsys.HandlerWord] = sigsys.SigIGN
		}
		if _, _, e = syscall.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(act)), 0, sigsys.SetSize, 0, 0); e != 0 {
			fail(pipe, StepSignals, e)
		}
	}
	// The mask last: from here on a signal may be delivered, with the
	// dispositions the program will start with.
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&p.mask)), 0, sigsys.SetSize, 0, 0)

	// execvp(3): each candidate in turn; a file the kernel cannot run by
	// itself goes to /bin/sh; EACCES anywhere wins over ENOENT.
	denied := false
	e = unix.ENOENT
	for _, path := range p.paths {
		_, _, e = syscall.RawSyscall6(unix.SYS_EXECVE, uintptr(unsafe.Pointer(path)), p.argvPtr, p.envPtr, 0, 0, 0)
		if e == unix.ENOEXEC {
			*p.shScript = path
			_, _, e = syscall.RawSyscall6(unix.SYS_EXECVE, uintptr(unsafe.Pointer(p.shPath)), p.shArgvPtr, p.envPtr, 0, 0, 0)
		}
		switch e {
		case unix.EACCES:
			denied = true
			continue
		case unix.ENOENT, unix.ENOTDIR, unix.ESTALE, unix.ENODEV, unix.ETIMEDOUT:
			continue
		}
		break
	}
	if denied && (e == unix.ENOENT || e == unix.ENOTDIR || e == unix.ESTALE || e == unix.ENODEV || e == unix.ETIMEDOUT) {
		e = unix.EACCES
	}
	fail(pipe, StepExec, e)
}

// fail reports step and errno to the parent and ends the child.
//
//go:nosplit
//go:norace
func fail(pipe int, step Step, e syscall.Errno) {
	report := [2]uint32{uint32(step), uint32(e)}
	syscall.RawSyscall6(unix.SYS_WRITE, uintptr(pipe), uintptr(unsafe.Pointer(&report)), unsafe.Sizeof(report), 0, 0, 0)
	for {
		syscall.RawSyscall6(unix.SYS_EXIT_GROUP, 127, 0, 0, 0, 0, 0)
	}
}

// writeDecimal writes n and a NUL at buf, which has room for 21 bytes.
// Pointer arithmetic rather than a slice: a bounds check could call the
// runtime's panic code, which nosplit code must not reach.
//
//go:nosplit
//go:nocheckptr
func writeDecimal(buf unsafe.Pointer, n uintptr) {
	width := uintptr(1)
	for m := n / 10; m > 0; m /= 10 {
		width++
	}
	*(*byte)(unsafe.Add(buf, width)) = 0
	for i := width; i > 0; i-- {
		*(*byte)(unsafe.Add(buf, i-1)) = byte('0' + n%10)
		n /= 10
	}
}

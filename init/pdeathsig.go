package supervisor

import (
	"os"

	"golang.org/x/sys/unix"
)

// SetParentDeathSignal asks the kernel to send sig to pidone when its parent
// dies; like any other signal it is then forwarded to the child.
//
// The setting belongs to the calling thread (PR_SET_PDEATHSIG), so call it
// from the main thread. If the parent died before the call, the kernel will
// never send the signal, so it is raised here instead.
func SetParentDeathSignal(sig unix.Signal) error {
	parent := os.Getppid()
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(sig), 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl(PR_SET_PDEATHSIG)", err)
	}
	if os.Getppid() != parent {
		return unix.Kill(os.Getpid(), sig)
	}
	return nil
}

//go:build amd64 || arm64

package reap

import (
	"os"
	"unsafe"

	"github.com/pidone/pidone/internal/sigsys"
	"golang.org/x/sys/unix"
)

// The reaper needs SIGCHLD only while pidone has no children at all: then
// nothing else can wake it when an adopted process (a `docker exec` whose
// runtime went away) dies. While it has children it sleeps in wait4, which
// the kernel wakes for every exit and stop whatever SIGCHLD's disposition.
//
// Every Go program has the runtime's handler on SIGCHLD, so each child's
// exit would otherwise interrupt some thread, run the handler and wake the
// thread parked in os/signal: during an orphan storm that is most of the
// reaper's cost (docs/performance.md, change 1). So while there are children,
// SIGCHLD is at SIG_DFL, whose action is to ignore: the kernel discards it
// when it is sent. SIG_DFL, never SIG_IGN, which would make the kernel reap
// children itself and lose their exit statuses.
//
// The runtime is not told: its own record of SIGCHLD (handled, and wanted by
// os/signal for r.wake) stays as it was, and the handler put back before the
// reaper parks is the very one it installed.

// kernelSigaction is the kernel's struct sigaction on amd64 and arm64 (the
// architectures pidone is released for; elsewhere sigchld_other.go keeps the
// handler in place): handler, flags, restorer, mask.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// sigchldSwitch moves SIGCHLD between the runtime's handler and SIG_DFL.
// Only the reaper's loop uses it.
type sigchldSwitch struct {
	runtimeHandler kernelSigaction
}

// newSigchldSwitch records the runtime's handler. Call it after
// signal.Notify(SIGCHLD), while the handler is in place.
func newSigchldSwitch() *sigchldSwitch {
	s := &sigchldSwitch{}
	s.set(nil, &s.runtimeHandler)
	return s
}

// quiet stops SIGCHLD from being delivered: call it only while wait4 is the
// one thing waiting for children.
func (s *sigchldSwitch) quiet() {
	s.set(&kernelSigaction{handler: 0 /* SIG_DFL */}, nil)
}

// listen puts the runtime's handler back, so that SIGCHLD reaches r.wake.
// A child that exited while SIGCHLD was quiet has sent nothing: the caller
// must look for children again after listen, before it sleeps.
func (s *sigchldSwitch) listen() {
	s.set(&s.runtimeHandler, nil)
}

func (s *sigchldSwitch) set(act, old *kernelSigaction) {
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGCHLD),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), sigsys.SetSize, 0, 0)
	if errno != 0 {
		// rt_sigaction fails only on bad arguments, and these are fixed.
		panic(os.NewSyscallError("rt_sigaction SIGCHLD", errno))
	}
}

package entry

import (
	"runtime"

	"github.com/pidone/pidone/internal/sigsys"
	"golang.org/x/sys/unix"
)

// lockedWithMask runs f on a locked thread that blocks exactly mask, and
// leaves the thread's mask as it was. The thread is never unlocked, so the runtime
// retires it rather than reuse a thread with a changed mask.
func lockedWithMask(mask uint64, f func()) {
	runtime.LockOSThread()
	set := sigsys.Sigset(mask)
	var old unix.Sigset_t
	unix.PthreadSigmask(unix.SIG_SETMASK, &set, &old)
	f()
	unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
}

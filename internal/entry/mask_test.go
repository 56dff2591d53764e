package entry

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sigsetWord reads signals 1-64 out of a kernel sigset, whose words are 32
// bits wide on some architectures.
func sigsetWord(s unix.Sigset_t) uint64 {
	return *(*uint64)(unsafe.Pointer(&s.Val[0]))
}

func setFromWord(w uint64) unix.Sigset_t {
	var s unix.Sigset_t
	*(*uint64)(unsafe.Pointer(&s.Val[0])) = w
	return s
}

// lockedWithMask runs f on a locked thread that blocks exactly mask, and
// leaves the thread's mask as it was. The thread is never unlocked, so the runtime
// retires it rather than reuse a thread with a changed mask.
func lockedWithMask(mask uint64, f func()) {
	runtime.LockOSThread()
	set := setFromWord(mask)
	var old unix.Sigset_t
	unix.PthreadSigmask(unix.SIG_SETMASK, &set, &old)
	f()
	unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
}

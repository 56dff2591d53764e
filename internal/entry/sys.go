package entry

import (
	"unsafe"

	"github.com/pidone/pidone/internal/sigsys"
	"golang.org/x/sys/unix"
)

// handler returns the handler word of sig's current disposition.
func handler(sig unix.Signal) uint64 {
	var act [8]uintptr // larger than any struct sigaction
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&act)), sigsys.SetSize, 0, 0)
	return uint64(act[handlerWord])
}

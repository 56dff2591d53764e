//go:build mips || mipsle || mips64 || mips64le

package sigsys

// SetSize is the size in bytes of the kernel's sigset_t: MIPS has 128
// signals (_NSIG/8).
const SetSize = 16

// HandlerWord is the index of sa_handler in the kernel's struct sigaction,
// read as words: MIPS puts sa_flags first.
const HandlerWord = 1

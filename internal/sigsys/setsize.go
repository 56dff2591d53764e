//go:build !(mips || mipsle || mips64 || mips64le)

package sigsys

// SetSize is the size in bytes of the kernel's sigset_t (_NSIG/8: 64
// signals), which every rt_sig* system call takes as its last argument.
const SetSize = 8

// HandlerWord is the index of sa_handler in the kernel's struct sigaction,
// read as words.
const HandlerWord = 0

//go:build mips || mipsle || mips64 || mips64le

package sigsys

// SetSize is the size in bytes of the kernel's sigset_t: MIPS has 128
// signals (_NSIG/8).
const SetSize = 16

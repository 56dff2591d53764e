//go:build mips || mipsle || mips64 || mips64le

package entry

// MIPS puts sa_flags before sa_handler.
const handlerWord = 1

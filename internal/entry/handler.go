//go:build !(mips || mipsle || mips64 || mips64le)

package entry

const handlerWord = 0

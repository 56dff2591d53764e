//go:build amd64 || arm64

package entry

// rt0 is the ELF entry point, in entry_GOARCH.s. Nothing calls it: the
// linker's -E flag makes it the first code the process runs.
func rt0()

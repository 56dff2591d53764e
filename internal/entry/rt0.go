//go:build amd64 || arm64

package entry

// rt0 is the ELF entry point, in entry_GOARCH.s. Nothing calls it: the
// linker's -E flag makes it the first code the process runs.
func rt0()

// earlyHandler and earlyRestorer are the signal handler rt0 installs for
// the few signals the runtime unblocks, and its return path (entry_GOARCH.s).
func earlyHandler()
func earlyRestorer()

// markWanted is where rt0 ends: it marks WantedEarly in the runtime's
// state when built with the pidone_sigwanted tag (wanted_on_GOARCH.s),
// and jumps to the runtime's entry.
func markWanted()

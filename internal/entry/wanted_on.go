//go:build pidone_sigwanted && (amd64 || arm64)

package entry

// runtimeWanted returns the runtime's sig.wanted[0] (bit sig), for
// wanted_test.go.
func runtimeWanted() uint32

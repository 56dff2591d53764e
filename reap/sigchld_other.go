//go:build !amd64 && !arm64

package reap

// sigchldSwitch keeps the runtime's SIGCHLD handler in place on
// architectures whose struct sigaction sigchld.go does not describe:
// correct, at the cost of one handled signal per child exit.
type sigchldSwitch struct{}

func newSigchldSwitch() *sigchldSwitch { return &sigchldSwitch{} }
func (*sigchldSwitch) quiet()          {}
func (*sigchldSwitch) listen()         {}

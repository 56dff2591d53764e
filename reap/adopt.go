package reap

import (
	"os"

	"golang.org/x/sys/unix"
)

// AdoptOrphans makes pidone the one that orphans of its subtree are
// re-parented to. As PID 1 of a namespace it already is. Below another init
// (a shell, `docker run --init`, a sidecar in a shared PID namespace) it
// becomes a child subreaper (PR_SET_CHILD_SUBREAPER); without that, orphans
// would go past it to the init above.
//
// A refusal (seen under qemu-user, which does not emulate this prctl) is
// not fatal: the command still runs and its own children are still reaped,
// so callers warn and carry on, as tini does.
func AdoptOrphans() error {
	if os.Getpid() == 1 {
		return nil
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return os.NewSyscallError("prctl(PR_SET_CHILD_SUBREAPER)", err)
	}
	return nil
}

module github.com/pidone/pidone

go 1.26.0

require (
	github.com/containerd/console v1.0.5
	github.com/opencontainers/runtime-spec v1.3.0
	golang.org/x/sys v0.49.0
)

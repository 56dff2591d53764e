module github.com/pidone/pidone

go 1.26.0

require golang.org/x/sys v0.49.0

require github.com/opencontainers/runtime-spec v1.3.0

module github.com/pidone/pidone/examples/e2e

go 1.26.0

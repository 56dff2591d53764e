# make bench: pidone side by side with tini, dumb-init and catatonit, each as
# PID 1 of a fresh PID namespace (issue 6). Not part of `make test`: it takes
# minutes and its figures depend on the machine. See docs/performance.md.
#
#   make bench                      full run, about 4-5 minutes
#   make bench BENCH_QUICK=1        smoke run, about 1-2 minutes
#   make bench BENCH_ONLY=latency,startup   rerun some metric groups
#   make bench PIDONE_BIN=/tmp/exp/bin/pidone   measure another pidone build
#   make bench BENCH_VARIANTS="new=/tmp/exp/bin/pidone"   before/after in one
#                                   interleaved run (pidone vs pidone-new)
#
# Results: $(BENCH_OUT)/results.{md,json,png}, run.log, logs/*.stderr.

BENCH_OUT    ?= $(BIN)/bench
BENCHKID     := $(BIN)/benchkid
PIDBENCH     := $(BIN)/pidbench
PIDONE_BIN   ?= $(abspath $(PIDONE))
BENCH_PEERS  := tini dumb-init catatonit
BENCH_SRC    := $(shell find bench -name '*.go' 2>/dev/null) bench/go.mod bench/go.sum

TESTS += bench-vet
.PHONY: bench bench-peers bench-wrk bench-vet

bench: bench-peers bench-wrk $(PIDONE) $(WORKLOAD) $(BENCHKID) $(PIDBENCH)
	$(PIDBENCH) -pidone $(PIDONE_BIN) -workload $(WORKLOAD) -benchkid $(BENCHKID) -out $(BENCH_OUT) \
		$(if $(filter 1,$(BENCH_QUICK)),-quick) $(if $(BENCH_ONLY),-only $(BENCH_ONLY)) \
		$(foreach v,$(BENCH_VARIANTS),-variant $(v))

# The peers come from Debian; apt-get update only when the first try fails.
bench-peers:
	@missing=; for p in $(BENCH_PEERS); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian package$$missing: the peers make bench compares pidone with"; \
		apt-get install -y -q $$missing || { apt-get update -q && apt-get install -y -q $$missing; }; \
	fi

# wrk (Debian) loads the workers' shared sockets across replace reloads
# (pidbench's listen group, docs/workers.md).
bench-wrk:
	@command -v wrk >/dev/null || $(call apt_install,wrk,to load the workers' shared sockets (make bench))

# bench/ is its own module (it needs golang.org/x/image for the chart, which
# pidone must not link), so the root `go vet ./...` does not see it.
$(BENCHKID): $(BENCH_SRC)
	cd bench && $(GOBUILD) -o $(abspath $@) ./cmd/benchkid

$(PIDBENCH): $(BENCH_SRC)
	cd bench && $(GO) build -o $(abspath $@) ./cmd/pidbench

# Cheap enough for `make test`: formatting, vet and the harness's unit tests
# (statistics and table logic; nothing timed).
bench-vet:
	@test -z "$$(gofmt -l bench)" || { gofmt -l bench >&2; echo "gofmt needed in bench/" >&2; exit 1; }
	cd bench && $(GO) vet ./... && $(GO) test -count=1 $(GOTESTFLAGS) ./...

# pidone build, demo and test entry points. `make help` lists them.
SHELL      := /bin/bash
GO         ?= go
# The version (semver, from the file VERSION, with the commit as build
# metadata unless the tree is exactly that release) and the commit: see
# mk/version.sh. `make VERSION=...` still overrides it.
VERSION    := $(shell mk/version.sh)
COMMIT     := $(shell mk/version.sh --commit)
ifeq ($(VERSION),)
$(error mk/version.sh gave no version; see its message above)
endif
# asyncpreemptoff=1: the runtime must never send itself SIGURG, which pidone
# would forward (see main.go). Not a //go:debug key, hence the link-time default.
# cli.linkedGodebug tells pidone the same (cli/preempt.go).
GODEBUG_DEFAULT := asyncpreemptoff=1
CLI_PKG    := github.com/pidone/pidone/cli
LDFLAGS    := -s -w -X $(CLI_PKG).version=$(VERSION) -X $(CLI_PKG).commit=$(COMMIT) -X runtime.godebugDefault=$(GODEBUG_DEFAULT) -X $(CLI_PKG).linkedGodebug=$(GODEBUG_DEFAULT)
GOBUILD    := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)"
# pidone's first instructions are its own (internal/entry): they record the
# signal state it inherited and block what it forwards before the Go runtime
# starts. The entry exists for amd64 and arm64; `$(call ENTRY,ARCH)` is the
# linker flag for ARCH, empty elsewhere (pidone then falls back, see
# docs/personalities.md). With the tag pidone_sigwanted the entry also
# marks, in the runtime's private state, the signals pidone registers with
# os/signal as wanted before the runtime runs (issue 19; entry.WantedEarly),
# which the linker allows only with -checklinkname=0.
ENTRY_SYM   := github.com/pidone/pidone/internal/entry.rt0
ENTRY_ARCHS := amd64 arm64
ENTRY       = $(if $(filter $(ENTRY_ARCHS),$(1)),-E=$(ENTRY_SYM) -checklinkname=0)
ENTRY_TAGS  := -tags pidone_sigwanted
GOARCH_HOST := $(shell $(GO) env GOARCH)
GOBUILD_PIDONE = CGO_ENABLED=0 $(GO) build -trimpath $(ENTRY_TAGS) -ldflags "$(LDFLAGS) $(call ENTRY,$(1))"
BIN        := bin
PIDONE     := $(BIN)/pidone
# The same program linked without the entry point, as `go build` or `go
# install` would make it: the e2e tier checks its fallback.
PIDONE_NOENTRY := $(BIN)/pidone-noentry
WORKLOAD   := $(BIN)/workload
# Without root, the PID namespace needs a user namespace that maps us to root.
UNSHARE    := unshare $(if $(filter 0,$(shell id -u)),,--user --map-root-user) --pid --fork --mount-proc

.PHONY: all build workload demo test unit e2e vet fmt clean help FORCE

# Each area (docker, bench, ...) keeps its targets in mk/NAME.mk and adds its
# test target to TESTS, so `make test` runs everything.
# A tool a target needs and the machine lacks is installed from Debian (as
# root): `$(call apt_install,PACKAGES,WHY)` first says which and why, in
# words mk/summarize shows as they come (README.md, Development, lists them).
apt_install = { echo "installing Debian package $(1): $(2)"; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null 2>&1 \
	|| { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; }; }

TESTS := vet unit e2e
# make test runs each tier in $(TESTS) through mk/summarize: one line per
# tier, the skips with their reasons, details only for a tier that failed,
# full logs in $(BIN)/TIER.log, and the total "N passed, N failed, N skipped"
# last. A tier hands $(GOTESTFLAGS) to go test (summarize sets -json; run
# alone, a tier prints what go test prints).
GOTESTFLAGS ?=
SUMMARIZE   := $(BIN)/summarize
.DEFAULT_GOAL := build
-include mk/*.mk

all: build

help:
	@echo "make build     static binary at $(PIDONE)"
	@echo "make demo      run pidone as PID 1 of a new PID namespace over a zombie-making workload"
	@echo "make check     the quick tier after each change: both builds, vet, unit tests, one e2e smoke per mode (prints its time)"
	@echo "make test      every tier, one summary line each (vet, unit, e2e, docker-test, ...; logs in $(BIN)/TIER.log)"
	@echo "make image     the FROM-scratch image pidone:dev"
	@echo "make release   dist/pidone-VERSION-linux-{amd64,arm64}, SHA256SUMS, LICENSE, pidone.1   make image-release  one image per arch"
	@echo "make bench     pidone side by side with tini, dumb-init and catatonit"
	@echo "make install   pidone and its man page under PREFIX; LINKS=peers adds the tini, docker-init, dumb-init, catatonit links"
	@echo "version        $(VERSION)"

build: $(PIDONE)

# Always handed to go build: its cache makes an unchanged tree cheap, and the
# version stamped in the binary then always names the tree it came from.
$(PIDONE): FORCE
	$(call GOBUILD_PIDONE,$(GOARCH_HOST)) -o $@ .
	@command -v file >/dev/null || $(call apt_install,file,to check that $@ is statically linked)
	@file $@ | grep -q 'statically linked' || { echo "$@ is not statically linked" >&2; exit 1; }

workload: $(WORKLOAD)

$(WORKLOAD): FORCE
	$(GOBUILD) -o $@ ./test/e2e/workload

demo: $(PIDONE) $(WORKLOAD)
	@echo "# $(UNSHARE) $(PIDONE) -w -- $(WORKLOAD) demo"
	@$(UNSHARE) $(PIDONE) -w -- $(WORKLOAD) demo; echo "# pidone exited with status $$?"

test: $(SUMMARIZE)
	@$(SUMMARIZE) -log-dir $(BIN) -make "$(MAKE)" $(TESTS)

$(SUMMARIZE): FORCE
	@$(GO) build -o $@ ./mk/summarize

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l . >&2; echo "gofmt needed" >&2; exit 1; }
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 $(GOTESTFLAGS) $$($(GO) list ./... | grep -v /test/) ./test/internal/...
	PIDONE_TEST_ENTRY=1 $(GO) test -race -count=1 $(GOTESTFLAGS) $(ENTRY_TAGS) -ldflags="$(call ENTRY,$(GOARCH_HOST))" ./internal/entry

$(PIDONE_NOENTRY): FORCE
	$(GOBUILD) -o $@ .

e2e: $(PIDONE) $(PIDONE_NOENTRY) $(WORKLOAD)
	PIDONE_BIN=$(abspath $(PIDONE)) PIDONE_NOENTRY_BIN=$(abspath $(PIDONE_NOENTRY)) WORKLOAD_BIN=$(abspath $(WORKLOAD)) \
		$(GO) test -count=1 -timeout 8m $(GOTESTFLAGS) ./test/e2e/

clean:
	rm -rf $(BIN) dist

FORCE:

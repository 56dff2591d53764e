# Containers: the FROM-scratch image, the Docker test tier, the Kubernetes
# examples' check, and the release binaries. See docs/containers.md.
#
#   make image            bin/pidone, then the image $(IMAGE)
#   make docker-test      the Docker tier (part of make test)
#   make k8s-examples     parse examples/kubernetes/*.yaml strictly (part of make test)
#   make release          static linux/amd64 and linux/arm64 binaries + SHA256SUMS in dist/

IMAGE         ?= pidone:dev
DOCKER        ?= docker
DOCKER_BUILD_FLAGS ?=
DOCKER_HELPER := $(BIN)/docker-helper
DIST          := dist
RELEASE_ARCHS := amd64 arm64

.PHONY: image docker-test k8s-examples release

TESTS += docker-test k8s-examples

# The version label is the one the binary reports, so the two always agree
# even when bin/pidone is older than the working tree. The image the tag
# used to name is removed if nothing else uses it, so rebuilds do not pile
# up untagged images.
image: $(PIDONE)
	@old=$$($(DOCKER) image inspect --format '{{.Id}}' $(IMAGE) 2>/dev/null); \
	$(DOCKER) build $(DOCKER_BUILD_FLAGS) --force-rm -t $(IMAGE) \
		--build-arg VERSION="$$($(PIDONE) --version | sed -n 's/^pidone version //p')" . || exit; \
	new=$$($(DOCKER) image inspect --format '{{.Id}}' $(IMAGE)); \
	if [ -n "$$old" ] && [ "$$old" != "$$new" ]; then $(DOCKER) rmi "$$old" >/dev/null 2>&1 || true; fi; \
	echo "image $(IMAGE): $$new"

$(DOCKER_HELPER): $(shell find test/docker/helper -name '*.go') go.mod
	$(GOBUILD) -o $@ ./test/docker/helper

# No engine: outside CI one loud line and nothing else; with CI=true a failure.
docker-test: $(PIDONE) $(WORKLOAD) $(DOCKER_HELPER)
	@if ! $(DOCKER) info >/dev/null 2>&1; then \
		if [ "$$CI" = true ]; then \
			echo "docker-test: FAILED: no Docker engine answers ('$(DOCKER) info' failed) and CI=true requires one" >&2; exit 1; \
		fi; \
		echo "##### docker-test SKIPPED: no Docker engine answers ('$(DOCKER) info' failed); the Docker tier did NOT run #####" >&2; \
		exit 0; \
	fi; \
	$(MAKE) --no-print-directory image DOCKER_BUILD_FLAGS=-q && \
	PIDONE_IMAGE=$(IMAGE) WORKLOAD_BIN=$(abspath $(WORKLOAD)) HELPER_BIN=$(abspath $(DOCKER_HELPER)) \
		$(GO) test -count=1 -timeout 6m -parallel 4 -v ./test/docker/ 2>&1 | tee $(BIN)/docker-test.log \
		| grep -E '^(=== RUN|\s*--- |PASS|FAIL|ok|panic|\s+\S+_test.go)' ; exit $${PIPESTATUS[0]}

# A nested module (examples/kubernetes/go.mod) so the YAML parser never
# enters the main module's dependencies.
k8s-examples:
	cd examples/kubernetes && $(GO) test -count=1 ./...

# Same flags as $(PIDONE), including asyncpreemptoff=1 (see main.go): the
# binaries must carry that default, or pidone forwards the runtime's own
# SIGURGs. Always rebuilt (Go's cache makes that cheap), so the version
# stamped in them is the tree's.
release:
	@mkdir -p $(DIST)
	@set -e; for arch in $(RELEASE_ARCHS); do \
		out=$(DIST)/pidone-linux-$$arch; \
		echo 'GOOS=linux GOARCH='$$arch' $(GOBUILD) -o '$$out' .'; \
		entry=; case " $(ENTRY_ARCHS) " in *" $$arch "*) entry=-E=$(ENTRY_SYM);; esac; \
		GOOS=linux GOARCH=$$arch CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS) $$entry" -o $$out .; \
		file $$out | grep -q 'statically linked' || { echo "$$out is not statically linked" >&2; rm -f $$out; exit 1; }; \
		grep -q 'asyncpreemptoff=1' $$out || { echo "$$out lacks the asyncpreemptoff=1 default (LDFLAGS)" >&2; rm -f $$out; exit 1; }; \
	done
	cd $(DIST) && sha256sum $(foreach a,$(RELEASE_ARCHS),pidone-linux-$(a)) > SHA256SUMS
	@cat $(DIST)/SHA256SUMS
	@case "$(VERSION)" in *-dirty) echo "warning: version $(VERSION): built from a tree with uncommitted changes" >&2;; esac

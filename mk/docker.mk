# Containers: the FROM-scratch image, the Docker test tier and the
# Kubernetes examples' check. See docs/containers.md; the release images
# are in mk/release.mk.
#
#   make image            bin/pidone, then the image $(IMAGE)
#   make docker-test      the Docker tier (part of make test)
#   make k8s-examples     parse examples/kubernetes/*.yaml strictly (part of make test)
#   make e2e-example      examples/e2e's Go tests against a real container (part of make test)

IMAGE         ?= pidone:dev
DOCKER        ?= docker
DOCKER_BUILD_FLAGS ?=
DOCKER_HELPER := $(BIN)/docker-helper
# The Docker tier's own images, one tag per checkout (a hash of its absolute
# path), so two checkouts testing side by side never share pidone:dev or
# each other's images: $(TEST_IMAGE) and $(TEST_IMAGE)-ARCH for the release
# images. docker-test removes them when it ends.
TEST_IMAGE    := pidone:test-$(shell printf '%s' '$(CURDIR)' | sha256sum | cut -c1-12)
TEST_IMAGES    = $(TEST_IMAGE) $(foreach a,$(RELEASE_ARCHS),$(TEST_IMAGE)-$(a))

.PHONY: image docker-test k8s-examples e2e-example

TESTS += docker-test k8s-examples e2e-example

# $(call build_image,TAG,ARCH,BINARY,VERSION): the image TAG for linux/ARCH
# holding BINARY, labelled with VERSION and $(COMMIT). The Dockerfile's
# context is a directory of its own holding only the binary (see the
# Dockerfile for why COPY cannot take a path from an ARG). The image the tag
# used to name is removed if nothing else uses it, so rebuilds do not pile
# up untagged images.
build_image = ctx=$(BIN)/image-context/$(2) && rm -rf $$ctx && mkdir -p $$ctx && \
	install -m 0755 $(3) $$ctx/pidone && \
	old=$$($(DOCKER) image inspect --format '{{.Id}}' $(1) 2>/dev/null || true) && \
	$(DOCKER) build $(DOCKER_BUILD_FLAGS) --force-rm --platform linux/$(2) -f Dockerfile -t $(1) \
		--build-arg VERSION="$(4)" --build-arg REVISION="$(COMMIT)" $$ctx && \
	new=$$($(DOCKER) image inspect --format '{{.Id}}' $(1)) && \
	{ [ -z "$$old" ] || [ "$$old" = "$$new" ] || $(DOCKER) rmi "$$old" >/dev/null 2>&1 || true; } && \
	echo "image $(1) (linux/$(2), version $(4)): $$new"

# The version label is the one the binary reports, so the two always agree
# even when bin/pidone is older than the working tree; the platform is the
# one Go built it for.
image: $(PIDONE)
	@$(call build_image,$(IMAGE),$$($(GO) env GOARCH),$(PIDONE),$$($(PIDONE) --version | sed -n 's/^pidone version //p'))

$(DOCKER_HELPER): $(shell find test/docker/helper -name '*.go') go.mod
	$(GOBUILD) -o $@ ./test/docker/helper

# No engine: outside CI one loud line and nothing else; with CI=true a failure.
# The images are the checkout's own ($(TEST_IMAGES)), removed at the end
# whatever happened; the tests remove their containers themselves.
docker-test: $(PIDONE) $(WORKLOAD) $(DOCKER_HELPER)
	@if ! $(DOCKER) info >/dev/null 2>&1; then \
		if [ "$$CI" = true ]; then \
			echo "docker-test: FAILED: no Docker engine answers ('$(DOCKER) info' failed) and CI=true requires one" >&2; exit 1; \
		fi; \
		echo "##### docker-test SKIPPED: no Docker engine answers ('$(DOCKER) info' failed); the Docker tier did NOT run #####" >&2; \
		exit 0; \
	fi; \
	trap '$(DOCKER) rmi $(TEST_IMAGES) >/dev/null 2>&1 || true' EXIT; trap 'exit 130' INT TERM; \
	$(MAKE) --no-print-directory image IMAGE=$(TEST_IMAGE) DOCKER_BUILD_FLAGS=-q && \
	$(MAKE) --no-print-directory image-release RELEASE_IMAGE=$(TEST_IMAGE) DOCKER_BUILD_FLAGS=-q && \
	PIDONE_IMAGE=$(TEST_IMAGE) RELEASE_IMAGE=$(TEST_IMAGE) RELEASE_ARCHS="$(RELEASE_ARCHS)" \
	PIDONE_VERSION=$(VERSION) PIDONE_COMMIT=$(COMMIT) \
	PIDONE_BIN=$(abspath $(PIDONE)) WORKLOAD_BIN=$(abspath $(WORKLOAD)) HELPER_BIN=$(abspath $(DOCKER_HELPER)) \
		$(GO) test -count=1 -timeout 6m -parallel 4 $(GOTESTFLAGS) ./test/docker/

# A nested module (examples/kubernetes/go.mod) so the YAML parser never
# enters the main module's dependencies.
k8s-examples:
	cd examples/kubernetes && $(GO) test -count=1 $(GOTESTFLAGS) ./...

# examples/e2e (docs/testing.md) is a nested module of the standard library
# only, whose tests run containers of the image examples/e2e/Dockerfile
# builds over the checkout's pidone image and the workload. As for
# docker-test: no engine is one loud line outside CI and a failure with
# CI=true (the tests themselves say the same). Both images are removed at
# the end, whatever happened.
E2E_EXAMPLE_IMAGE := $(TEST_IMAGE)-e2e

e2e-example: $(PIDONE) $(WORKLOAD)
	@if ! $(DOCKER) info >/dev/null 2>&1; then \
		if [ "$$CI" = true ]; then \
			echo "e2e-example: FAILED: no Docker engine answers ('$(DOCKER) info' failed) and CI=true requires one" >&2; exit 1; \
		fi; \
		echo "##### e2e-example SKIPPED: no Docker engine answers ('$(DOCKER) info' failed); examples/e2e did NOT run #####" >&2; \
		exit 0; \
	fi; \
	trap '$(DOCKER) rmi $(E2E_EXAMPLE_IMAGE) $(TEST_IMAGE) >/dev/null 2>&1 || true' EXIT; trap 'exit 130' INT TERM; \
	$(MAKE) --no-print-directory image IMAGE=$(TEST_IMAGE) DOCKER_BUILD_FLAGS=-q && \
	ctx=$(BIN)/image-context/e2e-example && rm -rf $$ctx && mkdir -p $$ctx && install -m 0755 $(WORKLOAD) $$ctx/workload && \
	{ out=$$($(DOCKER) build -q --force-rm -f examples/e2e/Dockerfile --build-arg PIDONE_IMAGE=$(TEST_IMAGE) -t $(E2E_EXAMPLE_IMAGE) $$ctx 2>&1) || \
		{ echo "$$out" >&2; exit 1; }; } && \
	cd examples/e2e && E2E_IMAGE=$(E2E_EXAMPLE_IMAGE) $(GO) test -count=1 $(GOTESTFLAGS) ./...

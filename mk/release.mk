# Releases: versioned static binaries, their checksums, the licence and the
# man page in dist/, and one FROM-scratch image per release architecture. The version is
# mk/version.sh's (VERSION, plus +g<commit>[.dirty] when the tree is not
# exactly that release). See docs/containers.md.
#
#   make release          dist/pidone-$(VERSION)-linux-{amd64,arm64}, dist/SHA256SUMS, dist/LICENSE,
#                         dist/pidone.1
#   make image-release    the images $(RELEASE_IMAGE)-amd64 and -arm64 (linux/ARCH each)
#   make release-test     checks what make release wrote (part of make test)

DIST          := dist
RELEASE_ARCHS := amd64 arm64
RELEASE_BINS  := $(foreach a,$(RELEASE_ARCHS),pidone-$(VERSION)-linux-$(a))
# A Docker tag may not hold '+', so the build metadata's '+' becomes '_'
# there (pidone:0.1.0_g1a2b3c4.dirty-arm64); the version label keeps it.
RELEASE_IMAGE ?= pidone:$(subst +,_,$(VERSION))

.PHONY: release image-release release-test

TESTS += release-test

# Same flags as $(PIDONE), including asyncpreemptoff=1 (see main.go): the
# binaries must carry that default, or pidone forwards the runtime's own
# SIGURGs. Always rebuilt (Go's cache makes that cheap), so the version
# stamped in them is the tree's. dist/ holds one release: the binaries of
# earlier versions go.
release:
	@command -v file >/dev/null || $(call apt_install,file,to check that the release binaries are statically linked)
	@mkdir -p $(DIST) && rm -f $(DIST)/pidone-*linux-*
	@set -e; for arch in $(RELEASE_ARCHS); do \
		out=$(DIST)/pidone-$(VERSION)-linux-$$arch; \
		echo 'GOOS=linux GOARCH='$$arch' $(call GOBUILD_PIDONE,'$$arch') -o '$$out' .'; \
		entry=; case " $(ENTRY_ARCHS) " in *" $$arch "*) entry="-E=$(ENTRY_SYM) -checklinkname=0";; esac; \
		GOOS=linux GOARCH=$$arch CGO_ENABLED=0 $(GO) build -trimpath $(ENTRY_TAGS) -ldflags "$(LDFLAGS) $$entry" -o $$out .; \
		file $$out | grep -q 'statically linked' || { echo "$$out is not statically linked" >&2; rm -f $$out; exit 1; }; \
		grep -q 'asyncpreemptoff=1' $$out || { echo "$$out lacks the asyncpreemptoff=1 default (LDFLAGS)" >&2; rm -f $$out; exit 1; }; \
	done
	cp LICENSE $(DIST)/LICENSE
	cp docs/pidone.1 $(DIST)/pidone.1
	cd $(DIST) && sha256sum $(RELEASE_BINS) > SHA256SUMS
	@cat $(DIST)/SHA256SUMS
	@case "$(VERSION)" in *.dirty) echo "warning: version $(VERSION): built from a tree with uncommitted changes" >&2;; esac

# One image per architecture, each built for its own platform: the
# Dockerfile has no RUN step, so no emulation is needed.
image-release: release
	@set -e; $(foreach a,$(RELEASE_ARCHS),$(call build_image,$(RELEASE_IMAGE)-$(a),$(a),$(DIST)/pidone-$(VERSION)-linux-$(a),$(VERSION));)

# What make release wrote, checked by a test: names, checksums, ELF machine
# and linking of each binary, the version it reports, the licence and the
# man page; and how mk/version.sh names a release.
release-test: release
	DIST_DIR=$(abspath $(DIST)) PIDONE_VERSION=$(VERSION) PIDONE_COMMIT=$(COMMIT) RELEASE_ARCHS="$(RELEASE_ARCHS)" \
		$(GO) test -count=1 $(GOTESTFLAGS) ./test/release/

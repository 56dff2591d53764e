# The docs as a reader uses them (issue 12): every fenced block of README.md
# and docs/*.md built, decoded or run (test/snippets, a module of its own so
# the Kubernetes API and the TOML parser never enter pidone's
# dependencies), and the man page checked against the option table.
#
#   make docs-test     the snippet test (part of make test)
#   make man           rewrite docs/pidone.1 from the option table
#   make man-check     docs/pidone.1 is current and renders without warnings (part of make test)

.PHONY: docs-test man man-check

TESTS += docs-test man-check

# The Kubernetes examples' check runs the real pidone with each manifest's
# options (examples/kubernetes/manifest.go).
k8s-examples: $(PIDONE)

# No engine: the blocks that need Docker are skipped, one loud line each,
# and one here; with CI=true the test fails them instead. The same for
# python3 and node (the python and js blocks) and jq (the shell blocks that
# read an exit report), installed from Debian when missing, as root.
docs-test: $(PIDONE) $(WORKLOAD)
	@$(DOCKER) info >/dev/null 2>&1 || [ "$$CI" = true ] || \
		echo "##### docs-test: no Docker engine answers ('$(DOCKER) info' failed): the Dockerfile and docker blocks will be SKIPPED #####" >&2
	@command -v python3 >/dev/null || $(call apt_install,python3,to run the python blocks of the docs (docs-test)) || [ "$$CI" = true ] || \
		echo "##### docs-test: no python3 and apt-get could not install it: the python blocks will be SKIPPED #####" >&2
	@command -v node >/dev/null || $(call apt_install,nodejs,to run the js blocks of the docs (docs-test)) || [ "$$CI" = true ] || \
		echo "##### docs-test: no node and apt-get could not install nodejs: the js blocks will be SKIPPED #####" >&2
	@command -v jq >/dev/null || $(call apt_install,jq,to run the shell blocks of docs/testing.md that read the exit report (docs-test)) || [ "$$CI" = true ] || \
		echo "##### docs-test: no jq and apt-get could not install it: the blocks that use it will be SKIPPED #####" >&2
	@# Run alone, the whole -v output goes to $(BIN)/docs-test.log and the
	@# failures and skips to the screen; under make test, summarize reads go
	@# test's -json events ($(GOTESTFLAGS)) and writes that log itself.
	cd test/snippets && export PIDONE_BIN=$(abspath $(PIDONE)) WORKLOAD_BIN=$(abspath $(WORKLOAD)) && \
	if [ -n "$(strip $(GOTESTFLAGS))" ]; then \
		$(GO) test -count=1 -timeout 5m $(GOTESTFLAGS) ./...; \
	else \
		$(GO) test -count=1 -timeout 5m -v ./... 2>&1 | tee $(abspath $(BIN))/docs-test.log \
		| grep -E '^(\s*--- (FAIL|SKIP)|PASS|FAIL|ok|panic|\s+\S+_test.go|.*#####)' ; exit $${PIPESTATUS[0]}; \
	fi

# groff's -ww shows every warning; -z renders without output.
man:
	$(GO) test -count=1 -run '^TestManPage$$' ./cli -update

man-check:
	$(GO) test -count=1 -run '^TestManPage$$' ./cli
	@command -v groff >/dev/null || $(call apt_install,groff-base,to render docs/pidone.1 and check it for warnings (man-check))
	@warn=$$(groff -man -Tutf8 -ww -z docs/pidone.1 2>&1); \
		if [ -n "$$warn" ]; then echo "docs/pidone.1: groff warnings:" >&2; echo "$$warn" >&2; exit 1; fi

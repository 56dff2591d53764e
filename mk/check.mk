# make check: the quick tier a contributor runs after each change (issue
# 20), under two minutes on two cores; `make test` stays the whole suite.
# In order, stopping at the first failure:
#
#   both builds     bin/pidone (with the entry point) and bin/pidone-noentry
#   vet             gofmt and go vet, as make vet
#   unit tests      every package but test/ (test/internal included),
#                   without -race (make unit adds it), and the entry
#                   point's own test linked with it
#   e2e smoke       the real binary as PID 1 of a fresh PID namespace, a few
#                   tests per mode: a command (exit codes, exec failures,
#                   usage errors, the stop), workers, pause, the tini and
#                   docker-init personalities, and the build without the
#                   entry point ($(CHECK_E2E))
#
# The last line is "make check passed in 54.3s" (or FAILED).

.PHONY: check check-steps

CHECK_E2E := TestRemapExit|TestExecFailures|TestUsageErrors|TestStopIsImmediateWhenEverythingExits|$\
	TestWorkersStartWithTheirEnvironmentAndPidfile|TestKilledWorkerIsRespawnedAlone|$\
	TestPauseExitsZeroOnInt|TestPauseReapsAndExitsZero|$\
	TestTiniPersonality|TestDockerInitPersonality|TestBuildWithoutEntrySaysSo

check:
	@start=$$(date +%s%N); \
	if $(MAKE) --no-print-directory check-steps; then result=passed; else result=FAILED; fi; \
	ms=$$(( ($$(date +%s%N) - start) / 1000000 )); \
	printf 'make check %s in %d.%ds\n' $$result $$((ms / 1000)) $$((ms % 1000 / 100)); \
	[ $$result = passed ]

check-steps: $(PIDONE) $(PIDONE_NOENTRY) $(WORKLOAD) vet
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /test/) ./test/internal/...
	PIDONE_TEST_ENTRY=1 $(GO) test -count=1 -ldflags="$(call ENTRY,$(GOARCH_HOST))" ./internal/entry
	PIDONE_BIN=$(abspath $(PIDONE)) PIDONE_NOENTRY_BIN=$(abspath $(PIDONE_NOENTRY)) WORKLOAD_BIN=$(abspath $(WORKLOAD)) \
		$(GO) test -count=1 -timeout 2m -run '^($(CHECK_E2E))$$' ./test/e2e/

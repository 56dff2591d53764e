# The ELF entry point on arm64 (internal/entry/entry_arm64.s), run on this
# machine under qemu-user (Debian's qemu-user): a parent that ignores INT
# and PIPE execs an arm64 pidone, whose child must find both ignored, as
# under tini. The same binary linked without the entry knows only INT (the
# control that shows the entry ran). amd64's entry is tested by `make unit`
# and the e2e tier on the machine itself.

TESTS += entry-arm64
.PHONY: entry-arm64

entry-arm64:
	@command -v qemu-aarch64 >/dev/null || $(call apt_install,qemu-user,to run the arm64 build and check its entry point (entry-arm64))
	@mkdir -p $(BIN)
	GOARCH=arm64 $(call GOBUILD_PIDONE,arm64) -o $(BIN)/pidone-arm64 .
	GOARCH=arm64 $(GOBUILD) -o $(BIN)/pidone-arm64-noentry .
	@check() { \
		ign=$$(sh -c 'trap "" INT PIPE; exec qemu-aarch64 "$$0" -- cat /proc/self/status' $(BIN)/$$1 2>/dev/null | sed -n 's/^SigIgn:[[:space:]]*//p'); \
		[ -n "$$ign" ] || { echo "entry-arm64: $$1 printed no SigIgn" >&2; return 1; }; \
		got=$$(( 0x$$ign & 0x1002 )); \
		[ "$$got" -eq "$$2" ] || { printf 'entry-arm64: %s: child SigIgn %s, INT|PIPE bits %#x, want %#x\n' $$1 $$ign $$got $$2 >&2; return 1; }; \
		printf 'entry-arm64: %s: child SigIgn %s (INT|PIPE bits %#x, as wanted)\n' $$1 $$ign $$got; \
	}; \
	check pidone-arm64 $$((0x1002)) && check pidone-arm64-noentry $$((0x2))

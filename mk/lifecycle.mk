# Lifecycle and drop-in compatibility (issue 3): installing pidone (and, on
# request, its personality links), and the peers its e2e tests compare it with. See
# docs/lifecycle.md and docs/personalities.md.
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   bin/pidone as $(BINDIR)/pidone, alone, and
#                                                 the man page as $(MAN1DIR)/pidone.1
#   make install LINKS=peers                      ... plus tini, docker-init, dumb-init and
#                                                 catatonit linked to it (opt-in: in front of
#                                                 the real ones on PATH they replace them)
#   make uninstall [PREFIX=...] [DESTDIR=]        remove pidone, its man page and the links to it
#   make e2e-peers                                the real tini, dumb-init and catatonit
#                                                 (Debian packages), for the side-by-side
#                                                 e2e tests; `make e2e` depends on it

PREFIX        ?= /usr/local
BINDIR        ?= $(PREFIX)/bin
MAN1DIR       ?= $(PREFIX)/share/man/man1
PERSONALITIES := tini docker-init dumb-init catatonit
# LINKS=peers installs the peer-name links; nothing else is accepted, so a
# typo does not silently install pidone alone.
LINKS         ?=
E2E_PEERS     := tini dumb-init catatonit

.PHONY: install uninstall e2e-peers

# Links are relative, so the installed tree can be moved or copied into an
# image as it is. An existing file of a peer's name is replaced only if it is
# a link: a real tini is never overwritten.
install: $(PIDONE)
	@case "$(LINKS)" in ""|peers) ;; *) echo "install: LINKS=$(LINKS): the only value is LINKS=peers (links named $(PERSONALITIES))" >&2; exit 2;; esac
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(PIDONE) $(DESTDIR)$(BINDIR)/pidone
	install -d $(DESTDIR)$(MAN1DIR)
	install -m 0644 docs/pidone.1 $(DESTDIR)$(MAN1DIR)/pidone.1
	@[ "$(LINKS)" = peers ] || { echo "no peer-name links installed (make install LINKS=peers adds $(PERSONALITIES))"; exit 0; }; \
	set -e; for p in $(PERSONALITIES); do \
		dst=$(DESTDIR)$(BINDIR)/$$p; \
		if [ -e "$$dst" ] && [ ! -L "$$dst" ]; then \
			echo "install: $$dst exists and is not a link; left alone" >&2; continue; \
		fi; \
		ln -sfn pidone "$$dst"; echo "$$dst -> pidone"; \
	done

uninstall:
	@for p in $(PERSONALITIES); do \
		dst=$(DESTDIR)$(BINDIR)/$$p; \
		if [ -L "$$dst" ] && [ "$$(readlink "$$dst")" = pidone ]; then rm -f "$$dst"; fi; \
	done
	rm -f $(DESTDIR)$(BINDIR)/pidone $(DESTDIR)$(MAN1DIR)/pidone.1

# The e2e tests run each personality side by side with the real program when
# it is installed, and say so when it is not. As root, install the missing
# ones from Debian (apt-get update only if the first try fails); otherwise
# one line says which halves will be skipped.
e2e-peers:
	@missing=; for p in $(E2E_PEERS); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "e2e-peers:$$missing not installed and cannot be (needs root and apt-get): their side-by-side halves will be SKIPPED" >&2; exit 0; \
	fi; \
	echo "installing Debian package$$missing: the e2e tests run each personality beside the real program (e2e-peers)"; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null 2>&1 || \
		{ apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } || \
		echo "e2e-peers: apt-get could not install$$missing: their side-by-side halves will be SKIPPED" >&2

# Prerequisite only: the e2e recipe itself is the main Makefile's.
e2e: e2e-peers

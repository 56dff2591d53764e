# pidone as a FROM-scratch image: one static binary and nothing else.
#
#   make image                      # builds bin/pidone, then this image as pidone:dev
#   docker run --rm pidone:dev /pidone --version
#
# To put pidone into your own image, copy the binary out of this one:
#
#   COPY --from=pidone:dev /pidone /pidone
#   ENTRYPOINT ["/pidone", "--"]
#
# See docs/containers.md.
FROM scratch

# PIDONE is the static binary to install, relative to the build context:
# bin/pidone by default, or dist/pidone-linux-ARCH from `make release`.
ARG PIDONE=bin/pidone
ARG VERSION=dev
# The repository has no licence file yet; NOASSERTION is SPDX for "not stated".
ARG LICENSES=NOASSERTION

LABEL org.opencontainers.image.title="pidone" \
      org.opencontainers.image.description="A container init (PID 1) in one static binary: reaps every orphan, forwards signals, exits with the main child's status" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/pidone/pidone" \
      org.opencontainers.image.licenses="${LICENSES}"

COPY ${PIDONE} /pidone

# Everything after the image name in `docker run IMAGE cmd args...` is the
# main command; "--" ends pidone's own options, so a command that starts with
# a dash is never taken for one. Options for pidone itself go through
# --entrypoint (see docs/containers.md).
ENTRYPOINT ["/pidone", "--"]

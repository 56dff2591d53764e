# pidone as a FROM-scratch image: one static binary and nothing else.
#
#   make image                      # builds bin/pidone, then this image as pidone:dev
#   docker run --rm pidone:dev /pidone --version
#   make image-release              # one image per release architecture:
#                                   # pidone:VERSION-amd64, pidone:VERSION-arm64
#
# To put pidone into your own image, copy the binary out of this one:
#
#   COPY --from=pidone:dev /pidone /pidone
#   ENTRYPOINT ["/pidone", "--"]
#
# See docs/containers.md.
#
# The build context is a directory that holds the binary, named pidone, and
# the platform is the binary's:
#
#   docker build --platform linux/arm64 -f Dockerfile DIR
#
# (the Makefile stages DIR under bin/image-context/). An image is labelled
# with the platform it is built for, so an arm64 binary built as the
# engine's amd64 runs nowhere ("exec format error"). There is no RUN step,
# so no emulation is needed. COPY comes first on purpose: the engine's
# classic builder commits any step before it (an ARG, a LABEL) as an image
# of the engine's own platform, and a COPY for another platform then fails
# with "image ... does not match the specified platform".
FROM scratch

COPY pidone /pidone

# VERSION is what the binary's --version reports, REVISION the commit it
# was built from (mk/version.sh).
ARG VERSION=dev
ARG REVISION=

LABEL org.opencontainers.image.title="pidone" \
      org.opencontainers.image.description="A container init (PID 1) in one static binary: reaps every orphan, forwards signals, exits with the main child's status" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/pidone/pidone" \
      org.opencontainers.image.licenses="Apache-2.0"

# Everything after the image name in `docker run IMAGE cmd args...` is the
# main command; "--" ends pidone's own options, so a command that starts with
# a dash is never taken for one. Options for pidone itself go through
# --entrypoint (see docs/containers.md).
ENTRYPOINT ["/pidone", "--"]

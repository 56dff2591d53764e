#!/bin/sh
# version.sh prints pidone's version: what `pidone --version` reports, what
# the image's version label says and what release files are named by. It is
# semver (https://semver.org); the release number lives in the file VERSION,
# since tags may not travel with the repository:
#
#   0.1.0                  HEAD is the last commit that changed VERSION and
#                          the tree is clean: exactly that release
#   0.1.0+g1a2b3c4         any other commit: the release it builds on, and
#                          the commit as build metadata
#   0.1.0+g1a2b3c4.dirty   ... with changes not committed (untracked files
#                          count: go build compiles them too)
#   0.1.0                  not a git checkout (a source tarball)
#
# `version.sh --commit` prints the full hash of HEAD instead (nothing outside
# a git checkout): the image's revision label and the commit the tini
# personality reports.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd -P)
version=$(tr -d ' \t\r\n' <"$root/VERSION")
# MAJOR.MINOR.PATCH with an optional pre-release; build metadata is ours.
if ! printf '%s\n' "$version" | grep -Eq '^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$'; then
	echo "version.sh: $root/VERSION holds \"$version\", not a semver release number like 0.1.0" >&2
	exit 1
fi

# Only the tree's own repository counts: a tarball unpacked inside some
# other checkout is not that checkout's commit.
top=$(git -C "$root" rev-parse --show-toplevel 2>/dev/null) || top=
head=$(git -C "$root" rev-parse -q --verify HEAD 2>/dev/null) || head=
if [ -z "$top" ] || [ "$(cd "$top" && pwd -P)" != "$root" ] || [ -z "$head" ]; then
	[ "${1:-}" = --commit ] || echo "$version"
	exit 0
fi
if [ "${1:-}" = --commit ]; then
	echo "$head"
	exit 0
fi

release=$(git -C "$root" log -1 --format=%H -- VERSION)
dirty=$(git -C "$root" status --porcelain --untracked-files=normal)
if [ "$head" = "$release" ] && [ -z "$dirty" ]; then
	echo "$version"
	exit 0
fi
meta=g$(git -C "$root" rev-parse --short=7 HEAD)
[ -z "$dirty" ] || meta=$meta.dirty
echo "$version+$meta"

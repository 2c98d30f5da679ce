#!/usr/bin/env bash
# Writes a build context for the root Dockerfile into DIR: the files git
# tracks (or would, untracked ones included, ignored ones not), as they are
# in the working tree, and the Go modules as `go mod vendor` output. The
# image then builds where RUN steps cannot reach the Go module proxy, such
# as on layerlab's own worker. The repository itself stays without vendor/.
#   scripts/image-context.sh DIR
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: scripts/image-context.sh DIR" >&2
	exit 2
fi
dir=$1
cd "$(dirname "$0")/.."
if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
	echo "image-context: $dir is not empty" >&2
	exit 1
fi
mkdir -p "$dir"

git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do
		[ -f "$f" ] && printf '%s\0' "$f"
	done |
	tar --null -T - -cf - | tar -xf - -C "$dir"
go mod vendor -o "$dir/vendor"
echo "image-context: $(find "$dir" -type f | wc -l) files, $(du -sh "$dir" | cut -f1) in $dir"

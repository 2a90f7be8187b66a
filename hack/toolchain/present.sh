#!/usr/bin/env bash
# Cheap check for CI: is the full toolchain cached on this machine (and the node image built)?
#
# Usage: hack/toolchain/present.sh [toolchain|all]     (default: all)
#   toolchain: every pinned tool is in the machine-level cache (no Docker needed);
#   all:       that, plus a Docker engine answers and the kind node image is built.
# Exit 0 when present; otherwise exit 1 and print what is missing on stderr.
# Never builds anything.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

missing=()
for tool in "${TOOLS[@]}"; do
  [ -x "$(tool_cache_path "$tool")" ] || missing+=("$tool $(tool_version "$tool")")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "toolchain not cached ($TOOL_CACHE): missing ${missing[*]}" >&2
  exit 1
fi
[ "${1:-all}" = toolchain ] && exit 0

if ! docker info >/dev/null 2>&1; then
  echo "no Docker engine answers (hack/docker/ensure-dockerd.sh starts one)" >&2
  exit 1
fi
if ! name="$("$READSIDE_REPO/hack/kind/build-node-image.sh" --name 2>/dev/null)"; then
  echo "kind node image ${name:-?} is not built (make kind-up builds it)" >&2
  exit 1
fi
exit 0

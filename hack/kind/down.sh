#!/usr/bin/env bash
# make kind-down: delete the "readside" kind cluster (the node image stays cached).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../toolchain/lib.sh
. "$HERE/../toolchain/lib.sh"
CLUSTER="${READSIDE_KIND_CLUSTER:-readside}"
KIND="$(tool_cache_path kind)"
[ -x "$KIND" ] || die "kind is not built: run make toolchain"
docker info >/dev/null 2>&1 || { log "no Docker engine answers: nothing to delete"; exit 0; }
if "$KIND" get clusters 2>/dev/null | grep -qxF "$CLUSTER"; then
  "$KIND" delete cluster --name "$CLUSTER" --kubeconfig "$READSIDE_LOCAL/kind/kubeconfig" >&2
  "$KIND" delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
else
  log "no kind cluster named $CLUSTER"
fi
rm -f "$READSIDE_LOCAL/kind/kubeconfig"

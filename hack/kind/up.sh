#!/usr/bin/env bash
# make kind-up: a single-node kind cluster "readside" from the locally built node image.
#
# Idempotent: an existing, healthy cluster is reused. The kubeconfig is written to
# .local/kind/kubeconfig (what the tests use) and, unless READSIDE_KIND_EXPORT_KUBECONFIG=0,
# merged into the default kubeconfig with context kind-readside (for Tilt, skaffold, helm).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../toolchain/lib.sh
. "$HERE/../toolchain/lib.sh"

# shellcheck disable=SC2034  # read by log() and run_step in lib.sh
LOG_NAME=kind-up STEP_LOG_DIR="$READSIDE_LOCAL/logs/kind-up"
loud_errors
CLUSTER="${READSIDE_KIND_CLUSTER:-readside}"
KUBECONFIG_FILE="$READSIDE_LOCAL/kind/kubeconfig"
KIND="$(tool_cache_path kind)"
KUBECTL="$(tool_cache_path kubectl)"
[ -x "$KIND" ] && [ -x "$KUBECTL" ] || die "kind/kubectl are not built: run make toolchain"
mkdir -p "$READSIDE_LOCAL/kind"
k() { "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" --context "kind-$CLUSTER" "$@"; }

"$READSIDE_REPO/hack/docker/ensure-dockerd.sh"
started=$SECONDS
NODE_IMAGE="$("$HERE/build-node-image.sh")"

healthy() {
  "$KIND" get kubeconfig --name "$CLUSTER" >"$KUBECONFIG_FILE.tmp" 2>/dev/null || return 1
  mv "$KUBECONFIG_FILE.tmp" "$KUBECONFIG_FILE"
  k get --raw /readyz --request-timeout=10s >/dev/null 2>&1 || return 1
  k wait --for=condition=Ready node --all --timeout=60s >/dev/null 2>&1
}

if "$KIND" get clusters 2>/dev/null | grep -qxF "$CLUSTER"; then
  running="$(docker inspect -f '{{.Config.Image}}' "$CLUSTER-control-plane" 2>/dev/null || true)"
  if [ "$running" != "$NODE_IMAGE" ]; then
    log "cluster $CLUSTER runs $running, not $NODE_IMAGE: recreating"
    "$KIND" delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_FILE" >&2
  else
    docker start "$CLUSTER-control-plane" >/dev/null 2>&1 || true
    if healthy; then
      log "cluster $CLUSTER is up and healthy (reused)"
    else
      log "cluster $CLUSTER exists but is not healthy: recreating"
      "$KIND" delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_FILE" >&2
    fi
  fi
fi

# Inside run_step: output to the step log; on failure the node's kubelet and containerd
# journal is appended to that log (step_failed prints its end) and the node is removed.
create_cluster() {
  run "$KIND" create cluster --name "$CLUSTER" --config "$READSIDE_LOCAL/kind/cluster.yaml" \
    --kubeconfig "$KUBECONFIG_FILE" --wait 5m --retain && return 0
  log "kind create cluster failed; the node's kubelet and containerd journal follows"
  docker exec "$CLUSTER-control-plane" journalctl --no-pager -u kubelet -u containerd 2>/dev/null | tail -n 60 || true
  "$KIND" delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_FILE" >/dev/null 2>&1 || true
  return 1
}

if ! "$KIND" get clusters 2>/dev/null | grep -qxF "$CLUSTER"; then
  sed -e "s|@NODE_IMAGE@|$NODE_IMAGE|" -e "s|^name: readside$|name: $CLUSTER|" "$HERE/cluster.yaml" \
    >"$READSIDE_LOCAL/kind/cluster.yaml"
  step create-cluster "kind create cluster $CLUSTER from $NODE_IMAGE" create_cluster
fi

# Add-ons the project relies on: DNS and the default StorageClass.
addons_ready() {
  run k -n kube-system rollout status deployment/coredns --timeout=180s
  run k -n local-path-storage rollout status deployment/local-path-provisioner --timeout=180s
  run k get storageclass standard
}
step addons "CoreDNS and the local-path StorageClass" addons_ready

if [ "${READSIDE_KIND_EXPORT_KUBECONFIG:-1}" != 0 ]; then
  "$KIND" export kubeconfig --name "$CLUSTER" >/dev/null 2>&1 || log "WARNING: could not merge into the default kubeconfig"
fi
log "cluster $CLUSTER ready in $((SECONDS - started))s (KUBECONFIG=$KUBECONFIG_FILE, context kind-$CLUSTER)"

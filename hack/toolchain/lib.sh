# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables below are used by the scripts that source this file
# Shared settings for hack/toolchain, hack/images and hack/kind scripts. Source it.

READSIDE_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=versions.env
set -a
. "$READSIDE_REPO/hack/toolchain/versions.env"
set +a

# Per-project, git-ignored state.
READSIDE_LOCAL="$READSIDE_REPO/.local"
TOOLCHAIN_DIR="$READSIDE_LOCAL/toolchain"
TOOLCHAIN_BIN="$TOOLCHAIN_DIR/bin"
# Machine-level cache shared by every clone on this machine, keyed by version.
READSIDE_CACHE="${READSIDE_CACHE:-$HOME/.cache/readside}"
GOARCH_HOST="$(uname -m | sed -e 's/x86_64/amd64/' -e 's/aarch64/arm64/')"
TOOL_CACHE="$READSIDE_CACHE/toolchain/linux-$GOARCH_HOST"

# Go: never download a toolchain, small parallelism, lowest CPU priority.
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOFLAGS="-buildvcs=false -trimpath -p=${READSIDE_GO_PARALLEL:-2}"
NICE=(nice -n "${READSIDE_NICE:-19}")
if [ -x /usr/local/go/bin/go ] && ! command -v go >/dev/null 2>&1; then
  export PATH="/usr/local/go/bin:$PATH"
fi

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Every tool of the toolchain and the versions.env variable that pins it.
TOOLS=(
  kubectl kubeadm kubelet kube-apiserver kube-controller-manager kube-scheduler kube-proxy
  etcd coredns crictl pause local-path-provisioner
  kind helm kustomize tilt skaffold
)
KUBE_TOOLS=(kubectl kubeadm kubelet kube-apiserver kube-controller-manager kube-scheduler kube-proxy)

tool_version() {
  case "$1" in
    kubectl|kubeadm|kubelet|kube-apiserver|kube-controller-manager|kube-scheduler|kube-proxy)
      echo "$KUBERNETES_VERSION" ;;
    etcd) echo "$ETCD_VERSION" ;;
    coredns) echo "$COREDNS_VERSION" ;;
    crictl) echo "$CRICTL_VERSION" ;;
    pause) echo "$PAUSE_VERSION" ;;
    local-path-provisioner) echo "$LOCAL_PATH_PROVISIONER_VERSION" ;;
    kind) echo "$KIND_VERSION" ;;
    helm) echo "$HELM_VERSION" ;;
    kustomize) echo "$KUSTOMIZE_VERSION" ;;
    tilt) echo "$TILT_VERSION" ;;
    skaffold) echo "$SKAFFOLD_VERSION" ;;
    *) return 1 ;;
  esac
}

# The binary's own version report (used to accept a binary found on PATH, and by tests).
tool_version_output() {
  local tool="$1" bin="$2"
  case "$tool" in
    kubectl) "$bin" version --client 2>&1 ;;
    kubeadm) "$bin" version -o short 2>&1 ;;
    kubelet|kube-apiserver|kube-controller-manager|kube-scheduler|kube-proxy) "$bin" --version 2>&1 ;;
    etcd) "$bin" --version 2>&1 ;;
    coredns) "$bin" -version 2>&1 ;;
    crictl) "$bin" --version 2>&1 ;;
    pause) "$bin" -v 2>&1 ;;
    local-path-provisioner) "$bin" --version 2>&1 ;;
    kind) "$bin" version 2>&1 ;;
    helm) "$bin" version --short 2>&1 ;;
    kustomize) "$bin" version 2>&1 ;;
    tilt) "$bin" version 2>&1 ;;
    skaffold) "$bin" version 2>&1 ;;
  esac
}

tool_cache_path() { echo "$TOOL_CACHE/$1/$(tool_version "$1")/$1"; }

# Image names kubeadm expects for the pinned Kubernetes version, computed by kubeadm itself.
kubeadm_images() {
  "$(tool_cache_path kubeadm)" config images list --kubernetes-version "$KUBERNETES_VERSION" 2>/dev/null
}

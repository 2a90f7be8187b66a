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

log() { printf '[%s] %s\n' "${LOG_NAME:-$(basename "$0")}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# --- Steps: progress lines and loud failures (make toolchain, images, node-image, kind-up) ---
# Each step's output goes to its own log under .local/logs/<script>/; the terminal gets one
# line when a step starts and one when it ends. A failed step prints its name, the command
# that failed and the last lines of its log, then the script exits with the step's status.
# Scripts set STEP_LOG_DIR to their own folder (toolchain, images, node-image, kind-up).
STEP_LOG_DIR="$READSIDE_LOCAL/logs/$(basename "$0" .sh)"
STEP_LOG_TAIL="${READSIDE_LOG_TAIL:-40}"

# 75 -> 1m15s
fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# run: print the command into the current log (as "+ cmd"), then run it.
run() {
  printf '+ %s\n' "$(printf '%q ' "$@")" >&2
  "$@"
}

# run_step <name> <command...>: run a command (or a function) with errexit on and its
# output in $STEP_LOG_DIR/<name>.log. Sets STEP_SECONDS. Call it as a plain statement,
# never in an `if`/`||` context (bash would then ignore errexit inside the step).
run_step() {
  local name="$1" logf rc started=$SECONDS err_trap
  shift
  logf="$STEP_LOG_DIR/$name.log"
  mkdir -p "$STEP_LOG_DIR"
  printf '# %s: %s\n+ %s\n' "$name" "$(date -u +%FT%TZ)" "$(printf '%q ' "$@")" >"$logf"
  # The failure is reported below: keep loud_errors' ERR trap inside the step (its line
  # goes to the log) but not on the step itself.
  err_trap="$(trap -p ERR)"
  trap - ERR
  set +e
  (eval "$err_trap"; set -e; "$@") >>"$logf" 2>&1 </dev/null
  rc=$?
  set -e
  eval "$err_trap"
  STEP_SECONDS=$((SECONDS - started))
  [ "$rc" -eq 0 ] || step_failed "$name" "$rc" "$logf" "$@"
}

# step <name> <what> <command...>: run_step with a line when it starts and when it ends.
step() {
  local name="$1" what="$2"
  shift 2
  log "$what... (log: ${STEP_LOG_DIR#"$READSIDE_REPO/"}/$name.log)"
  run_step "$name" "$@"
  log "$what: done in $(fmt_secs "$STEP_SECONDS")"
}

# step_failed <name> <status> <log> <command...>: the report of a failed step, then exit.
step_failed() {
  local name="$1" rc="$2" logf="$3" last
  shift 3
  # The innermost command the step ran through `run` is the one that failed.
  last="$(grep '^+ ' "$logf" | tail -n 1 | cut -c3-)"
  log "FAILED: step '$name' (exit $rc after $(fmt_secs "${STEP_SECONDS:-0}"))"
  log "  step command:   $(printf '%q ' "$@")"
  [ -n "$last" ] && log "  failed command: $last"
  log "  log: $logf (last $STEP_LOG_TAIL lines:)"
  tail -n "$STEP_LOG_TAIL" "$logf" | sed 's/^/    | /' >&2
  exit "$rc"
}

# loud_errors: for the commands a script runs outside run_step, name the script, line and
# command of an unexpected failure instead of exiting silently under `set -e`.
loud_errors() {
  set -E
  trap 'rc=$?; log "FAILED (exit $rc) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND"' ERR
}

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

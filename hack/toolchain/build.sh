#!/usr/bin/env bash
# make toolchain: provide every pinned tool in .local/toolchain/bin (see versions.env).
#
# Usage: hack/toolchain/build.sh [tool ...]      (default: every tool)
#
# For each tool, in this order:
#   1. the machine-level cache  $READSIDE_CACHE/toolchain/linux-<arch>/<tool>/<version>/
#      (default READSIDE_CACHE=~/.cache/readside), shared by every clone on the machine;
#   2. a binary on PATH that reports the pinned version (copied into the cache);
#   3. a build from the Go module proxy (result stored in the cache):
#        - go install              kind, helm, kustomize, crictl, coredns, local-path-provisioner
#        - a wrapper module with   Kubernetes (kubeadm, kubelet, kubectl, kube-*) and etcd,
#          replace lines           whose own go.mod points at in-repo staging directories
#        - a build inside the      tilt and skaffold (their go.mod carries replace lines
#          downloaded module       that only apply in the main module)
#        - hack/toolchain/pause    our own pause (sandbox) process
# Every binary is stamped with its real version (for Kubernetes the component-base
# and client-go version ldflags). Then .local/toolchain/bin/<tool> is linked to the cache
# and .local/toolchain/MANIFEST lists tool, version, origin and sha256.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# shellcheck disable=SC2034  # read by log() and run_step in lib.sh
LOG_NAME=toolchain STEP_LOG_DIR="$TOOLCHAIN_DIR/logs"
loud_errors
command -v go >/dev/null || die "Go is required (expected /usr/local/go/bin/go)"
mkdir -p "$TOOLCHAIN_BIN" "$TOOL_CACHE" "$TOOLCHAIN_DIR/logs"
WORK="$READSIDE_CACHE/work"
mkdir -p "$WORK"
BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# Modules whose checksums the proxy's checksum database does not serve; go.sum of the
# module itself still verifies their dependencies.
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/tilt-dev/tilt,github.com/GoogleContainerTools/skaffold"

# Download a module. Sets MOD_DIR (its directory) and MOD_COMMIT (the VCS hash the
# proxy recorded, or empty).
mod_download() {
  local json
  json="$(cd "$WORK" && run "${NICE[@]}" go mod download -json "$1@$2")" || die "go mod download $1@$2 failed: $json"
  MOD_COMMIT="$(printf '%s' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print((d.get("Origin") or {}).get("Hash",""))')"
  MOD_DIR="$(printf '%s' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["Dir"])')"
}

# install_into <tool> <built-binary>: move a fresh build into the cache atomically.
install_into() {
  local tool="$1" src="$2" dest
  dest="$(tool_cache_path "$tool")"
  mkdir -p "$(dirname "$dest")"
  mv -f "$src" "$dest.tmp.$$"
  chmod 0755 "$dest.tmp.$$"
  mv -f "$dest.tmp.$$" "$dest"
  echo "$3" >"$(dirname "$dest")/ORIGIN"
}

# go_install <tool> <package@version> <ldflags> [origin]
go_install() {
  local tool="$1" pkg="$2" ldflags="$3" gobin
  gobin="$(mktemp -d "$WORK/gobin.XXXXXX")"
  log "go install $pkg"
  (cd "$WORK" && GOBIN="$gobin" run "${NICE[@]}" go install -ldflags "$ldflags" "$pkg") \
    || die "go install $pkg failed"
  # The binary is named after the package path without a /vN major-version suffix.
  local built
  built="$(find "$gobin" -maxdepth 1 -type f | head -n1)"
  [ -n "$built" ] || die "go install $pkg produced no binary"
  install_into "$tool" "$built" "go install ${pkg}"
  rm -rf "$gobin"
}

build_kubernetes() {
  local -a wanted=("$@")
  local v="$KUBERNETES_VERSION" dir wrapper minor staging commit ldflags t
  mod_download k8s.io/kubernetes "$v"
  dir="$MOD_DIR" commit="$MOD_COMMIT"
  wrapper="$WORK/k8s-wrapper-$v"
  mkdir -p "$wrapper"
  # Staging modules are published as k8s.io/<name> v0.<minor>.<patch>.
  staging="v0.${v#v1.}"
  {
    echo "module readside.local/k8s-wrapper"
    echo
    echo "go $(awk '$1=="go"{print $2; exit}' "$dir/go.mod")"
    echo
    echo "require k8s.io/kubernetes $v"
    echo
    echo "replace ("
    awk '$2=="=>" && $3 ~ /^\.\/staging\// {print $1}' "$dir/go.mod" \
      | while read -r m; do echo "	$m => $m $staging"; done
    echo ")"
  } >"$wrapper/go.mod"
  minor="${v#v1.}"; minor="${minor%%.*}"
  ldflags="-s -w"
  for pkgvar in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ldflags+=" -X $pkgvar.gitVersion=$v -X $pkgvar.gitMajor=1 -X $pkgvar.gitMinor=$minor"
    ldflags+=" -X $pkgvar.buildDate=$BUILD_DATE -X $pkgvar.gitTreeState=clean"
    [ -n "$commit" ] && ldflags+=" -X $pkgvar.gitCommit=$commit"
  done
  for t in "${wanted[@]}"; do
    log "building $t $v (wrapper module $wrapper)"
    (cd "$wrapper" && run "${NICE[@]}" go build -mod=mod -ldflags "$ldflags" -o "$wrapper/$t.out" "k8s.io/kubernetes/cmd/$t") \
      || die "building $t failed"
    install_into "$t" "$wrapper/$t.out" "go build k8s.io/kubernetes/cmd/$t@$v (wrapper module)"
  done
}

build_etcd() {
  local v="$ETCD_VERSION" dir wrapper
  mod_download go.etcd.io/etcd/server/v3 "$v"
  dir="$MOD_DIR"
  wrapper="$WORK/etcd-wrapper-$v"
  mkdir -p "$wrapper"
  {
    echo "module readside.local/etcd-wrapper"
    echo
    echo "go $(awk '$1=="go"{print $2; exit}' "$dir/go.mod")"
    echo
    echo "require go.etcd.io/etcd/server/v3 $v"
    echo
    echo "replace ("
    awk '$2=="=>" && $3 ~ /^\.\.\// {print $1}' "$dir/go.mod" \
      | while read -r m; do echo "	$m => $m $v"; done
    echo ")"
  } >"$wrapper/go.mod"
  log "building etcd $v (wrapper module $wrapper)"
  (cd "$wrapper" && run "${NICE[@]}" go build -mod=mod \
    -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${MOD_COMMIT:0:9}" \
    -o "$wrapper/etcd.out" go.etcd.io/etcd/server/v3) || die "building etcd failed"
  install_into etcd "$wrapper/etcd.out" "go build go.etcd.io/etcd/server/v3@$v (wrapper module)"
}

# build_in_module <tool> <module> <version> <package-dir> <ldflags> [prepare-function]
build_in_module() {
  local tool="$1" mod="$2" v="$3" pkgdir="$4" ldflags="$5" prepare="${6:-}" dir src
  mod_download "$mod" "$v"
  dir="$MOD_DIR"
  ldflags="${ldflags//@COMMIT@/$MOD_COMMIT}"
  src="$WORK/$tool-src-$v"
  if [ ! -f "$src/.copied" ]; then
    rm -rf "$src"
    cp -a "$dir" "$src"
    chmod -R u+w "$src"
    # The module zip ships vendor/modules.txt without the vendored code: build in module mode.
    rm -rf "$src/vendor"
    touch "$src/.copied"
  fi
  [ -n "$prepare" ] && "$prepare" "$src"
  log "building $tool $v inside its module ($src)"
  (cd "$src" && run "${NICE[@]}" go build -mod=mod -ldflags "$ldflags" -o "$src/$tool.out" "$pkgdir") \
    || die "building $tool failed"
  install_into "$tool" "$src/$tool.out" "go build $mod/$pkgdir@$v (inside the module)"
}

build_tool() {
  local tool="$1" v
  v="$(tool_version "$tool")"
  case "$tool" in
    kind)
      mod_download sigs.k8s.io/kind "$v"
      go_install kind "sigs.k8s.io/kind@$v" "-s -w -X sigs.k8s.io/kind/pkg/cmd/kind/version.gitCommit=$MOD_COMMIT" ;;
    helm)
      mod_download helm.sh/helm/v3 "$v"
      go_install helm "helm.sh/helm/v3/cmd/helm@$v" \
        "-s -w -X helm.sh/helm/v3/internal/version.version=$v -X helm.sh/helm/v3/internal/version.gitCommit=$MOD_COMMIT -X helm.sh/helm/v3/internal/version.gitTreeState=clean" ;;
    kustomize)
      go_install kustomize "sigs.k8s.io/kustomize/kustomize/v5@$v" \
        "-s -w -X sigs.k8s.io/kustomize/api/provenance.version=$v -X sigs.k8s.io/kustomize/api/provenance.buildDate=$BUILD_DATE" ;;
    crictl)
      go_install crictl "sigs.k8s.io/cri-tools/cmd/crictl@$v" "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$v" ;;
    coredns)
      mod_download github.com/coredns/coredns "$v"
      go_install coredns "github.com/coredns/coredns@$v" "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$MOD_COMMIT" ;;
    local-path-provisioner)
      go_install local-path-provisioner "github.com/rancher/local-path-provisioner@$v" "-s -w -X main.VERSION=$v" ;;
    pause)
      log "building pause $v (hack/toolchain/pause)"
      (cd "$READSIDE_REPO/hack/toolchain/pause" && run "${NICE[@]}" go build -ldflags "-s -w -X main.version=$v" -o "$WORK/pause.out" .) \
        || die "building pause failed"
      install_into pause "$WORK/pause.out" "go build hack/toolchain/pause" ;;
    etcd) build_etcd ;;
    tilt)
      # Tilt's Tiltfile language support (go-tree-sitter) needs cgo.
      CGO_ENABLED=1 build_in_module tilt github.com/tilt-dev/tilt "$v" ./cmd/tilt \
        "-s -w -X main.version=${v#v} -X main.date=${BUILD_DATE%%T*} -X github.com/tilt-dev/tilt/internal/cli.commitSHA=@COMMIT@" tilt_prepare ;;
    skaffold)
      build_in_module skaffold github.com/GoogleContainerTools/skaffold/v2 "$v" ./cmd/skaffold \
        "-s -w -X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=$v -X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.gitCommit=@COMMIT@ -X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.buildDate=$BUILD_DATE" ;;
    kubectl|kubeadm|kubelet|kube-apiserver|kube-controller-manager|kube-scheduler|kube-proxy)
      build_kubernetes "$tool" ;;
    *) die "unknown tool $tool" ;;
  esac
}

# Tilt's web UI is embedded from pkg/assets/build. The module does not ship the compiled
# UI; hack/toolchain/tilt-web.sh builds it with npm (or writes a placeholder page).
tilt_prepare() {
  local src="$1" web
  web="$(run "$READSIDE_REPO/hack/toolchain/tilt-web.sh")"
  log "embedding the Tilt web UI from $web"
  cp -a "$web/." "$src/pkg/assets/build/"
}

# Accept a binary from PATH when it reports the pinned version.
from_path() {
  local tool="$1" v found out
  v="$(tool_version "$tool")"
  found="$(PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$TOOLCHAIN_BIN" | paste -sd:)" command -v "$tool" 2>/dev/null)" || return 1
  out="$(timeout 10 bash -c "$(declare -f tool_version_output); tool_version_output '$tool' '$found'" 2>/dev/null)" || return 1
  case "$tool" in pause) return 1 ;; esac
  if printf '%s' "$out" | grep -qF "${v#v}"; then
    log "$tool $v found on PATH at $found"
    install_into "$tool" "$(cp "$found" "$WORK/$tool.path" && echo "$WORK/$tool.path")" "PATH $found"
    return 0
  fi
  return 1
}

link_tool() {
  local tool="$1" cached
  cached="$(tool_cache_path "$tool")"
  case "$tool" in
    tilt|skaffold)
      # Docker 20.10 speaks API 1.41: pin it for clients that would otherwise ask for more.
      # Skaffold's update check needs the network: off unless asked for.
      rm -f "$TOOLCHAIN_BIN/$tool"
      printf '#!/bin/sh\n: "${DOCKER_API_VERSION:=%s}"\n: "${SKAFFOLD_UPDATE_CHECK:=false}"\nexport DOCKER_API_VERSION SKAFFOLD_UPDATE_CHECK\nexec "%s" "$@"\n' \
        "$DOCKER_API_VERSION" "$cached" >"$TOOLCHAIN_BIN/$tool"
      chmod 0755 "$TOOLCHAIN_BIN/$tool" ;;
    *) ln -sfn "$cached" "$TOOLCHAIN_BIN/$tool" ;;
  esac
}

write_manifest() {
  local tool cached
  {
    echo "# Readside toolchain, written by hack/toolchain/build.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "# tool version sha256 origin"
    for tool in "${TOOLS[@]}"; do
      cached="$(tool_cache_path "$tool")"
      if [ -x "$cached" ]; then
        printf '%s %s %s %s\n' "$tool" "$(tool_version "$tool")" "$(sha256sum "$cached" | cut -c1-64)" \
          "$(cat "$(dirname "$cached")/ORIGIN" 2>/dev/null || echo unknown)"
      else
        printf '%s %s MISSING\n' "$tool" "$(tool_version "$tool")"
      fi
    done
  } >"$TOOLCHAIN_DIR/MANIFEST"
}

# One line per tool as it starts and ends (elapsed time, what remains), each tool's output
# in .local/logs/build/<tool>.log, a table at the end. A failed tool prints its command and
# the last lines of its log; the tools built before it are cached, so a rerun resumes there.
RESULTS=()   # "tool|result|seconds" for the summary table

summary() {
  local row tool result secs
  log "summary (total $(fmt_secs $((SECONDS - TOOLCHAIN_STARTED)))):"
  printf '  %-24s %-9s %-11s %s\n' tool version result time >&2
  for row in "${RESULTS[@]}"; do
    IFS='|' read -r tool result secs <<<"$row"
    printf '  %-24s %-9s %-11s %s\n' "$tool" "$(tool_version "$tool")" "$result" \
      "$([ -n "$secs" ] && fmt_secs "$secs")" >&2
  done
}

on_exit() {
  local rc=$? tool seen
  [ "$rc" -ne 0 ] || return 0
  # Mark the failed tool and those never reached, then say how to resume.
  for tool in "${WANTED[@]}"; do
    seen=""
    for row in "${RESULTS[@]}"; do [ "${row%%|*}" = "$tool" ] && seen=1; done
    [ -n "$seen" ] && continue
    if [ "$tool" = "${CURRENT_TOOL:-}" ]; then
      RESULTS+=("$tool|FAILED|${STEP_SECONDS:-}")
    else
      RESULTS+=("$tool|not reached|")
    fi
  done
  summary
  log "make toolchain failed at ${CURRENT_TOOL:-?}; rerun it: the tools listed as built or cached are not rebuilt"
}

main() {
  WANTED=("$@")
  [ ${#WANTED[@]} -eq 0 ] && WANTED=("${TOOLS[@]}")
  TOOLCHAIN_STARTED=$SECONDS
  trap on_exit EXIT
  local tool i=0 n=${#WANTED[@]} todo=() result
  for tool in "${WANTED[@]}"; do
    tool_version "$tool" >/dev/null || die "unknown tool: $tool"
    [ -x "$(tool_cache_path "$tool")" ] || from_path "$tool" || todo+=("$tool")
  done
  [ ${#todo[@]} -eq 0 ] || log "${#todo[@]} of $n tools to build from the Go module proxy: ${todo[*]} (logs: $STEP_LOG_DIR/)"
  for tool in "${WANTED[@]}"; do
    i=$((i + 1))
    if [ -x "$(tool_cache_path "$tool")" ]; then
      result=cached
      [ "$(cat "$(dirname "$(tool_cache_path "$tool")")/ORIGIN" 2>/dev/null)" = "PATH $(command -v "$tool" 2>/dev/null)" ] && result="from PATH"
      STEP_SECONDS=""
    else
      CURRENT_TOOL="$tool"
      todo=("${todo[@]:1}")
      log "[$i/$n] $tool $(tool_version "$tool"): building$([ "$tool" = tilt ] && [ ! -f "$READSIDE_CACHE/toolchain/tilt-web/$TILT_VERSION/index.html" ] && echo ' (with its web UI, ~6-9 min of it)')... (elapsed $(fmt_secs $((SECONDS - TOOLCHAIN_STARTED))))"
      run_step "$tool" build_tool "$tool"
      result=built
      log "[$i/$n] $tool built in $(fmt_secs "$STEP_SECONDS") (elapsed $(fmt_secs $((SECONDS - TOOLCHAIN_STARTED))); remaining: ${todo[*]:-none})"
    fi
    RESULTS+=("$tool|$result|$STEP_SECONDS")
    link_tool "$tool"
  done
  CURRENT_TOOL=""
  write_manifest
  if [ -x "$(tool_cache_path kubeadm)" ]; then
    local expected
    expected="$(kubeadm_images | tr '\n' ' ')"
    for want in "etcd:${ETCD_VERSION#v}" "coredns:$COREDNS_VERSION" "pause:$PAUSE_VERSION"; do
      case "$expected" in
        *"/$want"*|*"/coredns/$want"*) ;;
        *) log "WARNING: kubeadm $KUBERNETES_VERSION lists [$expected]; versions.env pins $want" ;;
      esac
    done
  fi
  # The table only when something was built: `make kind-up` runs this on every call.
  case " ${RESULTS[*]} " in *"|built|"*) summary ;; esac
  log "toolchain ready in $(fmt_secs $((SECONDS - TOOLCHAIN_STARTED))): $TOOLCHAIN_BIN (manifest: $TOOLCHAIN_DIR/MANIFEST)"
}

main "$@"

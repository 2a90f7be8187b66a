#!/usr/bin/env bash
# Build the Readside kind node image locally (no registry needed), cached by version.
#
# Usage: hack/kind/build-node-image.sh [--name]
#   --name: only print the image name; exit 0 when it is already built, 1 when not.
#
# Prints the image name, readside/kind-node:<kubernetes version>-<content key>, and
# records it in .local/kind/node-image. The key hashes versions.env, hack/kind/ and the
# binaries, so an unchanged input reuses the existing image in seconds.
#
# Steps:
#   1. component images, under the exact names `kubeadm config images list` prints for the
#      pinned version: kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy,
#      etcd, coredns, pause (plus local-path-provisioner and its helper), each built from
#      the locally built binary on the debootstrap Debian base;
#   2. the node root filesystem: Debian base + systemd, containerd, runc and CNI plugins
#      from Debian, kind's base files copied from the kind module, kubeadm/kubelet/kubectl,
#      a static ptp CNI configuration and the local-path storage manifest;
#   3. every image of step 1 imported into the node's containerd (namespace k8s.io,
#      pinned), then the container is committed as the node image.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../toolchain/lib.sh
. "$HERE/../toolchain/lib.sh"
set -a
# shellcheck source=../images/images.env
. "$READSIDE_REPO/hack/images/images.env"
set +a

# shellcheck disable=SC2034  # read by log() and run_step in lib.sh
LOG_NAME=node-image STEP_LOG_DIR="$READSIDE_LOCAL/logs/node-image"
loud_errors
POD_SUBNET="${READSIDE_POD_SUBNET:-10.244.0.0/24}"
NODE_TOOLS=(kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy
  etcd coredns crictl pause local-path-provisioner)
for t in "${NODE_TOOLS[@]}"; do
  [ -x "$(tool_cache_path "$t")" ] || die "$t $(tool_version "$t") is not built: run make toolchain"
done

key="$( {
  cat "$READSIDE_REPO/hack/toolchain/versions.env" "$READSIDE_REPO/hack/images/images.env" "$0"
  find "$HERE/node" "$HERE/images" -type f | sort | xargs cat
  echo "$POD_SUBNET"
  for t in "${NODE_TOOLS[@]}"; do sha256sum "$(tool_cache_path "$t")" | cut -c1-64; done
} | sha256sum | cut -c1-12)"
NODE_IMAGE="readside/kind-node:$KUBERNETES_VERSION-$key"
mkdir -p "$READSIDE_LOCAL/kind"

if [ "${1:-}" = --name ]; then
  # Print the name; exit 0 only when the image is already built.
  echo "$NODE_IMAGE"
  docker image inspect "$NODE_IMAGE" >/dev/null 2>&1
  exit
fi
if docker image inspect "$NODE_IMAGE" >/dev/null 2>&1; then
  log "node image $NODE_IMAGE is present"
  echo "$NODE_IMAGE" >"$READSIDE_LOCAL/kind/node-image"
  echo "$NODE_IMAGE"
  exit 0
fi

"$READSIDE_REPO/hack/docker/ensure-dockerd.sh"
"$READSIDE_REPO/hack/images/build.sh" debian-base
started=$SECONDS
stage="$READSIDE_CACHE/kind/build-$key"
rm -rf "$stage"
mkdir -p "$stage"
cid=""
cleanup() { [ -n "$cid" ] && docker rm -f "$cid" >/dev/null 2>&1; rm -rf "$stage"; }
trap cleanup EXIT

build_image() { # <dockerfile> <context> <tag> [build args...]
  local file="$1" ctx="$2" tag="$3"
  shift 3
  step "image-${tag##*/}" "component image ${tag##*/}" \
    "${NICE[@]}" docker build -f "$HERE/images/$file" --build-arg "BASE_IMAGE=$DEBIAN_BASE_IMAGE" "$@" \
    --label dev.readside.local-build=true -t "$tag" "$ctx"
}

# --- 1. component images under kubeadm's names -------------------------------------------
mapfile -t KUBEADM_IMAGES < <(kubeadm_images)
[ ${#KUBEADM_IMAGES[@]} -ge 6 ] || die "kubeadm config images list returned: ${KUBEADM_IMAGES[*]}"
PAUSE_IMAGE=""
ALL_IMAGES=()
for ref in "${KUBEADM_IMAGES[@]}"; do
  repo="${ref%:*}" tag="${ref##*:}"
  base="${repo##*/}"
  ctx="$stage/img-$base"
  mkdir -p "$ctx"
  case "$base" in
    kube-apiserver|kube-controller-manager|kube-scheduler|etcd)
      cp "$(tool_cache_path "$base")" "$ctx/$base"
      build_image component.Dockerfile "$ctx" "$ref" --build-arg "BINARY=$base" ;;
    kube-proxy)
      cp "$(tool_cache_path kube-proxy)" "$ctx/"
      build_image kube-proxy.Dockerfile "$ctx" "$ref" ;;
    coredns)
      [ "$tag" = "$COREDNS_VERSION" ] || log "WARNING: kubeadm wants coredns $tag, versions.env pins $COREDNS_VERSION"
      cp "$(tool_cache_path coredns)" "$ctx/"
      build_image coredns.Dockerfile "$ctx" "$ref" ;;
    pause)
      cp "$(tool_cache_path pause)" "$ctx/"
      build_image pause.Dockerfile "$ctx" "$ref"
      PAUSE_IMAGE="$ref" ;;
    *) die "kubeadm lists an image this script does not know how to build: $ref" ;;
  esac
  ALL_IMAGES+=("$ref")
done
[ -n "$PAUSE_IMAGE" ] || die "kubeadm did not list a pause image"
PROVISIONER_IMAGE="readside/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION"
HELPER_IMAGE="readside/local-path-helper:$DEBIAN_SUITE"
mkdir -p "$stage/img-lpp"
cp "$(tool_cache_path local-path-provisioner)" "$stage/img-lpp/"
build_image local-path-provisioner.Dockerfile "$stage/img-lpp" "$PROVISIONER_IMAGE"
docker tag "$DEBIAN_BASE_IMAGE" "$HELPER_IMAGE"
ALL_IMAGES+=("$PROVISIONER_IMAGE" "$HELPER_IMAGE")
step save-images "docker save of the ${#ALL_IMAGES[@]} component images" \
  docker save -o "$stage/images.tar" "${ALL_IMAGES[@]}"

# --- 2. node root filesystem -------------------------------------------------------------
ctx="$stage/node"
mkdir -p "$ctx/rootfs/usr/bin" "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/kind/manifests" "$ctx/rootfs/etc/cni/net.d"
kind_module() {
  cd "$READSIDE_CACHE/work" 2>/dev/null || cd /tmp
  run go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" >"$stage/kind-module.json"
}
run_step kind-module kind_module
kind_dir="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Dir"])' "$stage/kind-module.json")"
cp -a "$kind_dir/images/base/files" "$ctx/kind-base"
chmod -R u+w "$ctx/kind-base"
# The sandbox image containerd uses must be the one kubeadm expects (and that we import).
sed -i -E "s|^([[:space:]]*sandbox_image[[:space:]]*=[[:space:]]*).*|\1\"$PAUSE_IMAGE\"|" \
  "$ctx/kind-base/etc/containerd/config.toml"
grep -q "sandbox_image = \"$PAUSE_IMAGE\"" "$ctx/kind-base/etc/containerd/config.toml" \
  || die "could not set sandbox_image in kind's containerd config"
# Never ask for an OOM score below containerd's own: lowering oom_score_adj needs
# CAP_SYS_RESOURCE, which sandboxed hosts may drop from every process's bounding set
# (runc then fails every pod with "can't get final child's PID from pipe: EOF").
# Harmless elsewhere: kubelet's lowest score (-998) is above containerd's (-999).
sed -i -E "s|^([[:space:]]*restrict_oom_score_adj[[:space:]]*=[[:space:]]*).*|\1true|" \
  "$ctx/kind-base/etc/containerd/config.toml"
grep -q "restrict_oom_score_adj = true" "$ctx/kind-base/etc/containerd/config.toml" \
  || die "could not set restrict_oom_score_adj in kind's containerd config"
for t in kubeadm kubelet kubectl; do cp "$(tool_cache_path "$t")" "$ctx/rootfs/usr/bin/$t"; done
cp "$(tool_cache_path crictl)" "$ctx/rootfs/usr/local/bin/crictl"
printf '%s' "$KUBERNETES_VERSION" >"$ctx/rootfs/kind/version"
sed -e "s|@PROVISIONER_IMAGE@|$PROVISIONER_IMAGE|g" -e "s|@HELPER_IMAGE@|$HELPER_IMAGE|g" \
  "$HERE/node/default-storage.yaml" >"$ctx/rootfs/kind/manifests/default-storage.yaml"
sed -e "s|@POD_SUBNET@|$POD_SUBNET|g" "$HERE/node/10-readside.conflist" >"$ctx/rootfs/etc/cni/net.d/10-readside.conflist"
cp "$HERE/node/Dockerfile" "$ctx/Dockerfile"
step node-rootfs "node root filesystem (Debian systemd, containerd, runc, CNI)" \
  "${NICE[@]}" docker build --build-arg "BASE_IMAGE=$DEBIAN_BASE_IMAGE" -t "readside/kind-node-build:$key" "$ctx"

# --- 3. images into the node's containerd, then commit ------------------------------------
cid="$(docker run -d --privileged --entrypoint sleep "readside/kind-node-build:$key" infinity)"
docker exec "$cid" bash -c 'nohup containerd >/var/log/containerd-build.log 2>&1 &'
deadline=$((SECONDS + 60))
until docker exec "$cid" ctr version >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || { docker exec "$cid" cat /var/log/containerd-build.log >&2; die "containerd did not start"; }
  sleep 1
done
import_images() {
  run docker exec -i "$cid" ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned \
    --all-platforms --no-unpack --digests - <"$stage/images.tar"
}
step node-import "importing the component images into the node's containerd" import_images
imported="$(docker exec "$cid" ctr --namespace=k8s.io images list -q)"
for ref in "${ALL_IMAGES[@]}"; do
  # containerd lists short names in their normalized, fully qualified form.
  awk -v ref="$ref" '$0 == ref || substr($0, length($0) - length(ref)) == "/" ref { found = 1 }
    END { exit !found }' <<<"$imported" \
    || die "image ${ref##*/} is missing in the node's containerd after import"
done
docker exec "$cid" pkill containerd || true
sleep 2
docker commit \
  --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' \
  --change 'CMD []' \
  "$cid" "$NODE_IMAGE" >/dev/null
docker rm -f "$cid" >/dev/null
cid=""
docker rmi "readside/kind-node-build:$key" >/dev/null 2>&1 || true
echo "$NODE_IMAGE" >"$READSIDE_LOCAL/kind/node-image"
# Drop node images of earlier inputs (~1 GB each); one still used by a cluster stays.
docker image ls --format '{{.Repository}}:{{.Tag}}' readside/kind-node | grep -vxF "$NODE_IMAGE" \
  | xargs -r docker rmi >/dev/null 2>&1 || true
log "built $NODE_IMAGE in $((SECONDS - started))s"
echo "$NODE_IMAGE"

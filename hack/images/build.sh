#!/usr/bin/env bash
# make images: make the project's base images available to the local Docker engine.
#
# Usage: hack/images/build.sh [debian-base|python|postgres|redis|kafka ...]   (default: all)
#
# For each image named in hack/images/images.env:
#   present locally          -> nothing to do;
#   can be pulled            -> pulled (machines with registry access use the public
#                               images unchanged; READSIDE_IMAGES_PULL=never skips this);
#   otherwise                -> built here: a Debian root filesystem from debootstrap,
#                               `docker import`ed as the base, then Debian's packages
#                               (Python, PostgreSQL, Redis) or the Maven Central jars (Kafka).
# READSIDE_IMAGES_REBUILD=1 forces the local build of the named images even when they
# exist (the Debian base is re-imported only when its root filesystem changed).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../toolchain/lib.sh
. "$HERE/../toolchain/lib.sh"
set -a
# shellcheck source=images.env
. "$HERE/images.env"
set +a

"$READSIDE_REPO/hack/docker/ensure-dockerd.sh"

have() { docker image inspect "$1" >/dev/null 2>&1; }

try_pull() {
  [ "${READSIDE_IMAGES_PULL:-auto}" = never ] && return 1
  log "trying to pull $1"
  timeout "${READSIDE_PULL_TIMEOUT:-60}" docker pull -q "$1" >/dev/null 2>&1
}

label() { docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

debian_base() {
  local tarball
  tarball="$("$HERE/rootfs.sh" base minbase ca-certificates)"
  # Re-import only when the root filesystem changed: each import gets a new image id,
  # which would make every derived image look stale.
  if [ "$(label "$DEBIAN_BASE_IMAGE" dev.readside.rootfs)" = "$(basename "$tarball")" ]; then
    return
  fi
  log "docker import $tarball as $DEBIAN_BASE_IMAGE"
  docker import \
    --change "LABEL dev.readside.rootfs=$(basename "$tarball")" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    "$tarball" "$DEBIAN_BASE_IMAGE" >/dev/null
}

local_build() {
  local what="$1" name="$2"
  shift 2
  debian_base
  log "building $name locally (hack/images/$what)"
  "${NICE[@]}" docker build -q --build-arg "BASE_IMAGE=$DEBIAN_BASE_IMAGE" "$@" \
    --label "org.opencontainers.image.title=readside local $what" \
    --label "dev.readside.base=$(docker image inspect -f '{{.Id}}' "$DEBIAN_BASE_IMAGE")" \
    --label "dev.readside.local-build=true" \
    -t "$name" "$HERE/$what" >/dev/null
}

ensure() {
  local what="$1" name="$2"
  shift 2
  local started=$SECONDS
  if [ -z "${READSIDE_IMAGES_REBUILD:-}" ]; then
    if have "$name" && [ "$(label "$name" dev.readside.local-build)" = true ]; then
      # Our own earlier build: reuse it unless the Debian base changed since.
      debian_base
      if [ "$(label "$name" dev.readside.base)" = "$(docker image inspect -f '{{.Id}}' "$DEBIAN_BASE_IMAGE")" ]; then
        log "$name: present (local build)"; return
      fi
      log "$name: the Debian base changed, rebuilding"
      local_build "$what" "$name" "$@"
      log "$name: built locally in $((SECONDS - started))s"
      return
    fi
    if have "$name"; then log "$name: present"; return; fi
    if try_pull "$name"; then log "$name: pulled"; return; fi
  fi
  local_build "$what" "$name" "$@"
  log "$name: built locally in $((SECONDS - started))s"
}

main() {
  local -a wanted=("$@")
  [ ${#wanted[@]} -eq 0 ] && wanted=(python postgres redis kafka)
  local w
  for w in "${wanted[@]}"; do
    case "$w" in
      debian-base) debian_base ;;
      python) ensure python "$PYTHON_BASE_IMAGE" ;;
      postgres) ensure postgres "$POSTGRES_IMAGE" ;;
      redis) ensure redis "$REDIS_IMAGE" ;;
      kafka) ensure kafka "$KAFKA_IMAGE" --build-arg "KAFKA_VERSION=$KAFKA_VERSION" ;;
      *) die "unknown image: $w" ;;
    esac
  done
}

main "$@"

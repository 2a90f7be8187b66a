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

# shellcheck disable=SC2034  # read by log() and run_step in lib.sh
LOG_NAME=images STEP_LOG_DIR="$READSIDE_LOCAL/logs/images"
loud_errors
"$READSIDE_REPO/hack/docker/ensure-dockerd.sh"

have() { docker image inspect "$1" >/dev/null 2>&1; }

try_pull() {
  [ "${READSIDE_IMAGES_PULL:-auto}" = never ] && return 1
  log "trying to pull $1"
  timeout "${READSIDE_PULL_TIMEOUT:-60}" docker pull -q "$1" >/dev/null 2>&1
}

label() { docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

DEBIAN_BASE_CHECKED=""
debian_base() {
  local tarball
  [ -z "$DEBIAN_BASE_CHECKED" ] || return 0
  DEBIAN_BASE_CHECKED=1
  # rootfs.sh prints the tarball at once when it is cached; otherwise debootstrap (~1 min).
  if ! tarball="$("$HERE/rootfs.sh" --cached base minbase ca-certificates)"; then
    step debian-rootfs "Debian $DEBIAN_SUITE root filesystem (debootstrap)" \
      "$HERE/rootfs.sh" base minbase ca-certificates
    tarball="$("$HERE/rootfs.sh" --cached base minbase ca-certificates)"
  fi
  # Re-import only when the root filesystem changed: each import gets a new image id,
  # which would make every derived image look stale.
  if [ "$(label "$DEBIAN_BASE_IMAGE" dev.readside.rootfs)" = "$(basename "$tarball")" ]; then
    return
  fi
  step debian-import "docker import $(basename "$tarball") as $DEBIAN_BASE_IMAGE" docker import \
    --change "LABEL dev.readside.rootfs=$(basename "$tarball")" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    "$tarball" "$DEBIAN_BASE_IMAGE"
}

local_build() {
  local what="$1" name="$2"
  shift 2
  debian_base
  step "$what" "building $name locally (hack/images/$what)" \
    "${NICE[@]}" docker build --build-arg "BASE_IMAGE=$DEBIAN_BASE_IMAGE" "$@" \
    --label "org.opencontainers.image.title=readside local $what" \
    --label "dev.readside.base=$(docker image inspect -f '{{.Id}}' "$DEBIAN_BASE_IMAGE")" \
    --label "dev.readside.local-build=true" \
    -t "$name" "$HERE/$what"
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
        RESULT="present (local build)"; return
      fi
      log "$name: the Debian base changed, rebuilding"
      local_build "$what" "$name" "$@"
      RESULT="rebuilt locally|$((SECONDS - started))"
      return
    fi
    if have "$name"; then RESULT=present; return; fi
    if try_pull "$name"; then RESULT="pulled|$((SECONDS - started))"; return; fi
  fi
  local_build "$what" "$name" "$@"
  RESULT="built locally|$((SECONDS - started))"
}

main() {
  local -a wanted=("$@") rows=()
  [ ${#wanted[@]} -eq 0 ] && wanted=(python postgres redis kafka)
  local w i=0 started=$SECONDS row
  for w in "${wanted[@]}"; do
    i=$((i + 1))
    RESULT=""
    case "$w" in
      debian-base) debian_base; continue ;;
      python) ensure python "$PYTHON_BASE_IMAGE" ;;
      postgres) ensure postgres "$POSTGRES_IMAGE" ;;
      redis) ensure redis "$REDIS_IMAGE" ;;
      kafka) ensure kafka "$KAFKA_IMAGE" --build-arg "KAFKA_VERSION=$KAFKA_VERSION" ;;
      *) die "unknown image: $w" ;;
    esac
    log "[$i/${#wanted[@]}] $w: ${RESULT%%|*}$([ "${RESULT#*|}" != "$RESULT" ] && echo " in $(fmt_secs "${RESULT#*|}")") (elapsed $(fmt_secs $((SECONDS - started))); remaining: ${wanted[*]:$i})"
    rows+=("$w|$RESULT")
  done
  [ ${#rows[@]} -gt 0 ] || return 0
  log "summary (total $(fmt_secs $((SECONDS - started)))):"
  for row in "${rows[@]}"; do
    IFS='|' read -r w result secs <<<"$row"
    printf '  %-9s %-22s %s\n' "$w" "$result" "$([ -n "${secs:-}" ] && fmt_secs "$secs")" >&2
  done
}

main "$@"

#!/usr/bin/env bash
# make cold-proof: the whole kind path as a new machine runs it, timed step by step.
# Not run by CI (about an hour on two cores). docs/airgap.md, "Cold proof", has the results.
#
# In a fresh clone of this repository's HEAD (commit first: uncommitted changes are not in
# the proof) and with every cache in a throwaway folder:
#   READSIDE_CACHE, Go's GOMODCACHE and GOCACHE, npm's and Yarn's caches, uv's cache;
# and with the project's Docker images and the kind cluster deleted first (Docker has one
# image store per engine, so the images cannot live in a throwaway folder; they are
# rebuilt by the proof and stay afterwards), it runs, stopping at the first failure:
#   make toolchain, make images, make node-image, make kind-up, make e2e
# and prints a table: each step's time, exit status and the load average during it.
#
# Env:
#   READSIDE_COLD_DIR    the throwaway folder (default: a new one under ${TMPDIR:-/tmp});
#                        deleted at the end of a passing run unless READSIDE_COLD_KEEP=1
#   READSIDE_COLD_STEPS  the make targets to run (default: toolchain images node-image kind-up e2e)
#   READSIDE_COLD_DOCKER wipe (default): delete the project's images, Docker's build cache
#                        and the kind cluster first; keep: leave Docker alone (then the
#                        images are NOT cold, and the table says so)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=../images/images.env
. "$REPO/hack/images/images.env"

# shellcheck disable=SC2206  # a list of make targets, split on spaces
STEPS=(${READSIDE_COLD_STEPS:-toolchain images node-image kind-up e2e})
DOCKER_MODE="${READSIDE_COLD_DOCKER:-wipe}"
COLD="${READSIDE_COLD_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/readside-cold.XXXXXX")}"
mkdir -p "$COLD/logs"
say() { printf '[cold-proof] %s\n' "$*" >&2; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# --- a fresh clone and throwaway caches -----------------------------------------------------
[ -z "$(git -C "$REPO" status --porcelain --untracked-files=no)" ] \
  || say "WARNING: uncommitted changes in $REPO are not part of the proof (it clones HEAD)"
commit="$(git -C "$REPO" rev-parse HEAD)"
rm -rf "$COLD/clone"
git clone --quiet --no-hardlinks "$REPO" "$COLD/clone"
git -C "$COLD/clone" checkout --quiet --detach "$commit"
export READSIDE_CACHE="$COLD/cache" \
  GOMODCACHE="$COLD/go/mod" GOCACHE="$COLD/go/build" \
  npm_config_cache="$COLD/npm" YARN_CACHE_FOLDER="$COLD/yarn/cache" YARN_GLOBAL_FOLDER="$COLD/yarn/global" \
  UV_CACHE_DIR="$COLD/uv"
say "clone of $commit in $COLD/clone; caches under $COLD (READSIDE_CACHE, GOMODCACHE, GOCACHE, npm, yarn, uv)"

# --- the Docker side: the project's images and the cluster ------------------------------------
wipe_docker() {
  bash "$REPO/hack/docker/ensure-dockerd.sh"
  docker rm -f readside-control-plane >/dev/null 2>&1 || true
  local images
  # Our local builds are labelled; the node image, app and Tilt images are readside*; the
  # base images go by the names of images.env (pulled or built).
  images="$( {
    docker image ls -q --filter label=dev.readside.local-build=true
    docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -E '^readside[/-]' || true
    for name in "$PYTHON_BASE_IMAGE" "$POSTGRES_IMAGE" "$REDIS_IMAGE" "$KAFKA_IMAGE" "$DEBIAN_BASE_IMAGE"; do
      docker image inspect -f '{{.Id}}' "$name" 2>/dev/null || true
    done
  } | sort -u)"
  say "deleting $(printf '%s\n' "$images" | grep -c . || true) images, Docker's build cache and the kind node"
  [ -z "$images" ] || printf '%s\n' "$images" | xargs docker rmi -f >"$COLD/logs/docker-wipe.log" 2>&1 || true
  docker builder prune -af >>"$COLD/logs/docker-wipe.log" 2>&1 || true
  docker image prune -f >>"$COLD/logs/docker-wipe.log" 2>&1 || true
}
case "$DOCKER_MODE" in
  wipe) wipe_docker ;;
  keep) say "READSIDE_COLD_DOCKER=keep: Docker's images are left alone (images and node image NOT cold)" ;;
  *) say "READSIDE_COLD_DOCKER must be wipe or keep, not $DOCKER_MODE"; exit 2 ;;
esac

# --- the steps -----------------------------------------------------------------------------------
(while sleep 15; do echo "$(date +%s) $(load1)"; done) >"$COLD/load.txt" &
sampler=$!
trap 'kill "$sampler" 2>/dev/null || true' EXIT

rows=() status=0 total_started=$SECONDS
for target in "${STEPS[@]}"; do
  started=$SECONDS t0="$(date +%s)" load_start="$(load1)" rc=0
  say "make $target (log: $COLD/logs/$target.log)"
  make -C "$COLD/clone" "$target" 2>&1 | tee "$COLD/logs/$target.log" || rc=$?
  secs=$((SECONDS - started))
  load_max="$( { awk -v t0="$t0" '$1 >= t0 { print $2 }' "$COLD/load.txt"; echo "$load_start"; load1; } | sort -g | tail -n 1)"
  # shellcheck disable=SC2016  # backquotes for Markdown
  rows+=("$(printf '| `make %s` | %dm%02ds | %d | %s | %s | %s |' "$target" $((secs / 60)) $((secs % 60)) "$rc" \
    "$load_start" "$(load1)" "$load_max")")
  if [ "$rc" -ne 0 ]; then
    status=$rc
    say "make $target failed (exit $rc); the steps after it were not run"
    break
  fi
done
secs=$((SECONDS - total_started))

{
  echo "Cold proof of $commit on $(hostname), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores;"
  echo "throwaway caches under $COLD; Docker images: $([ "$DOCKER_MODE" = wipe ] && echo 'deleted first (cold)' || echo 'kept (NOT cold)')."
  echo
  echo "| step | time | exit | load at start | load at end | load max (1-min avg) |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  printf '| total | %dm%02ds | %d | | | |\n' $((secs / 60)) $((secs % 60)) "$status"
} | tee "$COLD/cold-proof.md"

if [ "$status" -eq 0 ] && [ "${READSIDE_COLD_KEEP:-0}" != 1 ]; then
  cp "$COLD/cold-proof.md" "${TMPDIR:-/tmp}/readside-cold-proof-$(date -u +%Y%m%dT%H%M%SZ).md"
  chmod -R u+w "$COLD" 2>/dev/null || true # Go's module cache is read-only
  rm -rf "$COLD"
  say "passed; throwaway folder deleted (table kept in ${TMPDIR:-/tmp}/readside-cold-proof-*.md)"
else
  say "throwaway folder kept: $COLD (logs/, cold-proof.md)"
fi
exit "$status"

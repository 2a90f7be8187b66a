#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine (idempotent).
#
# - installs Debian's docker.io when no dockerd binary is present (needs root + apt),
# - starts dockerd in the background when `docker info` does not answer, with its
#   log and pid file under <repo>/.local/docker/ (no systemd needed),
# - waits until `docker info` answers.
#
# - on hosts whose capability bounding set is incomplete (a sandbox that drops, e.g.,
#   CAP_SYS_RESOURCE), registers hack/docker/runc-capfilter as Docker's default runtime
#   (in /etc/docker/daemon.json, applied with SIGHUP to a running dockerd): without it
#   every --privileged container, hence every kind node, fails to start.
#
# Env: READSIDE_DOCKERD_TIMEOUT (seconds to wait, default 60).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="$REPO/.local/docker"
TIMEOUT="${READSIDE_DOCKERD_TIMEOUT:-60}"

log() { printf '[ensure-dockerd] %s\n' "$*" >&2; }

CAPFILTER_RUNTIME=readside-runc
DAEMON_JSON=/etc/docker/daemon.json

bounding_set_incomplete() {
  local last bnd
  last="$(cat /proc/sys/kernel/cap_last_cap 2>/dev/null)" || return 1
  bnd="$(awk '/^CapBnd:/{print $2}' /proc/self/status)"
  [ $((16#$bnd)) -ne $(((1 << (last + 1)) - 1)) ]
}

# Register the capability-filtering runtime as the default one (idempotent).
configure_capfilter() {
  local cache="${READSIDE_CACHE:-$HOME/.cache/readside}/docker" wrapper
  wrapper="$cache/runc-capfilter"
  mkdir -p "$cache" /etc/docker
  if ! cmp -s "$REPO/hack/docker/runc-capfilter" "$wrapper"; then
    install -m 0755 "$REPO/hack/docker/runc-capfilter" "$wrapper"
  fi
  python3 - "$DAEMON_JSON" "$CAPFILTER_RUNTIME" "$wrapper" <<'PY'
import json, os, sys
path, name, wrapper = sys.argv[1:]
config = {}
if os.path.exists(path):
    with open(path) as f:
        config = json.load(f)
wanted = dict(config)
wanted.setdefault("runtimes", {})[name] = {"path": wrapper}
wanted["default-runtime"] = name
if wanted != config:
    with open(path + ".tmp", "w") as f:
        json.dump(wanted, f, indent=2)
    os.replace(path + ".tmp", path)
PY
}

default_runtime() { docker info --format '{{.DefaultRuntime}}' 2>/dev/null; }

if bounding_set_incomplete && [ "$(id -u)" = 0 ]; then
  configure_capfilter
  if docker info >/dev/null 2>&1 && [ "$(default_runtime)" != "$CAPFILTER_RUNTIME" ]; then
    log "capability bounding set is incomplete: reloading dockerd with the $CAPFILTER_RUNTIME runtime"
    # SIGHUP makes dockerd reload runtimes/default-runtime; it keeps running containers.
    kill -HUP "$(cat "$STATE/dockerd.pid" 2>/dev/null || pidof -s dockerd)"
    for _ in $(seq 1 20); do
      [ "$(default_runtime)" = "$CAPFILTER_RUNTIME" ] && break
      sleep 0.5
    done
    [ "$(default_runtime)" = "$CAPFILTER_RUNTIME" ] || log "WARNING: dockerd did not pick up $DAEMON_JSON"
  fi
fi

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "no dockerd and cannot install it (need root and apt-get); install a Docker engine"
    exit 1
  fi
  log "installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi
if ! command -v docker >/dev/null 2>&1; then
  log "dockerd is installed but no docker CLI was found on PATH"
  exit 1
fi

# Another dockerd may already be starting (e.g. a concurrent run of this script).
if ! pgrep -x dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    log "dockerd is not running and starting it needs root"
    exit 1
  fi
  mkdir -p "$STATE"
  log "starting dockerd (log: $STATE/dockerd.log)"
  # setsid: keep dockerd alive after this script and its caller's process group exit.
  setsid dockerd --pidfile "$STATE/dockerd.pid" >>"$STATE/dockerd.log" 2>&1 </dev/null &
fi

deadline=$((SECONDS + TIMEOUT))
until docker info >/dev/null 2>&1; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    log "docker info did not answer within ${TIMEOUT}s; last lines of $STATE/dockerd.log:"
    tail -n 20 "$STATE/dockerd.log" >&2 || true
    exit 1
  fi
  sleep 1
done
log "docker engine is up ($(docker version --format '{{.Server.Version}} API {{.Server.APIVersion}}' 2>/dev/null))"

#!/usr/bin/env bash
# Start and stop the Readside processes (projection, query) on this machine, for `make up`.
# Idempotent: a service already running is left alone. State (pids, logs) lives in .local/run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="$ROOT/.local/run"
mkdir -p "$RUN"

# The services read the stack's URLs (DATABASE_URL, REDIS_URL, KAFKA_BROKERS).
eval "$(bash "$ROOT/hack/stack/stack.sh" env)"
# Loopback only, as the README says (the images bind 0.0.0.0).
export HOST="${HOST:-127.0.0.1}" OPS_HOST="${OPS_HOST:-127.0.0.1}"
export PORT="${PORT:-8081}" OPS_PORT="${OPS_PORT:-9091}" KAFKA_TOPIC="${KAFKA_TOPIC:-order-events}"

running() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

port_taken() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

start_one() {
  local name=$1 port=$2; shift 2
  if running "$name"; then echo "$name: already running (pid $(cat "$RUN/$name.pid"))"; return; fi
  if port_taken "$port"; then
    echo "$name: port $port is already in use by another process:" >&2
    ss -Hltnp "sport = :$port" >&2 || true
    echo "stop it (or set PORT / OPS_PORT) and run make up again" >&2
    exit 1
  fi
  # The venv's own executable in a session of its own. The process writes its own pid
  # (setsid may fork, so $! could name a short-lived parent); `stop` signals its group.
  (cd "$ROOT" && setsid bash -c 'echo $$ >"$0"; exec "$@"' "$RUN/$name.pid" \
     "$ROOT/.venv/bin/$1" "${@:2}" >"$RUN/$name.log" 2>&1 </dev/null &)
  for _ in $(seq 1 50); do [[ -s "$RUN/$name.pid" ]] && break; sleep 0.1; done
  echo "$name: started (log: .local/run/$name.log)"
}

wait_http() {
  local name=$1 url=$2 deadline=$((SECONDS + 60))
  until curl -fs -o /dev/null "$url"; do
    if ! running "$name"; then echo "$name exited; last lines of its log:" >&2; tail -n 30 "$RUN/$name.log" >&2; exit 1; fi
    if (( SECONDS > deadline )); then echo "$name not ready at $url after 60s" >&2; tail -n 30 "$RUN/$name.log" >&2; exit 1; fi
    sleep 0.5
  done
  echo "$name: ready at $url"
}

stop_one() {
  local name=$1
  if running "$name"; then
    local pid; pid=$(cat "$RUN/$name.pid")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    echo "$name: stopped"
  fi
  rm -f "$RUN/$name.pid"
}

case "${1:-}" in
  start)
    start_one projection "$OPS_PORT" readside-projection run
    start_one query "$PORT" readside-query
    wait_http projection "http://127.0.0.1:$OPS_PORT/readyz"
    wait_http query "http://127.0.0.1:$PORT/readyz"
    ;;
  stop) stop_one query; stop_one projection ;;
  status) for s in projection query; do running "$s" && echo "$s running" || echo "$s stopped"; done ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

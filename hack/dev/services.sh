#!/usr/bin/env bash
# Start and stop the Readside processes (projection, query) on this machine, for `make up`.
# Idempotent: a service already running is left alone. State (pids, logs) lives in .local/run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN="$ROOT/.local/run"
mkdir -p "$RUN"

# The services read the stack's URLs (DATABASE_URL, REDIS_URL, KAFKA_BROKERS).
eval "$(bash "$ROOT/hack/stack/stack.sh" env)"
export PORT="${PORT:-8081}" OPS_PORT="${OPS_PORT:-9091}" KAFKA_TOPIC="${KAFKA_TOPIC:-order-events}"

running() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

start_one() {
  local name=$1; shift
  if running "$name"; then echo "$name: already running (pid $(cat "$RUN/$name.pid"))"; return; fi
  (cd "$ROOT" && setsid nohup uv run --frozen "$@" >"$RUN/$name.log" 2>&1 & echo $! >"$RUN/$name.pid")
  echo "$name: started (log: .local/run/$name.log)"
}

wait_http() {
  local name=$1 url=$2 deadline=$((SECONDS + 60))
  until curl -fsS -o /dev/null "$url"; do
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
    start_one projection readside-projection run
    start_one query readside-query
    wait_http projection "http://127.0.0.1:$OPS_PORT/readyz"
    wait_http query "http://127.0.0.1:$PORT/readyz"
    ;;
  stop) stop_one query; stop_one projection ;;
  status) for s in projection query; do running "$s" && echo "$s running" || echo "$s stopped"; done ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

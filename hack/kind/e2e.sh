#!/usr/bin/env bash
# make e2e's three stages, after kind-up and the image loads: `tilt ci` (the sample orders
# served), the kind e2e suite with live update, `helm test`. Every stage runs and reports
# even when an earlier one failed; the exit status is the first failure's.
#
# Env (set by hack/mk/deploy.mk): E2E_NAMESPACE, KIND_PYTEST (a command, word-split), and
# PATH/KUBECONFIG/DOCKER_API_VERSION pointing at the pinned tools and the kind cluster.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit
: "${E2E_NAMESPACE:?}" "${KIND_PYTEST:?}"

# A free local port, drawn at each use: `tilt ci` must not need 8081/9091/10350, which
# `make up` or a developer's `tilt up` may hold.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

status=0
failed=""
rows=()
stage() {  # stage NAME COMMAND...: run it, report its time and exit status, keep the first failure
  local name="$1" started=$SECONDS rc=0
  shift
  echo "== $name"
  "$@" || rc=$?
  rows+=("$(printf '%-16s %5d s   exit %d' "$name" $((SECONDS - started)) "$rc")")
  echo "== $name: exit $rc after $((SECONDS - started)) s"
  if [ "$rc" -ne 0 ] && [ "$status" -eq 0 ]; then
    status=$rc failed="$name"
  fi
}

stage "tilt ci" env READSIDE_TILT_QUERY_PORT="$(free_port)" READSIDE_TILT_OPS_PORT="$(free_port)" \
  tilt ci --port "$(free_port)" --timeout 20m
# shellcheck disable=SC2086  # KIND_PYTEST is a command line ("uv run --frozen pytest")
stage "kind e2e suite" env READSIDE_E2E_NAMESPACE="$E2E_NAMESPACE" READSIDE_E2E_LIVE_UPDATE=1 \
  $KIND_PYTEST -m kind e2e/kind
stage "helm test" helm test readside -n "$E2E_NAMESPACE" --logs --timeout 5m

echo "== make e2e stages"
printf '  %s\n' "${rows[@]}"
if [ "$status" -ne 0 ]; then
  echo "== make e2e FAILED: first failure in '$failed' (exit $status)"
else
  echo "== make e2e passed"
fi
exit "$status"

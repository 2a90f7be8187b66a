#!/usr/bin/env bash
# Build Tilt's web UI (React) for the pinned Tilt version, from the web/ folder of the
# Tilt module and npm packages, into $READSIDE_CACHE/toolchain/tilt-web/<version>/.
#
# Why: a Tilt built with `go build` has no compiled UI (the module's pkg/assets/build only
# holds robots.txt). With a version stamped, Tilt runs in "prod" web mode and refuses to
# start `tilt up` without embedded assets; unstamped, it is a dev build that wants a
# webpack dev server. build.sh embeds what this script produces.
#
# If the UI cannot be built (no npm, registry unreachable), a one-page placeholder is
# written instead so that `tilt up`/`tilt ci` still work; the page says so.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out="$READSIDE_CACHE/toolchain/tilt-web/$TILT_VERSION"
if [ -f "$out/index.html" ]; then
  echo "$out"
  exit 0
fi
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/tilt-dev/tilt"
mkdir -p "$READSIDE_CACHE/work"
dir="$(cd "$READSIDE_CACHE/work" && go mod download -json "github.com/tilt-dev/tilt@$TILT_VERSION" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
src="$READSIDE_CACHE/work/tilt-web-$TILT_VERSION"
rm -rf "$src" "$out.tmp"
# The parent of $out.tmp must exist before the first `cp -a`/`mkdir` into it: on a cold
# machine nothing else creates $READSIDE_CACHE/toolchain/tilt-web/.
mkdir -p "$(dirname "$out")"
cp -a "$dir/web" "$src"
chmod -R u+w "$src"

placeholder() {
  mkdir -p "$out.tmp"
  cat >"$out.tmp/index.html" <<'HTML'
<!doctype html>
<html><head><meta charset="utf-8"><title>Tilt</title></head>
<body><h1>Tilt web UI not built</h1>
<p>This Tilt was built from source on a machine that could not build its web UI
(see docs/airgap.md). Use <code>tilt up --stream</code>, <code>tilt ci</code> or
<code>tilt get uiresources</code>.</p></body></html>
HTML
  echo placeholder >"$out.tmp/READSIDE_PLACEHOLDER"
}

# web/ pins Yarn 4 (.yarnrc.yml yarnPath); the Yarn 1 launcher from npm hands over to it.
build_ui() {
  cd "$src"
  export CI=true BROWSERSLIST_IGNORE_OLD_DATA=1 GENERATE_SOURCEMAP=false
  "${NICE[@]}" npx --yes yarn@1.22.22 install --immutable >&2 || return 1
  "${NICE[@]}" npx --yes yarn@1.22.22 run build >&2 || return 1
  [ -f "$src/build/index.html" ]
}

if command -v npx >/dev/null 2>&1 && (build_ui); then
  cp -a "$src/build" "$out.tmp"
  log "Tilt web UI built: $out"
else
  log "WARNING: could not build the Tilt web UI; embedding a placeholder page"
  rm -rf "$out.tmp"
  placeholder
fi
rm -rf "$src"
mv "$out.tmp" "$out"
echo "$out"

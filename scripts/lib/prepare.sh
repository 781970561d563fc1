#!/usr/bin/env bash
# Shared by scripts/start, scripts/test and the Dockerfile: install npm dependencies when
# missing or stale, build the native addons (RTP I/O, SRTP) when missing or stale, then build dist/ when
# any source is newer than it.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "confnode: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
# The native addons: native/rtpio (batched RTP sockets; without it plain RTP uses Node's dgram)
# and native/srtp (keyed SRTP contexts; without it SRTP uses Node's crypto per packet). Each is
# built when missing or stale; a failed build is said and the node falls back, slower.
build_addon() {
  local name=$1 fallback=$2 addon="native/$1/build/Release/$1.node"
  if [ ! -f "$addon" ] || [ -n "$(find "native/$name/$name.c" "native/$name/binding.gyp" -newer "$addon" -print -quit 2>/dev/null)" ]; then
    echo "confnode: building native/$name (node-gyp)"
    npm run --silent "build:native:$name" || echo "confnode: native/$name did not build: $fallback" >&2
  fi
}
build_addon rtpio "plain RTP will use Node's dgram (slower)"
build_addon srtp "SRTP will use Node's crypto per packet (slower)"
if [ ! -f dist/node/main.js ] || [ -n "$(find src tsconfig.json tsconfig.build.json package.json -newer dist/node/main.js -print -quit 2>/dev/null)" ]; then
  echo "confnode: building (tsc)"
  rm -rf dist
  npx --no-install tsc -p tsconfig.build.json
fi

#!/usr/bin/env bash
# Shared by scripts/start, scripts/test and the Dockerfile: install npm dependencies when
# missing or stale, build the native RTP I/O addon when missing or stale, then build dist/ when
# any source is newer than it.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "confnode: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
# The batched RTP socket addon (native/rtpio); without it the node falls back to dgram, slower.
addon=native/rtpio/build/Release/rtpio.node
if [ ! -f "$addon" ] || [ -n "$(find native/rtpio/rtpio.c native/rtpio/binding.gyp -newer "$addon" -print -quit 2>/dev/null)" ]; then
  echo "confnode: building native/rtpio (node-gyp)"
  npm run --silent build:native || echo "confnode: native/rtpio did not build: plain RTP will use Node's dgram (slower)" >&2
fi
if [ ! -f dist/node/main.js ] || [ -n "$(find src tsconfig.json tsconfig.build.json package.json -newer dist/node/main.js -print -quit 2>/dev/null)" ]; then
  echo "confnode: building (tsc)"
  rm -rf dist
  npx --no-install tsc -p tsconfig.build.json
fi

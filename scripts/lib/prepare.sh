#!/usr/bin/env bash
# Shared by scripts/start, scripts/test and the Dockerfile: install npm dependencies when
# missing or stale, then build dist/ when any source is newer than it.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "confnode: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ ! -f dist/node/main.js ] || [ -n "$(find src tsconfig.json tsconfig.build.json package.json -newer dist/node/main.js -print -quit 2>/dev/null)" ]; then
  echo "confnode: building (tsc)"
  rm -rf dist
  npx --no-install tsc -p tsconfig.build.json
fi

#!/usr/bin/env bash
# Bench only: `ensure-tool.sh COMMAND PACKAGE` installs Debian's PACKAGE when COMMAND is missing
# and we are root (the backplane bench's tcpdump, say). Prints one line saying what it did; exit 0
# when COMMAND is there afterwards, 1 otherwise. Never run by scripts/test.
set -uo pipefail
cmd=${1:?command} pkg=${2:?package}
if command -v "$cmd" >/dev/null 2>&1; then
  echo "ensure-tool: $cmd is installed"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-tool: $cmd is missing (Debian: apt-get install $pkg)"
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "ensure-tool: installing the Debian package $pkg"
apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1 ||
  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1; }
if command -v "$cmd" >/dev/null 2>&1; then
  echo "ensure-tool: installed $pkg"
  exit 0
fi
echo "ensure-tool: apt-get install $pkg failed"
exit 1

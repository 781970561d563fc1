#!/usr/bin/env bash
# Bench only (bench/run.ts calls it before a Janus series): installs Debian's `janus` (1.1.2 on
# bookworm) when it is missing and we are root, without letting the package start its service
# (the bench runs its own instance with its own config on free loopback ports). Prints one line
# saying what it did; exit 0 when `janus` and its AudioBridge plugin are there, 1 otherwise.
set -uo pipefail

have_janus() {
  command -v janus >/dev/null 2>&1 || return 1
  compgen -G '/usr/lib/*/janus/plugins/libjanus_audiobridge.so' >/dev/null ||
    [ -e /usr/lib/janus/plugins/libjanus_audiobridge.so ] ||
    [ -e /usr/local/lib/janus/plugins/libjanus_audiobridge.so ] ||
    [ -e /opt/janus/lib/janus/plugins/libjanus_audiobridge.so ]
}

if have_janus; then
  echo "ensure-janus: $(janus --version 2>/dev/null | head -1)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-janus: janus is not installed and this is not root (Debian: apt-get install janus)"
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-janus: janus is not installed and there is no apt-get"
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && guard=1
fi
echo "ensure-janus: installing the Debian package janus"
ok=1
apt-get install -y -qq --no-install-recommends janus >/dev/null 2>&1 ||
  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends janus >/dev/null 2>&1; } || ok=0
[ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
if [ "$ok" = 1 ] && have_janus; then
  echo "ensure-janus: installed $(janus --version 2>/dev/null | head -1)"
  exit 0
fi
echo "ensure-janus: apt-get install janus failed"
exit 1

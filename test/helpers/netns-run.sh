#!/usr/bin/env bash
# Runs a command inside the private network namespace that `unshare -n` just created for it:
# brings up lo (the only interface) and execs the command. Must never touch the host's interfaces.
# Usage: unshare -n bash test/helpers/netns-run.sh CMD [ARGS...]
set -euo pipefail
if [ "$#" -lt 1 ]; then
  echo "usage: unshare -n bash $0 CMD [ARGS...]" >&2
  exit 2
fi
ip link set lo up
exec "$@"

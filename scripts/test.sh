#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine (as root),
# then runs `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v make >/dev/null 2>&1 || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "scripts/test.sh: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "scripts/test.sh: missing ${need[*]}; install them (apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
exec make test

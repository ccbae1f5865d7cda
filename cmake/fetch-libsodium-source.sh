#!/usr/bin/env bash
# Downloads Debian's libsodium source package (the orig tarball) into $1 through apt, without
# touching the system's apt configuration. Does nothing if the tarball is already cached there.
set -euo pipefail
cache=${1:?usage: fetch-libsodium-source.sh CACHE_DIR}
mkdir -p "$cache"
if ls "$cache"/libsodium_*.orig.tar.gz >/dev/null 2>&1; then exit 0; fi

work=$cache/aptsrc
mkdir -p "$work/lists/partial"
# Same archive as the system's binary packages, but its source indices.
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && sed 's/^Types:.*$/Types: deb-src/' "$f"
  echo
done > "$work/src.sources"
if [ -f /etc/apt/sources.list ]; then
  grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > "$work/src.list" || true
fi
opts=(-oDir::Etc::SourceList=/dev/null "-oDir::Etc::SourceParts=$work" "-oDir::State::Lists=$work/lists"
      -oAPT::Sandbox::User=root)
apt-get "${opts[@]}" -q update
(cd "$cache" && apt-get "${opts[@]}" -q source --download-only libsodium)
ls "$cache"/libsodium_*.orig.tar.gz

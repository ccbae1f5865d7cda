#!/usr/bin/env bash
# Downloads Debian's source package $1 (its .dsc, orig tarball and Debian tarball) into $2 through
# apt, without touching the system's apt configuration: a private deb-src list built from the
# system's own sources, private lists. Does nothing if the .dsc and every file it names are
# already cached there.
set -euo pipefail
package=${1:?usage: fetch-debian-source.sh PACKAGE CACHE_DIR}
cache=${2:?usage: fetch-debian-source.sh PACKAGE CACHE_DIR}
mkdir -p "$cache"

complete() {
  local dsc
  dsc=$(ls "$cache/${package}"_*.dsc 2>/dev/null | head -n 1) || return 1
  [ -n "$dsc" ] || return 1
  # The Files: section lists "md5 size name" for each part of the source package.
  awk '/^Files:/ {f = 1; next} /^[^ ]/ {f = 0} f && NF == 3 {print $3}' "$dsc" | while read -r name; do
    [ -f "$cache/$name" ] || exit 1
  done
}
if complete; then exit 0; fi

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
(cd "$cache" && apt-get "${opts[@]}" -q source --download-only "$package")
complete || { echo "fetch-debian-source.sh: the $package source package is incomplete in $cache" >&2; exit 1; }
rm -rf "$work"  # apt's source indices (~20 MB) are needed only to download
ls "$cache/${package}"_*.dsc

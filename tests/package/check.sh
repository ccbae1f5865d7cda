#!/usr/bin/env bash
# Installs the project into a temporary prefix, builds tests/package/consumer against it with
# find_package(resumable), runs it, and checks that its endpoint answers; the installed commands
# (resumable, resumable-digest) run from the prefix.
set -euo pipefail
build=${1:?usage: check.sh BUILD_DIR}
source_dir=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
coproc CONSUMER { "$work/consumer/consumer" "$work/data"; }
read -r line <&"${CONSUMER[0]}"
url=${line#listening on }
status=$(curl -s -o "$work/reply" -w '%{http_code}' "${url}upload/status?identifier=x")
body=$(cat "$work/reply")
exec {CONSUMER[1]}>&-
wait "$CONSUMER_PID"
echo "anonymous status request: $status $body"
[ "$status" = 401 ] && grep -q '"unauthenticated"' "$work/reply"
printf abc >"$work/abc"
# The tree digest of "abc" (docs/digest.md, worked example), from both installed commands.
expected="d76a5ca3e5bb3d036e73e98abff05145d5ea219d41a785a6fcb5de1669a25758  $work/abc"
[ "$("$work/prefix/bin/resumable" digest "$work/abc")" = "$expected" ]
[ "$("$work/prefix/bin/resumable-digest" "$work/abc")" = "$expected" ]
"$work/prefix/bin/resumable" upload --help | grep -q '^Exit codes:'
echo "installed commands: resumable and resumable-digest print the tree digest"
echo "package consumer built against the installed package and answered as documented"

#!/usr/bin/env bash
# Installs the project into a temporary prefix, builds tests/package/consumer against it with
# find_package(resumable), runs it, and checks that its endpoint answers: over HTTP on 127.0.0.1,
# then over HTTPS on [::1] (the CivetWeb installed with the package has TLS and IPv6). The consumer
# must not load a system libcivetweb: the package's own static CivetWeb is linked in. The installed
# commands (resumable, resumable-digest) run from the prefix.
set -euo pipefail
build=${1:?usage: check.sh BUILD_DIR}
source_dir=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
if ldd "$work/consumer/consumer" | grep -i civetweb; then
  echo "the consumer loads a shared CivetWeb instead of the package's static one" >&2
  exit 1
fi

# Starts the consumer (extra arguments: its TLS certificate), asks for an upload's status without
# logging in (curl options before the URL), and expects 401 unauthenticated.
anonymous_status() {
  local curl_options=$1
  shift
  coproc CONSUMER { "$work/consumer/consumer" "$@"; }
  local line url status
  read -r line <&"${CONSUMER[0]}"
  url=${line#listening on }
  # shellcheck disable=SC2086
  status=$(curl -s $curl_options -o "$work/reply" -w '%{http_code}' "${url}upload/status?identifier=x") || true
  exec {CONSUMER[1]}>&-
  wait "$CONSUMER_PID"
  echo "anonymous status request to $url: $status $(cat "$work/reply" 2>/dev/null)"
  [ "$status" = 401 ] && grep -q '"unauthenticated"' "$work/reply"
  rm -f "$work/reply"
}

anonymous_status "" "$work/data"

# A throwaway certificate for ::1; CivetWeb's ssl_certificate is one PEM with the key and the
# certificate. curl trusts exactly this certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
  -addext subjectAltName=IP:::1 -keyout "$work/key.pem" -out "$work/certificate.pem" 2>/dev/null
cat "$work/key.pem" "$work/certificate.pem" > "$work/server.pem"
anonymous_status "--cacert $work/certificate.pem" "$work/data-tls" "$work/server.pem"
echo "package consumer built against the installed package and answered as documented, over HTTP and HTTPS on [::1]"
printf abc >"$work/abc"
# The tree digest of "abc" (docs/digest.md, worked example), from both installed commands.
expected="d76a5ca3e5bb3d036e73e98abff05145d5ea219d41a785a6fcb5de1669a25758  $work/abc"
[ "$("$work/prefix/bin/resumable" digest "$work/abc")" = "$expected" ]
[ "$("$work/prefix/bin/resumable-digest" "$work/abc")" = "$expected" ]
"$work/prefix/bin/resumable" upload --help | grep -q '^Exit codes:'
echo "installed commands: resumable and resumable-digest print the tree digest"

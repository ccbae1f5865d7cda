#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: Debian's PostgreSQL 15 (initdb, pg_ctl from
# $(pg_config --bindir)) in a fresh temporary directory, listening on 127.0.0.1 only, on a free
# port, with a database for the test; then runs the command with RESUMABLE_PG_CONNINFO set, and
# always stops the cluster and deletes the directory afterwards (also when the command fails or
# the script is interrupted). Start and stop are bounded in time. Exits with the command's status.
#
#   tests/support/postgres_fixture.sh -- COMMAND [ARGS...]
#
# As root the server runs as the `postgres` user (PostgreSQL refuses to run as root), in a
# directory that user owns. The socket directory lives under /tmp: its path must stay below the
# 107 bytes of a Unix socket address. fsync is off: the cluster is thrown away.
set -euo pipefail
if [ "${1:-}" != "--" ] || [ $# -lt 2 ]; then
  echo "usage: $0 -- COMMAND [ARGS...]" >&2
  exit 2
fi
shift

bindir=$(pg_config --bindir)
for tool in initdb pg_ctl createdb; do
  if [ ! -x "$bindir/$tool" ]; then
    echo "postgres_fixture: $bindir/$tool is missing (install the postgresql package)" >&2
    exit 1
  fi
done

dir=$(mktemp -d /tmp/rpg.XXXXXX)
run_as=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  run_as=(runuser -u postgres --)
fi

stop_cluster() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    local pid
    pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
    (cd "$dir" && timeout 20 "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 15 stop >/dev/null 2>&1) || {
      # Not stopped in time: the postmaster started here goes, by its own pid.
      if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    }
  fi
  rm -rf "$dir"
}
trap stop_cluster EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cd "$dir"
if ! timeout 60 "${run_as[@]}" "$bindir/initdb" -D "$dir/data" -A trust -U resumable -E UTF8 --no-sync >"$dir/initdb.log" 2>&1; then
  cat "$dir/initdb.log" >&2
  exit 1
fi
mkdir "$dir/sock"
[ ${#run_as[@]} -eq 0 ] || chown postgres: "$dir/sock"

# A free port (another process may take it before the server does: then start once more).
started=0
for attempt in 1 2 3; do
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if timeout 40 "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
       -o "-k $dir/sock -p $port -h 127.0.0.1 -c fsync=off -c max_connections=50" start >/dev/null; then
    started=1
    break
  fi
done
if [ "$started" != 1 ]; then
  echo "postgres_fixture: the server did not start:" >&2
  cat "$dir/server.log" >&2 || true
  exit 1
fi
timeout 20 "$bindir/createdb" -h 127.0.0.1 -p "$port" -U resumable resumable_test

export RESUMABLE_PG_CONNINFO="postgresql://resumable@127.0.0.1:$port/resumable_test"
export RESUMABLE_PG_BINDIR="$bindir"
cd - >/dev/null
status=0
"$@" || status=$?
exit "$status"

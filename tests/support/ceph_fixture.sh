#!/usr/bin/env bash
# A throwaway single-node Ceph with radosgw (S3) for tests: Debian's Pacific packages (radosgw,
# ceph-mon, ceph-osd, ceph-common; installed by scripts/test.sh's stage), plain processes in a fresh
# temporary directory, no keyrings (auth none), one mon and one memstore OSD on 127.0.0.1, pools of
# size 1, radosgw on a free port of 127.0.0.1, an S3 user with fixed keys and one bucket. Runs the
# command with the RESUMABLE_S3_* variables below set, then always stops every daemon it started
# (by pid) and deletes the directory, also when the command fails or the script is interrupted.
# Start-up is bounded (about 5 s here, 90 s at most); exits with the command's status.
#
#   tests/support/ceph_fixture.sh -- COMMAND [ARGS...]
#   tests/support/ceph_fixture.sh rgw-stop | rgw-start   (from inside COMMAND: an S3 outage)
#
# Set for COMMAND: RESUMABLE_S3_ENDPOINT (http://127.0.0.1:PORT), RESUMABLE_S3_BUCKET,
# RESUMABLE_S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, RESUMABLE_CEPH_DIR (the cluster's
# directory: ceph.conf, logs), RESUMABLE_CEPH_FIXTURE (this script, for rgw-stop / rgw-start).
# memstore keeps the cluster in RAM (about 1.6 times the stored bytes): nothing survives the run.
set -euo pipefail

bucket=resumable-test
access_key=RESUMABLETESTKEY0001
secret_key=resumable-test-secret-key-0000000000001
region=us-east-1

die() { echo "ceph_fixture: $*" >&2; exit 1; }

# A daemon is alive when its pid exists and is not a zombie (stopped daemons linger as zombies).
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Stops the daemon whose pid is in file $1: TERM, up to 10 s, then KILL.
stop_pid_file() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  rm -f "$file"
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    alive "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    alive "$pid" || return 0
    sleep 0.1
  done
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

listening() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5)' "$1" 2>/dev/null; }

# Starts radosgw from $dir/ceph.conf and waits until it answers S3 (it returns before it listens).
start_rgw() {
  local dir=$1 port
  port=$(cat "$dir/rgw.port")
  radosgw -f -c "$dir/ceph.conf" -n client.rgw.a >>"$dir/log/radosgw.out" 2>&1 &
  echo $! >"$dir/rgw.pid"
  for _ in $(seq 300); do
    alive "$(cat "$dir/rgw.pid")" || die "radosgw exited: $(tail -n 20 "$dir/log/radosgw.out" "$dir/log/client.rgw.a.log" 2>/dev/null)"
    if listening "$port"; then return 0; fi
    sleep 0.1
  done
  die "radosgw did not listen on 127.0.0.1:$port within 30 s"
}

case "${1:-}" in
  rgw-stop)
    [ -n "${RESUMABLE_CEPH_DIR:-}" ] || die "rgw-stop: RESUMABLE_CEPH_DIR is not set"
    stop_pid_file "$RESUMABLE_CEPH_DIR/rgw.pid"
    exit 0 ;;
  rgw-start)
    [ -n "${RESUMABLE_CEPH_DIR:-}" ] || die "rgw-start: RESUMABLE_CEPH_DIR is not set"
    start_rgw "$RESUMABLE_CEPH_DIR"
    exit 0 ;;
  --) shift ;;
  *) echo "usage: $0 -- COMMAND [ARGS...] | rgw-stop | rgw-start" >&2; exit 2 ;;
esac
[ $# -ge 1 ] || { echo "usage: $0 -- COMMAND [ARGS...]" >&2; exit 2; }

for tool in monmaptool ceph-mon ceph-osd radosgw radosgw-admin ceph python3 uuidgen curl; do
  command -v "$tool" >/dev/null || die "$tool is missing (install radosgw ceph-mon ceph-osd ceph-common)"
done

dir=$(mktemp -d /tmp/rceph.XXXXXX)
cleanup() {
  stop_pid_file "$dir/rgw.pid"
  stop_pid_file "$dir/osd.pid"
  stop_pid_file "$dir/mon.pid"
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$dir/log" "$dir/run" "$dir/mon.a" "$dir/osd.0" "$dir/rgw"
fsid=$(uuidgen)
mon_port=$(free_port)
rgw_port=$(free_port)
echo "$rgw_port" >"$dir/rgw.port"
cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
ms bind ipv4 = true
ms bind ipv6 = false
ms bind msgr1 = false
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
run dir = $dir/run
log file = $dir/log/\$name.log
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
paxos propose interval = 0.05
osd objectstore = memstore
memstore device bytes = 4294967296
osd data = $dir/osd.\$id
mon data = $dir/mon.\$id
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $dir/rgw
ms mon client mode = crc secure
rgw dns name = localhost
EOF

deadline=$((SECONDS + 90))
step() { [ $SECONDS -lt $deadline ] || die "start-up took longer than 90 s (logs: $(ls "$dir/log"))"; }

monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
ceph-mon -c "$dir/ceph.conf" --mkfs -i a --monmap "$dir/monmap" >"$dir/log/mkfs.out" 2>&1 || die "ceph-mon --mkfs: $(cat "$dir/log/mkfs.out")"
ceph-mon -f -c "$dir/ceph.conf" -i a >>"$dir/log/mon.out" 2>&1 &
echo $! >"$dir/mon.pid"

cli() { timeout 20 ceph -c "$dir/ceph.conf" --connect-timeout 15 "$@"; }
osd_uuid=$(uuidgen)
osd_id=$(cli osd new "$osd_uuid") || die "ceph osd new failed: $(tail -n 20 "$dir/log/mon.a.log" 2>/dev/null)"
[ "$osd_id" = 0 ] || die "unexpected OSD id $osd_id"
ceph-osd -c "$dir/ceph.conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$dir/log/osd-mkfs.out" 2>&1 || die "ceph-osd --mkfs: $(cat "$dir/log/osd-mkfs.out")"
ceph-osd -f -c "$dir/ceph.conf" -i 0 >>"$dir/log/osd.out" 2>&1 &
echo $! >"$dir/osd.pid"
until cli osd dump 2>/dev/null | grep -q '^osd.0 up'; do
  alive "$(cat "$dir/osd.pid")" || die "ceph-osd exited: $(tail -n 20 "$dir/log/osd.out" "$dir/log/osd.0.log" 2>/dev/null)"
  step
  sleep 0.2
done

start_rgw "$dir"
timeout 30 radosgw-admin -c "$dir/ceph.conf" -n client.rgw.a user create --uid resumable-test --display-name "resumable tests" \
  --access-key "$access_key" --secret "$secret_key" >"$dir/log/user.out" 2>&1 || die "radosgw-admin user create: $(cat "$dir/log/user.out")"
# The bucket, through S3 itself (radosgw answers 503 until its pools are created).
until curl -sf -o /dev/null --aws-sigv4 "aws:amz:$region:s3" --user "$access_key:$secret_key" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X PUT "http://127.0.0.1:$rgw_port/$bucket"; do
  step
  sleep 0.2
done

export RESUMABLE_S3_ENDPOINT="http://127.0.0.1:$rgw_port"
export RESUMABLE_S3_BUCKET=$bucket
export RESUMABLE_S3_REGION=$region
export AWS_ACCESS_KEY_ID=$access_key
export AWS_SECRET_ACCESS_KEY=$secret_key
export RESUMABLE_CEPH_DIR=$dir
export RESUMABLE_CEPH_FIXTURE
RESUMABLE_CEPH_FIXTURE=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
# In the background, so that a TERM or INT for this script is handled at once (bash runs traps
# only between foreground commands): the command is stopped too, then the cluster.
"$@" &
command_pid=$!
trap 'kill -TERM "$command_pid" 2>/dev/null; exit 130' INT
trap 'kill -TERM "$command_pid" 2>/dev/null; exit 143' TERM
status=0
wait "$command_pid" || status=$?
exit "$status"

#!/usr/bin/env bash
# Failed requests across reloads: tcplab serve (reactor, 2 workers) against nginx (2 workers,
# assets/nginx.conf) in one run. For each server and each client mode, wrk runs DURATION while
# the master gets RELOADS HUPs, one every DURATION/(RELOADS+1); a failed request is any socket
# error wrk reports (connect, read, write, timeout) or any non-2xx answer.
#   keep-alive:   wrk -t1 -c50                               (connections reused)
#   new per request: wrk -t1 -c50 -H 'Connection: close'     (a connection per request)
# Prints one table and writes it to bench/RESULTS.md (section "## serve: failed requests across reloads").
#
#   bench/reload.sh                    # RELOADS=5 DURATION=12s CONNS=50 MODEL=reactor
set -euo pipefail
cd "$(dirname "$0")/.."
RELOADS=${RELOADS:-5}
DURATION=${DURATION:-12s}
CONNS=${CONNS:-50}
MODEL=${MODEL:-reactor}

. bench/servers.sh  # prepare, start_tcplab, start_nginx, stop_server, write_section; $work, pids
prepare

start_tcplab tcplab --model "$MODEL" --workers 2 --keepalive-timeout 60s
start_nginx nginx 2

declare -A R
# One wrk run with RELOADS HUPs to the master during it: R[name.mode] = "requests failed".
run() { # name mode port master-pid [wrk args...]
  local name=$1 mode=$2 port=$3 pid=$4 secs gap
  shift 4
  secs=${DURATION%s}
  gap=$(awk -v d="$secs" -v n="$RELOADS" 'BEGIN { printf "%.2f", d / (n + 1) }')
  wrk -t1 -c"$CONNS" -d"$DURATION" "$@" "http://127.0.0.1:$port/" >"$work/wrk.out" &
  local wrk=$!
  for _ in $(seq "$RELOADS"); do
    sleep "$gap"
    kill -HUP "$pid"
  done
  wait "$wrk"
  R[$name.$mode]=$(awk '
    /requests in/ { n = $1 }
    /Socket errors:/ { gsub(",", ""); f += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { f += $5 }
    END { printf "%d %d\n", n, f }' "$work/wrk.out")
  sleep 1 # the last reload's old workers finish draining before the next run
}

for mode in ka close; do
  args=()
  [ "$mode" = close ] && args=(-H 'Connection: close')
  for name in tcplab nginx; do
    run "$name" "$mode" "${PORT[$name]}" "${PID[$name]}" "${args[@]}"
  done
done
stop_server tcplab
stop_server nginx

cell() { echo "$1" | awk '{ printf "%d of %d", $2, $1 }'; }
table=$(
  printf '| clients | tcplab failed | nginx failed | target (tcplab) |\n|---|---:|---:|---|\n'
  printf '| keep-alive (wrk -c%s), %s reloads | %s | %s | 0 |\n' "$CONNS" "$RELOADS" "$(cell "${R[tcplab.ka]}")" "$(cell "${R[nginx.ka]}")"
  printf '| new connection per request (-H '"'"'Connection: close'"'"'), %s reloads | %s | %s | 0 |\n' "$RELOADS" "$(cell "${R[tcplab.close]}")" "$(cell "${R[nginx.close]}")"
)
load=$(cut -d' ' -f1-3 /proc/loadavg)
section=$(
  echo "## serve: failed requests across reloads"
  echo
  echo "\`RELOADS=$RELOADS DURATION=$DURATION CONNS=$CONNS MODEL=$MODEL bench/reload.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'),"
  echo "$(nproc) cores, Linux $(uname -r), $("$NGINX" -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2),"
  echo "load average: $load (the machine is shared). Both servers: 2 workers, keep-alive timeout 60 s;"
  echo "each run is wrk for $DURATION with $RELOADS HUPs to the master spread over it. \"failed\" counts wrk's"
  echo "socket errors (connect, read, write, timeout) and non-2xx answers, of all requests made."
  echo
  echo "$table"
  echo
  echo "nginx's keep-alive failures are the race a draining worker runs when it closes idle"
  echo "keep-alive connections while their clients are already sending the next request (wrk"
  echo "reports them as read errors). tcplab answers that next request with \`Connection: close\`"
  echo "instead and closes after it (HAProxy's idle-close-on-response)."
)
echo "$section"

write_section "## serve: failed requests across reloads" "$section"

#!/usr/bin/env bash
# CPU per request, measured so that the client is not the limit: each server's one worker is
# pinned to CPU 1 and wrk to CPU 0 (taskset); the worker's utime+stime from /proc/PID/stat is
# read around a fixed wrk run and divided by the requests wrk completed. Servers, all on the
# same page (`hello!world`, keep-alive, no access log):
#   nginx      1 worker, assets/nginx.conf
#   bare mio   examples/bare_mio.rs: one mio loop that parses nothing (the floor of an epoll loop)
#   reactor    tcplab serve --model reactor --workers 1
#   uring      tcplab serve --model uring --workers 1
# ROUNDS rounds, each running every server once in turn (the machine drifts from minute to
# minute); the table shows each server's median and the median of the per-round ratios.
# Writes bench/RESULTS.md's section "## serve: CPU per request".
#
#   bench/cpu.sh                       # ROUNDS=5 DURATION=5s CONNS=50
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-50}

. bench/need.sh  # installs wrk and nginx if missing; sets NGINX
ulimit -n "$(ulimit -Hn)"
cargo build --release --locked --bin tcplab --example bare_mio
TCPLAB=target/release/tcplab
BARE=target/release/examples/bare_mio
. bench/servers.sh  # $work (removed on exit), pids (killed on exit), free_port

PIN_SERVER="taskset -c 1"
PIN_CLIENT="taskset -c 0"
HZ=$(getconf CLK_TCK)

wait_line() { # file pattern
  for _ in $(seq 200); do grep -q "$2" "$1" && return 0; sleep 0.05; done
  echo "no '$2' in $1: $(cat "$1")" >&2
  return 1
}
port_of() { sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | head -1; }
only_child() { # pid: its one child (a master's worker)
  local c
  for _ in $(seq 200); do
    c=$(pgrep -P "$1" | head -1 || true)
    [ -n "$c" ] && { echo "$c"; return; }
    sleep 0.05
  done
  echo "no worker under $1" >&2
  return 1
}

declare -A PORT WORKER
start_tcplab() { # name model
  $PIN_SERVER "$TCPLAB" serve --model "$2" --workers 1 --listen 127.0.0.1:0 --keepalive-timeout 60s \
    2>"$work/$1.err" &
  pids+=($!)
  wait_line "$work/$1.err" "listening on"
  PORT[$1]=$(port_of "$work/$1.err")
  WORKER[$1]=$(only_child "$!")
}
start_tcplab reactor reactor
start_tcplab uring uring

$PIN_SERVER "$BARE" 127.0.0.1:0 >"$work/bare.out" &
pids+=($!)
wait_line "$work/bare.out" "listening on"
PORT[bare]=$(port_of "$work/bare.out")
WORKER[bare]=$!

PORT[nginx]=$(free_port)
mkdir -p "$work/nginx"
sed -e "s#__PREFIX__#$work/nginx#g" -e "s#__PORT__#${PORT[nginx]}#g" assets/nginx.conf >"$work/nginx/nginx.conf"
$PIN_SERVER "$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" 2>"$work/nginx.err" &
npid=$!
pids+=("$npid")
WORKER[nginx]=$(only_child "$npid")

SERVERS=(nginx bare reactor uring)
for s in "${SERVERS[@]}"; do
  for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:${PORT[$s]}/" && break; sleep 0.05; done
  # Warm-up: caches, the page cache of the binary, the first connections.
  $PIN_CLIENT wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:${PORT[$s]}/" >/dev/null
done

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
declare -A US  # US[server.round] = microseconds of worker CPU per request
for r in $(seq "$ROUNDS"); do
  for s in "${SERVERS[@]}"; do
    before=$(ticks "${WORKER[$s]}")
    out=$($PIN_CLIENT wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:${PORT[$s]}/")
    after=$(ticks "${WORKER[$s]}")
    requests=$(echo "$out" | awk '/requests in/ { print $1 }')
    errors=$(echo "$out" | awk '/Socket errors|Non-2xx/ { print }')
    [ -z "$errors" ] || echo "$s round $r: $errors" >&2
    US[$s.$r]=$(awk -v a="$after" -v b="$before" -v n="$requests" -v hz="$HZ" 'BEGIN { printf "%.3f", (a - b) / hz * 1e6 / n }')
  done
  echo "round $r: nginx ${US[nginx.$r]} bare ${US[bare.$r]} reactor ${US[reactor.$r]} uring ${US[uring.$r]} us/request" >&2
done

median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
per_server() { for r in $(seq "$ROUNDS"); do echo "${US[$1.$r]}"; done | median; }
per_round() { # numerator denominator
  for r in $(seq "$ROUNDS"); do awk -v a="${US[$1.$r]}" -v b="${US[$2.$r]}" 'BEGIN { printf "%.3f\n", a / b }'; done | median
}
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "met" : "missed" }'; }
all_rounds() { for r in $(seq "$ROUNDS"); do awk -v a="${US[$1.$r]}" -v b="${US[$2.$r]}" 'BEGIN { printf "%.2f ", a / b }'; done; }

rb=$(per_round reactor bare); rn=$(per_round reactor nginx); ur=$(per_round uring reactor); ub=$(per_round uring bare)
table=$(
  printf '| server | worker CPU us per request (median) |\n|---|---:|\n'
  printf '| nginx (1 worker) | %s |\n' "$(per_server nginx)"
  printf '| bare mio loop (examples/bare_mio.rs) | %s |\n' "$(per_server bare)"
  printf '| tcplab reactor | %s |\n' "$(per_server reactor)"
  printf '| tcplab uring | %s |\n' "$(per_server uring)"
  echo
  printf '| ratio (median of per-round ratios) | value | each round | target | |\n|---|---:|---|---|---|\n'
  printf '| reactor / bare mio | %s | %s | <= 1.05 | %s |\n' "$rb" "$(all_rounds reactor bare)" "$(verdict "$rb" 1.05)"
  printf '| reactor / nginx | %s | %s | <= 0.85 | %s |\n' "$rn" "$(all_rounds reactor nginx)" "$(verdict "$rn" 0.85)"
  printf '| uring / reactor | %s | %s | <= 0.9 | %s |\n' "$ur" "$(all_rounds uring reactor)" "$(verdict "$ur" 0.9)"
  printf '| uring / bare mio | %s | %s | | |\n' "$ub" "$(all_rounds uring bare)"
)
load=$(cut -d' ' -f1-3 /proc/loadavg)
section=$(
  echo "## serve: CPU per request"
  echo
  echo "\`ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS bench/cpu.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'),"
  echo "$(nproc) cores, Linux $(uname -r), $("$NGINX" -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2),"
  echo "load average at the end: $load (the machine is shared with other engineers' builds and tests;"
  echo "the per-round ratios are what such drift disturbs least). Each server's one worker is pinned"
  echo "to CPU 1, wrk -t1 -c$CONNS (keep-alive) to CPU 0; the worker's utime+stime from /proc/PID/stat"
  echo "around each $DURATION run, divided by the requests wrk completed."
  echo
  echo "$table"
  echo
  echo "Reading it: most of a keep-alive request's cost is the kernel's loopback TCP work, which"
  echo "every server pays; the bare loop is that plus one read and one write. The reactor's"
  echo "parsing, routing, Date and bookkeeping are the difference to it. uring replaces the read,"
  echo "write and epoll_wait of each request by completions batched through one io_uring_enter per"
  echo "turn, but pays a copy out of the provided buffer, a send per answer that completes"
  echo "asynchronously, and the kernel's completion work (DEFER_TASKRUN makes that one batch per"
  echo "wait; without it uring measured 1.17x the reactor here). With one request per connection"
  echo "per turn (wrk without pipelining) there is little to batch."
)
echo "$section"
write_section "## serve: CPU per request" "$section"

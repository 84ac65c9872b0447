#!/usr/bin/env bash
# The tutorial's claim, measured: processes do not scale, a reactor does. Three tables, one run:
#  1. every model (iterative, prefork, select, poll, reactor) under wrk load at 10, 100 and 1,000
#     connections, keep-alive and a new connection per request: req/s, p99, errors (socket
#     errors + non-2xx), and for keep-alive the clients left waiting (see `load`);
#  2. the reactor with 1 and 2 workers against nginx with 1 and 2 workers (-c100);
#  3. shared listener against SO_REUSEPORT (2 reactor workers, -c100): throughput, and errors
#     while the server reloads (HUP) five times under load.
# Prints the tables and writes them to bench/RESULTS.md (section "## serve: models and workers").
#
#   bench/models.sh                 # DURATION=3s WORKERS=2
#   DURATION=5s bench/models.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-3s}
WORKERS=${WORKERS:-2}

. bench/servers.sh  # prepare, start_tcplab, start_nginx, stop_server, write_section; $work, pids
prepare

# tcplab with the given flags, as "t".
start() {
  start_tcplab t --max-connections 30000 --keepalive-timeout 60s --pid-file "$work/tcplab.pid" "$@"
}

# wrk output -> "req/s p99_ms errors"
wrk_row() {
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec:/ { rps = $2 }
    $1 == "99%" { p99 = ms($2) }
    /Socket errors:/ { gsub(",", ""); err += $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { err += $5 }
    END { printf "%.0f %.2f %d\n", rps, p99, err }'
}

# wrk -c CONNS against PORT; prints "req/s p99_ms errors answered", where answered is the number
# of the server's connections that have sent anything (ss: bytes_acked) three quarters of the
# way through: the clients a blocking model has served at all. wrk's latency cannot show the
# others: it only measures answers that came.
load() { # conns port [extra wrk args]
  local c=$1 port=$2
  shift 2
  local t=1
  [ "$c" -ge 100 ] && t=2
  wrk -t"$t" -c"$c" -d"$DURATION" --timeout 5s --latency "$@" "http://127.0.0.1:$port/" \
    >"$work/wrk.out" &
  local wrk_pid=$!
  sleep "$(awk -v d="${DURATION%s}" 'BEGIN { print d * 3 / 4 }')"
  local answered
  answered=$(ss -Htin state established "( sport = :$port )" | grep -c "bytes_acked:" || true)
  wait "$wrk_pid"
  echo "$(wrk_row <"$work/wrk.out") $answered"
}

row() { # label "rps p99 err" -> markdown cells
  set -- "$1" $2
  printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4"
}

# 1. The models side by side.
models_table=$(
  printf '| model | connections | keep-alive req/s | p99 ms | clients answered | errors | new connection each: req/s | p99 ms | errors |\n'
  printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
  for model in iterative prefork select poll reactor; do
    start --model "$model" --workers "$WORKERS"
    for c in 10 100 1000; do
      ka=$(load "$c" "${PORT[t]}")
      cl=$(load "$c" "${PORT[t]}" -H "Connection: close")
      set -- $ka $cl
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$model" "$c" "$1" "$2" "$4" "$3" "$5" "$6" "$7"
    done
    stop_server t
  done
)
echo "$models_table"

# 2. Workers: tcplab's reactor and nginx with the same number of worker processes.
workers_table=$(
  printf '| server | workers | req/s (-c100) | p99 ms | errors |\n|---|---:|---:|---:|---:|\n'
  for n in 1 2; do
    start --model reactor --workers "$n"
    set -- $(load 100 "${PORT[t]}")
    printf '| tcplab reactor | %s | %s | %s | %s |\n' "$n" "$1" "$2" "$3"
    stop_server t
    start_nginx nginx "$n"
    set -- $(load 100 "${PORT[nginx]}")
    printf '| nginx | %s | %s | %s | %s |\n' "$n" "$1" "$2" "$3"
    stop_server nginx
  done
)
echo "$workers_table"

# 3. Shared listener against SO_REUSEPORT: steady load, then load across five reloads. New
# connections every request (-H Connection: close), so that accept queues are never empty.
reuse_table=$(
  printf '| listener | req/s (-c100) | p99 ms | errors | req/s during 5 reloads | errors during 5 reloads |\n|---|---:|---:|---:|---:|---:|\n'
  for mode in shared reuseport; do
    flags=(--model reactor --workers 2)
    [ "$mode" = reuseport ] && flags+=(--reuseport)
    start "${flags[@]}"
    set -- $(load 100 "${PORT[t]}" -H "Connection: close")
    steady="$1 | $2 | $3"
    (
      sleep 0.5
      for _ in 1 2 3 4 5; do "$TCPLAB" reload --pid-file "$work/tcplab.pid" >/dev/null; sleep 0.4; done
    ) &
    reloader=$!
    set -- $(load 100 "${PORT[t]}" -H "Connection: close")
    wait "$reloader"
    printf '| %s | %s | %s | %s |\n' "$mode" "$steady" "$1" "$3"
    stop_server t
  done
)
echo "$reuse_table"

machine="$(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
section=$(
  printf '## serve: models and workers\n\n'
  printf 'Command: `bench/models.sh` (DURATION=%s, WORKERS=%s for prefork and the models table). ' "$DURATION" "$WORKERS"
  printf 'Date: %s. Machine: %s. wrk keep-alive, loopback, server and wrk unpinned on the same cores; ' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$machine"
  printf 'other engineers were using the machine, so treat single numbers as rough.\n\n'
  printf '### The models\n\n*clients answered*: connections of the server that had sent anything three quarters through the run (ss, bytes_acked), out of the connections wrk holds. With keep-alive a blocking model serves the connections it accepted first and leaves the others waiting for ever; the req/s and latency of wrk only count the answers that come. Errors: socket errors and non-2xx (select refuses descriptors past FD_SETSIZE).\n\n%s\n\n' "$models_table"
  printf '### Reactor workers against nginx workers\n\n%s\n\n' "$workers_table"
  printf '### Shared listener or SO_REUSEPORT (2 reactor workers, a new connection per request)\n\n%s\n' "$reuse_table"
)
write_section "## serve: models and workers" "$section"
echo "written to bench/RESULTS.md"

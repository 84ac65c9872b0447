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

. bench/need.sh  # installs wrk and nginx if missing; sets NGINX
ulimit -n "$(ulimit -Hn)"

cargo build --release --locked --bin tcplab
TCPLAB=target/release/tcplab

. bench/servers.sh  # $work (removed on exit), pids (killed on exit), free_port

# Starts tcplab with the given flags; sets PORT and PID.
start_tcplab() {
  : >"$work/tcplab.err"
  "$TCPLAB" serve --listen 127.0.0.1:0 --max-connections 30000 --keepalive-timeout 60s \
    --pid-file "$work/tcplab.pid" "$@" 2>"$work/tcplab.err" &
  PID=$!; pids+=("$PID")
  for _ in $(seq 200); do grep -q "listening on" "$work/tcplab.err" && break; sleep 0.05; done
  PORT=$(sed -n 's/.*listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/tcplab.err")
  [ -n "$PORT" ] || { cat "$work/tcplab.err" >&2; exit 1; }
}

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# nginx with N workers answering the same page; sets PORT and PID.
start_nginx() {
  PORT=$(free_port)
  mkdir -p "$work/nginx"
  cat >"$work/nginx/nginx.conf" <<EOF
worker_processes $1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
worker_rlimit_nofile 30000;
events { worker_connections 20000; use epoll; }
http {
  access_log off;
  keepalive_timeout 60s;
  keepalive_requests 100000000;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server { listen 127.0.0.1:$PORT backlog=1024; location / { return 200 "hello!world"; } }
}
EOF
  "$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" 2>"$work/nginx.err" &
  PID=$!; pids+=("$PID")
  for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0; sleep 0.05; done
  echo "nginx did not start" >&2; cat "$work/nginx.err" >&2; exit 1
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
    start_tcplab --model "$model" --workers "$WORKERS"
    for c in 10 100 1000; do
      ka=$(load "$c" "$PORT")
      cl=$(load "$c" "$PORT" -H "Connection: close")
      set -- $ka $cl
      printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$model" "$c" "$1" "$2" "$4" "$3" "$5" "$6" "$7"
    done
    stop_pid "$PID"
  done
)
echo "$models_table"

# 2. Workers: tcplab's reactor and nginx with the same number of worker processes.
workers_table=$(
  printf '| server | workers | req/s (-c100) | p99 ms | errors |\n|---|---:|---:|---:|---:|\n'
  for n in 1 2; do
    start_tcplab --model reactor --workers "$n"
    set -- $(load 100 "$PORT")
    printf '| tcplab reactor | %s | %s | %s | %s |\n' "$n" "$1" "$2" "$3"
    stop_pid "$PID"
    start_nginx "$n"
    set -- $(load 100 "$PORT")
    printf '| nginx | %s | %s | %s | %s |\n' "$n" "$1" "$2" "$3"
    kill -QUIT "$PID"; wait "$PID" 2>/dev/null || true
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
    start_tcplab "${flags[@]}"
    set -- $(load 100 "$PORT" -H "Connection: close")
    steady="$1 | $2 | $3"
    (
      sleep 0.5
      for _ in 1 2 3 4 5; do "$TCPLAB" reload --pid-file "$work/tcplab.pid" >/dev/null; sleep 0.4; done
    ) &
    reloader=$!
    set -- $(load 100 "$PORT" -H "Connection: close")
    wait "$reloader"
    printf '| %s | %s | %s | %s |\n' "$mode" "$steady" "$1" "$3"
    stop_pid "$PID"
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
results=bench/RESULTS.md
[ -f "$results" ] || printf '# Benchmark results\n' >"$results"
# Replace this script's own section, keep everyone else's.
awk -v start='## serve: models and workers' '
  $0 == start { skip = 1; next }
  skip && /^## / { skip = 0 }
  !skip { print }
' "$results" >"$work/results"
{ cat "$work/results"; printf '\n%s\n' "$section"; } | cat -s >"$results"
echo "written to $results"

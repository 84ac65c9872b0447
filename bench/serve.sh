#!/usr/bin/env bash
# tcplab serve (reactor, one worker) against nginx (one worker, `return 200 "hello!world"`, access log off),
# on loopback, in one run: keep-alive (wrk -t1 -c100), pipelined 16 deep (bench/pipeline.lua),
# and memory per idle keep-alive connection (examples/hold_idle.rs holding IDLE connections).
# Prints one table and writes it to bench/RESULTS.md (section "## serve: tcplab vs nginx").
#
#   bench/serve.sh                     # ROUNDS=3 DURATION=5s CONNS=100 IDLE=10000
#   ROUNDS=5 DURATION=10s IDLE=5000 bench/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-100}
IDLE=${IDLE:-10000}

. bench/servers.sh  # prepare, start_tcplab, start_nginx, stop_server, write_section; $work, pids
prepare --example hold_idle --example pipeload
HOLD=target/release/examples/hold_idle
PIPELOAD=target/release/examples/pipeload

# Sums a /proc figure over a process and its children (nginx: master + worker).
proc_sum() { # pid file awk-program
  local total=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk "$3" "/proc/$p/$2")))
  done
  echo "$total"
}
rss_kib() { proc_sum "$1" status '/^VmRSS:/ { print $2 }'; }
cpu_ticks() { proc_sum "$1" stat '{ print $14 + $15 }'; }
sleeps() { proc_sum "$1" status '/^voluntary_ctxt_switches:/ { print $2 }'; }
# busy and total jiffies of the client's core (CPU 0, where wrk is pinned)
client_cpu() { awk '$1 == "cpu0" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }

# wrk output -> "req/s p50_ms p99_ms"
wrk_row() {
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    END { printf "%.0f %.3f %.3f\n", rps, p50, p99 }'
}

declare -A R
# One wrk run: appends "req/s p50 p99 server-CPU-us-per-request requests-per-server-sleep" to
# R[name.mode] (a sleep is a voluntary context switch: the server found nothing to do). The CPU cost
# per request is what a loaded, shared machine disturbs least: req/s also depends on how much
# of the CPU the server and wrk were given.
run_wrk() { # name mode port pid [wrk args...]
  local name=$1 mode=$2 port=$3 pid=$4 out before after
  shift 4
  local slept_before slept_after requests client_before client_after
  before=$(cpu_ticks "$pid")
  slept_before=$(sleeps "$pid")
  client_before=$(client_cpu)
  out=$($PIN_CLIENT wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$@" "http://127.0.0.1:$port/")
  client_after=$(client_cpu)
  after=$(cpu_ticks "$pid")
  slept_after=$(sleeps "$pid")
  requests=$(echo "$out" | awk '/requests in/ { print $1 }')
  R[$name.$mode]+="$(echo "$out" | wrk_row) $(awk -v a="$after" -v b="$before" -v n="$requests" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.3f", (a - b) / hz * 1e6 / n }') $(awk -v a="$slept_after" -v b="$slept_before" -v n="$requests" \
    'BEGIN { printf "%.1f", n / (a - b + 1) }') $(echo "$client_before $client_after" | awk \
    '{ printf "%.1f", 100 * ($3 - $1) / ($4 - $2) }');"
}

# One pipelined run of examples/pipeload (wrk reports no latency when pipelining, wg/wrk#236):
# appends "req/s batch-p50 batch-p99" to R[name.plat].
run_pipeload() { # name port
  local out
  out=$($PIN_CLIENT "$PIPELOAD" "127.0.0.1:$2" "$CONNS" 16 "${DURATION%s}")
  R[$1.plat]+="$(echo "$out" | awk '{ for (i = 1; i < NF; i++) v[$i] = $(i + 1); print v["req_per_s"], v["batch_p50_ms"], v["batch_p99_ms"] }');"
}

# The median of column $2 (1 = req/s, 2 = p50, 3 = p99, 4 = CPU, 5 = per sleep, 6 = client
# core busy %) over the runs.
median() {
  echo "$1" | tr ';' '\n' | awk -v c="$2" 'NF { print $c }' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

idle_kib() { # name port pid
  local name=$1 port=$2 pid=$3 before after line
  before=$(rss_kib "$pid")
  coproc HOLDER { "$HOLD" "127.0.0.1:$port" "$IDLE"; }
  read -r line <&"${HOLDER[0]}"
  [ "$line" = "holding $IDLE" ] || { echo "hold_idle: $line" >&2; exit 1; }
  after=$(rss_kib "$pid")
  local to_holder=${HOLDER[1]}
  exec {to_holder}>&- # closing its stdin lets the holder exit
  wait "$HOLDER_PID" || true
  R[$name.idle]=$(awk -v a="$after" -v b="$before" -v n="$IDLE" 'BEGIN { printf "%.2f", (a - b) / n }')
  R[$name.rss]=$after
}

# Servers on one core, wrk on the other, the same for both (less scheduler noise on 2 cores).
PIN_SERVER="taskset -c 1"
PIN_CLIENT="taskset -c 0"

# One worker, like the nginx it is compared with (serve is a master with workers since issue 5).
start_tcplab tcplab --workers 1 --max-connections 30000 --keepalive-timeout 60s
start_nginx nginx 1
tport=${PORT[tcplab]} tpid=${PID[tcplab]} nport=${PORT[nginx]} npid=${PID[nginx]}

# Warm-up, then ROUNDS rounds alternating the two servers, so that a burst of load from
# elsewhere on the machine hits both; the table shows each metric's median.
$PIN_CLIENT wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$tport/" >/dev/null
$PIN_CLIENT wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$nport/" >/dev/null
for _ in $(seq "$ROUNDS"); do
  run_wrk tcplab ka "$tport" "$tpid"
  run_wrk nginx ka "$nport" "$npid"
  run_wrk tcplab pl "$tport" "$tpid" -s bench/pipeline.lua
  run_wrk nginx pl "$nport" "$npid" -s bench/pipeline.lua
  run_pipeload tcplab "$tport"
  run_pipeload nginx "$nport"
done
for name in tcplab nginx; do
  for mode in ka pl; do
    R[$name.$mode.rps]=$(median "${R[$name.$mode]}" 1)
    R[$name.$mode.p50]=$(median "${R[$name.$mode]}" 2)
    R[$name.$mode.p99]=$(median "${R[$name.$mode]}" 3)
    R[$name.$mode.cpu]=$(median "${R[$name.$mode]}" 4)
    R[$name.$mode.batch]=$(median "${R[$name.$mode]}" 5)
    R[$name.$mode.client]=$(median "${R[$name.$mode]}" 6)
  done
  R[$name.plat.rps]=$(median "${R[$name.plat]}" 1)
  R[$name.plat.p50]=$(median "${R[$name.plat]}" 2)
  R[$name.plat.p99]=$(median "${R[$name.plat]}" 3)
done
idle_kib tcplab "$tport" "$tpid"
idle_kib nginx "$nport" "$npid"
stop_server tcplab
stop_server nginx

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }
table=$(
  printf '| metric | tcplab | nginx | tcplab/nginx | target |\n|---|---:|---:|---:|---|\n'
  printf '| keep-alive req/s (-c%s) | %s | %s | %s | >= 1.3 |\n' "$CONNS" "${R[tcplab.ka.rps]}" "${R[nginx.ka.rps]}" "$(ratio "${R[tcplab.ka.rps]}" "${R[nginx.ka.rps]}")"
  printf '| keep-alive server CPU us/request | %s | %s | %s | |\n' "${R[tcplab.ka.cpu]}" "${R[nginx.ka.cpu]}" "$(ratio "${R[tcplab.ka.cpu]}" "${R[nginx.ka.cpu]}")"
  printf '| keep-alive requests per server sleep | %s | %s | %s | |\n' "${R[tcplab.ka.batch]}" "${R[nginx.ka.batch]}" "$(ratio "${R[tcplab.ka.batch]}" "${R[nginx.ka.batch]}")"
  printf '| keep-alive: wrk'"'"'s core busy %% | %s | %s | %s | |\n' "${R[tcplab.ka.client]}" "${R[nginx.ka.client]}" "$(ratio "${R[tcplab.ka.client]}" "${R[nginx.ka.client]}")"
  printf '| keep-alive p50 ms | %s | %s | %s | |\n' "${R[tcplab.ka.p50]}" "${R[nginx.ka.p50]}" "$(ratio "${R[tcplab.ka.p50]}" "${R[nginx.ka.p50]}")"
  printf '| keep-alive p99 ms | %s | %s | %s | <= 1 |\n' "${R[tcplab.ka.p99]}" "${R[nginx.ka.p99]}" "$(ratio "${R[tcplab.ka.p99]}" "${R[nginx.ka.p99]}")"
  printf '| pipelined x16 req/s | %s | %s | %s | >= 5 |\n' "${R[tcplab.pl.rps]}" "${R[nginx.pl.rps]}" "$(ratio "${R[tcplab.pl.rps]}" "${R[nginx.pl.rps]}")"
  printf '| pipelined server CPU us/request | %s | %s | %s | |\n' "${R[tcplab.pl.cpu]}" "${R[nginx.pl.cpu]}" "$(ratio "${R[tcplab.pl.cpu]}" "${R[nginx.pl.cpu]}")"
  printf '| pipelined x16 req/s (pipeload) | %s | %s | %s | |\n' "${R[tcplab.plat.rps]}" "${R[nginx.plat.rps]}" "$(ratio "${R[tcplab.plat.rps]}" "${R[nginx.plat.rps]}")"
  printf '| pipelined p50 ms per batch of 16 (pipeload) | %s | %s | %s | |\n' "${R[tcplab.plat.p50]}" "${R[nginx.plat.p50]}" "$(ratio "${R[tcplab.plat.p50]}" "${R[nginx.plat.p50]}")"
  printf '| pipelined p99 ms per batch of 16 (pipeload) | %s | %s | %s | <= 1 |\n' "${R[tcplab.plat.p99]}" "${R[nginx.plat.p99]}" "$(ratio "${R[tcplab.plat.p99]}" "${R[nginx.plat.p99]}")"
  printf '| KiB per idle connection (%s held) | %s | %s | %s | <= 1 |\n' "$IDLE" "${R[tcplab.idle]}" "${R[nginx.idle]}" "$(ratio "${R[tcplab.idle]}" "${R[nginx.idle]}")"
  printf '| RSS KiB while holding them | %s | %s | %s | |\n' "${R[tcplab.rss]}" "${R[nginx.rss]}" "$(ratio "${R[tcplab.rss]}" "${R[nginx.rss]}")"
)
load=$(cut -d' ' -f1-3 /proc/loadavg)
section=$(
  echo "## serve: tcplab vs nginx"
  echo
  echo "\`ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS IDLE=$IDLE bench/serve.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'),"
  echo "$(nproc) cores, Linux $(uname -r), $("$NGINX" -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2),"
  echo "load average before the table was written: $load (the machine is shared)."
  echo "Each figure is the median of $ROUNDS runs alternating tcplab and nginx; the servers are pinned"
  echo "to CPU 1 and wrk to CPU 0 (taskset). nginx: 1 worker, assets/nginx.conf."
  echo
  echo "$table"
  echo
  echo "Reading the keep-alive row: wrk -t1 is one thread on one core, and \"wrk's core busy\" says how"
  echo "much of that core it used. At ~100% the client, not the server, set the rate: every request"
  echo "costs wrk a read, a write, two epoll_ctl and its share of epoll_wait, and on loopback its write"
  echo "also runs the kernel's receive path for the server's socket. Where tcplab keeps wrk's core"
  echo "full, its req/s is wrk's ceiling on this machine, and the ratio only shows how far below that"
  echo "ceiling nginx stayed in the same run. The server's own cost per request is the CPU row."
  echo "Pipelined latency comes from examples/pipeload (one thread, the same 16-deep batches; wrk"
  echo "records no latency when pipelining, wg/wrk#236), timed from a batch's write to its last answer."
)
echo "$section"

write_section "## serve: tcplab vs nginx" "$section"

# The models, 1 and 2 workers against nginx, and the shared listener against SO_REUSEPORT
# (issue 5) are bench/models.sh; MODELS=1 bench/serve.sh runs them after this.
if [ "${MODELS:-0}" = 1 ]; then
  bench/models.sh
fi

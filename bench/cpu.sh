#!/usr/bin/env bash
# CPU per request, measured so that the client is not the limit: each server's one worker is
# pinned to CPU 1 and wrk to CPU 0 (taskset); the worker's CPU time (/proc/PID/schedstat, else
# utime+stime from /proc/PID/stat) is read around a fixed wrk run and divided by the requests
# wrk completed. Servers, all on the same page (`hello!world`, keep-alive, no access log):
#   nginx       1 worker, assets/nginx.conf
#   bare mio    examples/bare_mio.rs: one mio loop that parses nothing (the floor of an epoll loop)
#   bare uring  examples/bare_uring.rs: the same on uring's ring (the floor of an io_uring loop)
#   reactor     tcplab serve --model reactor --workers 1
#   uring       tcplab serve --model uring --workers 1
# ROUNDS rounds, each running every server once in turn (the machine drifts from minute to
# minute); the table shows each server's median and the median of the per-round ratios, and
# (with perf) system calls and sleeps per request from one more run of each.
# Writes bench/RESULTS.md's section "## serve: CPU per request".
#
#   bench/cpu.sh                       # ROUNDS=5 DURATION=5s CONNS=50
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-50}

. bench/servers.sh  # prepare, start_tcplab, start_nginx, worker_of, write_section; $work, pids
prepare --example bare_mio --example bare_uring

PIN_SERVER="taskset -c 1"
PIN_CLIENT="taskset -c 0"
HZ=$(getconf CLK_TCK)

declare -A WORKER
for model in reactor uring; do
  start_tcplab "$model" --model "$model" --workers 1 --keepalive-timeout 60s
  WORKER[$model]=$(worker_of "${PID[$model]}")
done
# The bare loops are their own worker.
for bare in bare_mio bare_uring; do
  $PIN_SERVER "target/release/examples/$bare" 127.0.0.1:0 >"$work/$bare.out" &
  pids+=($!)
  WORKER[$bare]=$!
  wait_line "$work/$bare.out" "listening on"
  PORT[$bare]=$(port_of "$work/$bare.out")
done
start_nginx nginx 1
WORKER[nginx]=$(worker_of "${PID[nginx]}")

SERVERS=(nginx bare_mio bare_uring reactor uring)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for s in "${SERVERS[@]}"; do
  wait_port "${PORT[$s]}"
  # Warm-up: caches, the page cache of the binary, the first connections.
  $PIN_CLIENT wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:${PORT[$s]}/" >/dev/null
done

# The worker's CPU time in microseconds: the scheduler's own count (ns) where the kernel keeps
# it, else utime+stime in clock ticks.
cpu_us() {
  if [ -r "/proc/$1/schedstat" ]; then
    awk '{ printf "%.0f\n", $1 / 1000 }' "/proc/$1/schedstat"
  else
    awk -v hz="$HZ" '{ printf "%.0f\n", ($14 + $15) / hz * 1e6 }' "/proc/$1/stat"
  fi
}
declare -A US  # US[server.round] = microseconds of worker CPU per request
declare -A LOAD  # LOAD[round] = the 1-minute load average as the round ended
for r in $(seq "$ROUNDS"); do
  line="round $r:"
  for s in "${SERVERS[@]}"; do
    before=$(cpu_us "${WORKER[$s]}")
    out=$($PIN_CLIENT wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:${PORT[$s]}/")
    after=$(cpu_us "${WORKER[$s]}")
    requests=$(echo "$out" | awk '/requests in/ { print $1 }')
    errors=$(echo "$out" | awk '/Socket errors|Non-2xx/ { print }')
    [ -z "$errors" ] || echo "$s round $r: $errors" >&2
    US[$s.$r]=$(awk -v a="$after" -v b="$before" -v n="$requests" 'BEGIN { printf "%.3f", (a - b) / n }')
    line+=" $s ${US[$s.$r]}"
  done
  LOAD[$r]=$(cut -d' ' -f1 /proc/loadavg)
  echo "$line us/request (load ${LOAD[$r]})" >&2
done

# Where the time goes, once per server, during one more run: system calls and sleeps (context
# switches) per request counted by perf stat, and the worker's samples (perf record) by kind:
# user space, io_uring's kernel code, system call entry and epoll, the scheduler and wake-ups,
# and the rest (TCP/IP, memory). Without perf, or without the permission, the columns say "-".
declare -A CALLS SLEEPS SHARES
# perf report --no-children --sort sym lines ("  1.23%  [k] symbol") -> the five shares
classify() {
  awk '$1 ~ /%$/ && ($2 == "[k]" || $2 == "[.]") {
    v = $1; sub("%", "", v); sym = $3
    if ($2 == "[.]") k = "user"
    else if (sym ~ /^(__)?io_|^io_uring|^__do_sys_io_uring|^tctx_/) k = "uring"
    else if (sym ~ /^(do_syscall_64|entry_SYSCALL|syscall_|__x64_sys_|x64_sys_call|__sys_|ksys_|ep_|__ep_|do_epoll|sock_poll|tcp_poll|fdget|__fdget|__fget|fput|sockfd_lookup)/) k = "sys"
    else if (sym ~ /^(finish_task_switch|__schedule|schedule|pick_next|dequeue_|enqueue_|try_to_wake_up|ttwu_|update_curr|__switch_to|switch_mm|psi_|hrtimer|__hrtimer|_raw_spin_unlock_irqrestore)/) k = "sched"
    else k = "rest"
    s[k] += v; t += v
  }
  END { if (t > 0) printf "%.1f | %.1f | %.1f | %.1f | %.1f\n", 100*s["user"]/t, 100*s["uring"]/t, 100*s["sys"]/t, 100*s["sched"]/t, 100*s["rest"]/t }'
}
for s in "${SERVERS[@]}"; do
  CALLS[$s]=-; SLEEPS[$s]=-; SHARES[$s]="- | - | - | - | -"
  command -v perf >/dev/null || continue
  perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "${WORKER[$s]}" -o "$work/perf.$s" \
    -- sleep "${DURATION%s}" 2>/dev/null &
  counter=$!
  perf record -q -F 999 -p "${WORKER[$s]}" -o "$work/record.$s" -- sleep "${DURATION%s}" >/dev/null 2>&1 &
  sampler=$!
  out=$($PIN_CLIENT wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:${PORT[$s]}/")
  wait "$sampler" && shares=$(perf report -i "$work/record.$s" --no-children --sort sym --stdio 2>/dev/null | classify) &&
    [ -n "$shares" ] && SHARES[$s]=$shares
  wait "$counter" || continue
  requests=$(echo "$out" | awk '/requests in/ { print $1 }')
  CALLS[$s]=$(awk -F, -v n="$requests" '$3 == "raw_syscalls:sys_enter" && $1 ~ /^[0-9]+$/ { printf "%.3f", $1 / n }' "$work/perf.$s")
  SLEEPS[$s]=$(awk -F, -v n="$requests" '$3 == "context-switches" && $1 ~ /^[0-9]+$/ { printf "%.3f", $1 / n }' "$work/perf.$s")
  [ -n "${CALLS[$s]}" ] || CALLS[$s]=-
  [ -n "${SLEEPS[$s]}" ] || SLEEPS[$s]=-
done

median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
per_server() { for r in $(seq "$ROUNDS"); do echo "${US[$1.$r]}"; done | median; }
per_round() { # numerator denominator
  for r in $(seq "$ROUNDS"); do awk -v a="${US[$1.$r]}" -v b="${US[$2.$r]}" 'BEGIN { printf "%.3f\n", a / b }'; done | median
}
verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "met" : "missed" }'; }
all_rounds() { for r in $(seq "$ROUNDS"); do awk -v a="${US[$1.$r]}" -v b="${US[$2.$r]}" 'BEGIN { printf "%.2f ", a / b }'; done; }
ratio_row() { # numerator denominator label [target]
  local v
  v=$(per_round "$1" "$2")
  if [ -n "${4:-}" ]; then
    printf '| %s | %s | %s | <= %s | %s |\n' "$3" "$v" "$(all_rounds "$1" "$2")" "$4" "$(verdict "$v" "$4")"
  else
    printf '| %s | %s | %s | | |\n' "$3" "$v" "$(all_rounds "$1" "$2")"
  fi
}

declare -A LABEL=(
  [nginx]="nginx (1 worker)"
  [bare_mio]="bare mio loop (examples/bare_mio.rs)"
  [bare_uring]="bare io_uring loop (examples/bare_uring.rs)"
  [reactor]="tcplab reactor"
  [uring]="tcplab uring"
)
table=$(
  printf '| server | worker CPU us per request (median) | system calls per request | sleeps per request |\n|---|---:|---:|---:|\n'
  for s in "${SERVERS[@]}"; do
    printf '| %s | %s | %s | %s |\n' "${LABEL[$s]}" "$(per_server "$s")" "${CALLS[$s]}" "${SLEEPS[$s]}"
  done
  echo
  printf '| ratio (median of per-round ratios) | value | each round | target | |\n|---|---:|---|---|---|\n'
  ratio_row reactor bare_mio "reactor / bare mio" 1.05
  ratio_row reactor nginx "reactor / nginx" 0.85
  ratio_row uring reactor "uring / reactor" 0.9
  ratio_row bare_uring bare_mio "bare io_uring / bare mio (what io_uring saves at best)"
  ratio_row uring bare_uring "uring / bare io_uring (the server's own work over its floor)"
  ratio_row bare_uring reactor "bare io_uring / reactor (the floor of uring / reactor)"
  printf '| load average (1 min) after each round | | %s | | |\n' "$(for r in $(seq "$ROUNDS"); do printf '%s ' "${LOAD[$r]}"; done)"
)
shares=$(
  printf '| server | user space %% | io_uring %% | system call entry, epoll %% | scheduler, wake-ups %% | TCP/IP and the rest %% |\n|---|---:|---:|---:|---:|---:|\n'
  for s in "${SERVERS[@]}"; do printf '| %s | %s |\n' "${LABEL[$s]}" "${SHARES[$s]}"; done
)
floor=$(per_round bare_uring reactor)
reach=$(awk -v f="$floor" 'BEGIN {
  if (f <= 0.9) printf "reachable only if uring / bare io_uring stays under %.2f", 0.9 / f
  else print "out of reach: even a server doing no more than the bare loop would miss it" }')
load=$(cut -d' ' -f1-3 /proc/loadavg)
section=$(
  echo "## serve: CPU per request"
  echo
  echo "\`ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS bench/cpu.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'),"
  echo "$(nproc) cores, Linux $(uname -r), $("$NGINX" -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2),"
  echo "load average at the start: $load_start, at the end: $load (other engineers' builds and tests share"
  echo "the machine unless the load is under ~1; the per-round ratios are what such drift disturbs"
  echo "least). Each server's one worker is pinned to CPU 1, wrk -t1 -c$CONNS (keep-alive) to CPU 0; the"
  echo "worker's CPU time (/proc/PID/schedstat) around each $DURATION run, divided by the requests wrk"
  echo "completed. System calls and sleeps: \`perf stat -e raw_syscalls:sys_enter,context-switches\` on"
  echo "the worker during one more run."
  echo
  echo "$table"
  echo
  echo "Where each worker's CPU went in that run (\`perf record -F 999\` on the worker, its samples"
  echo "by the kind of function they fell in):"
  echo
  echo "$shares"
  echo
  echo "Reading it: most of a keep-alive request's cost is the kernel's loopback TCP work (the"
  echo "server's send also runs the receive path of wrk's socket), which every server pays; the bare"
  echo "loops are that plus the least each interface needs: a read and a write per request for"
  echo "epoll, a share of one io_uring_enter per turn for io_uring. The bare io_uring loop runs the"
  echo "ring uring uses (kernel::uring: multishot accept, multishot receive into provided buffers,"
  echo "DEFER_TASKRUN), so \"bare io_uring / bare mio\" is what io_uring itself can save here, and"
  echo "\"bare io_uring / reactor\" is the best uring / reactor any server on this ring can reach."
  echo "Here that floor measured $floor, so the target uring / reactor <= 0.9 is $reach."
  echo "What io_uring saves is system calls: the count above, and the reactor's system call entry"
  echo "and epoll share against uring's io_uring share; on loopback they are a small part of a"
  echo "request's cost beside the TCP work both interfaces leave to the kernel."
)
echo "$section"
write_section "## serve: CPU per request" "$section"

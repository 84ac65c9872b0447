#!/usr/bin/env bash
# The dashboard's own cost at the default interval (1 s), as a person runs it in a tmux pane:
# utime+stime from /proc/PID/stat over a window, its RSS, the refresh time it shows in its
# header, and how long a key takes to reach the screen. Cases:
#   idle         120x40, Processes pane (no owners, no tcp_info): the machine as it is
#   18k          the same with 18,000 more sockets (9,000 loopback pairs, examples/hold_pairs.rs)
#   18k-rates    160x50, one pane, Sockets: RTT/CWND/RETR/rate columns (tcp_info + owners)
#   100k         120x40, Processes pane, with 100,000 more sockets held by several processes
#   100k-rates   160x50, one pane, Sockets, the same 100,000 sockets
# For each case also the key-to-screen latency: `2` then `1` (Sockets <-> Processes), timed
# from tmux send-keys until tmux's copy of the screen shows the other pane.
#
# Usage: bench/tui.sh [SECONDS]        (default 60 per case)
# Env:   CASES="idle 18k 18k-rates 100k 100k-rates"   which cases, in this order
#        BIG=100000     sockets of the big cases; PER_PROCESS=16000 sockets per holder process
#                       (the per-process descriptor limit here is 20,000)
#        KEYS=10        key presses per direction for the latency
# Appends its table to bench/RESULTS.md ("tui: the dashboard's own CPU and memory").
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
CASES=${CASES:-idle 18k 18k-rates 100k 100k-rates}
BIG=${BIG:-100000}
PER_PROCESS=${PER_PROCESS:-16000}
KEYS=${KEYS:-10}
command -v tmux >/dev/null || { apt-get update -qq && apt-get install -y -qq tmux >/dev/null; }
cargo build --release --locked --quiet --bin tcplab --example hold_pairs
bin=$PWD/target/release/tcplab
holder_bin=$PWD/target/release/examples/hold_pairs

sock="tcplab-bench-tui-$$"
work=$(mktemp -d)
holders=()    # pids of the socket holders
holding=0     # sockets they hold
stop_tui() {
  tmux -L "$sock" send-keys q 2>/dev/null || true
  for _ in $(seq 20); do tmux -L "$sock" has-session 2>/dev/null || break; sleep 0.1; done
  tmux -L "$sock" kill-server 2>/dev/null || true
}
release_holders() {
  local i
  for i in "${!holders[@]}"; do
    eval "exec $((10 + i))>&-" 2>/dev/null || true
  done
  for p in "${holders[@]}"; do wait "$p" 2>/dev/null || true; done
  holders=()
  holding=0
}
cleanup() {
  stop_tui
  release_holders
  rm -rf "$work"
}
trap cleanup EXIT

# Exactly SOCKETS held (0: none), keeping the holders of the last case when it is the same.
want() {
  [ "$holding" -eq "$1" ] && return
  release_holders
  [ "$1" -eq 0 ] || hold "$1"
}

# Holds SOCKETS more sockets in processes of at most PER_PROCESS each; each holder exits when
# its stdin (a FIFO this script holds open on fd 10+i) closes.
hold() {
  local want=$1 i=${#holders[@]} n
  while [ "$holding" -lt "$want" ]; do
    n=$(( (want - holding) < PER_PROCESS ? (want - holding) : PER_PROCESS ))
    rm -f "$work/in$i" "$work/ready$i"
    mkfifo "$work/in$i"
    ( ulimit -n $(( n + 100 )) && exec "$holder_bin" $(( n / 2 )) <"$work/in$i" >"$work/ready$i" ) &
    holders+=("$!")
    eval "exec $((10 + i))<>\"$work/in$i\""
    for _ in $(seq 600); do grep -q '^ready' "$work/ready$i" 2>/dev/null && break; sleep 0.1; done
    grep -q '^ready' "$work/ready$i" || { echo "bench/tui.sh: hold_pairs did not get ready" >&2; exit 1; }
    holding=$(( holding + n / 2 * 2 ))
    i=$(( i + 1 ))
  done
}

screen() { tmux -L "$sock" capture-pane -p; }
# Starts the dashboard at WxH, then types KEYS (tmux key names) one by one.
start_tui() { # W H KEYS...
  local w=$1 h=$2 shell_pid k
  shift 2
  tmux -L "$sock" new-session -d -x "$w" -y "$h" "$bin tui"
  shell_pid=$(tmux -L "$sock" display -p '#{pane_pid}')
  tui=""
  for _ in $(seq 100); do
    if [ "$(cat /proc/"$shell_pid"/comm 2>/dev/null)" = tcplab ]; then tui=$shell_pid; break; fi
    tui=$(pgrep -P "$shell_pid" -x tcplab || true); [ -n "$tui" ] && break
    sleep 0.1
  done
  [ -n "$tui" ] || { echo "bench/tui.sh: the dashboard did not start" >&2; exit 1; }
  for _ in $(seq 300); do screen | grep -q 'refresh [0-9]' && break; sleep 0.1; done
  for k in "$@"; do tmux -L "$sock" send-keys "$k"; sleep 0.3; done
}

clk=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$tui/stat"; }
# Ticks of the main loop (the thread named tcplab); the rest of the process's ticks are the
# refresh thread, the kernel tracer's readers and each refresh's short-lived helpers.
thread_ticks() {
  local t s=0
  for t in /proc/"$tui"/task/*; do
    if [ "$(cat "$t/comm" 2>/dev/null)" = "$1" ]; then s=$((s + $(awk '{print $14 + $15}' "$t/stat"))); fi
  done
  echo "$s"
}
kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$tui/status"; }
tcp_count() { ss -tan | tail -n +2 | wc -l; }
# The refresh time the header shows ("refresh 12ms").
refresh_ms() { screen | sed -n 's/.*refresh \([0-9.]*\)\(m\?s\).*/\1 \2/p' | head -1 | awk '{ print ($2 == "s") ? $1 * 1000 : $1 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Milliseconds from send-keys until the screen shows PATTERN (polling tmux's screen copy).
key_ms() { # KEY PATTERN
  local t0
  t0=$(now_ms)
  tmux -L "$sock" send-keys "$1"
  for _ in $(seq 2000); do
    if screen | grep -Eq "$2"; then echo $(( $(now_ms) - t0 )); return; fi
  done
  echo 99999
}
latency() { # -> "median max" over KEYS presses each way
  local all=() i
  for i in $(seq "$KEYS"); do
    all+=("$(key_ms 2 '(┌|┏) Sockets [0-9]')")
    sleep 0.2
    all+=("$(key_ms 1 '(┌|┏) Processes [0-9]')")
    sleep 0.2
  done
  printf '%s\n' "${all[@]}" | median
  printf '%s\n' "${all[@]}" | sort -n | tail -1
}

measure() { # LABEL -> one table row
  sleep 5 # warm-up: caches filled, first refreshes done
  local load0 t0 t1 m0 m1 pct main refreshes=() lat i
  load0=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(cpu_ticks); m0=$(thread_ticks tcplab)
  for i in $(seq 5); do
    sleep "$(awk -v s="$secs" 'BEGIN { print s / 5 }')"
    refreshes+=("$(refresh_ms)")
  done
  t1=$(cpu_ticks); m1=$(thread_ticks tcplab)
  pct=$(awk -v d=$((t1 - t0)) -v c="$clk" -v s="$secs" 'BEGIN {printf "%.2f", d / c / s * 100}')
  main=$(awk -v d=$((m1 - m0)) -v c="$clk" -v s="$secs" 'BEGIN {printf "%.2f", d / c / s * 100}')
  local rss hwm
  rss=$(kib VmRSS); hwm=$(kib VmHWM)
  lat=$(latency | paste -sd' ')
  printf '| %s | %s | %s | %s%% | %s%% | %s | %s | %.1f | %.1f | %s |\n' "$1" "$(tcp_count)" \
    "$(ls /proc | grep -c '^[0-9]')" "$pct" "$main" \
    "$(printf '%s\n' "${refreshes[@]}" | median)" "${lat/ / / }" \
    "$(awk -v k="$rss" 'BEGIN {print k/1024}')" "$(awk -v k="$hwm" 'BEGIN {print k/1024}')" "$load0"
}

rows=()
for case in $CASES; do
  case $case in
    idle) want 0; start_tui 120 40 ;;
    18k) want 18000; start_tui 120 40 ;;
    18k-rates) want 18000; start_tui 160 50 o 2 ;;
    100k) want "$BIG"; start_tui 120 40 ;;
    100k-rates) want "$BIG"; start_tui 160 50 o 2 ;;
    *) echo "bench/tui.sh: unknown case $case" >&2; exit 2 ;;
  esac
  rows+=("$(measure "$case")")
  echo "${rows[-1]}" >&2
  stop_tui
done

{
  echo
  echo "## tui: the dashboard's own CPU and memory"
  echo
  echo "\`CASES=\"$CASES\" bench/tui.sh $secs\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, Linux $(uname -r)," \
       "release build, default interval (1s), in a tmux pane, run as $(id -un)."
  echo "CPU% is (utime+stime) over ${secs} s / ${secs} s, of one core, for the whole process (every thread)"
  echo "and for its main loop alone (keys, update, draw; the refreshes run on their own thread)."
  echo "Refresh is the median of the header's \"refresh\" figure read five times in the window (the"
  echo "refresh thread's time for one snapshot). Key latency: \`2\`/\`1\` (Sockets/Processes) sent"
  echo "by tmux until tmux's copy of the screen shows the other pane, median / max of $(( KEYS * 2 ))."
  echo "Cases: idle and 18k/100k at 120x40 on the Processes pane (no owners, no tcp_info); -rates at"
  echo "160x50, one pane, Sockets with RTT/CWND/RETR/rate columns (tcp_info and owners every refresh)."
  echo "Load is the 1-minute load average when the window started; the socket count includes other people's."
  echo "Targets: < 1% idle, < 5% at 18,000 sockets (also with the rate columns), RSS < 30 MiB;"
  echo "refresh < 20 ms plain, < 25 ms with the rate columns at 18,000; at 100,000: key latency"
  echo "< 100 ms, CPU < 15%."
  echo
  echo "| case | TCP sockets (ss) | processes | CPU% | CPU% of the loop | refresh ms | key ms (median / max) | RSS MiB | peak RSS MiB | load |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee -a bench/RESULTS.md

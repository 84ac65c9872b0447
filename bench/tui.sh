#!/usr/bin/env bash
# The dashboard's own cost: utime+stime from /proc/PID/stat over 60 s at the default interval
# (1 s), on the machine as it is ("idle") and with 18,000 more TCP sockets open (9,000
# loopback connections held by examples/hold_pairs.rs, the inspector's), plus its RSS. The dashboard runs in
# a tmux pane of its own (160x50), as a person would run it.
# Usage: bench/tui.sh [SECONDS]   (default 60). Appends its table to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
command -v tmux >/dev/null || { apt-get update -qq && apt-get install -y -qq tmux >/dev/null; }
cargo build --release --locked --quiet --bin tcplab --example hold_pairs
bin=$PWD/target/release/tcplab
holder=$PWD/target/release/examples/hold_pairs
ulimit -n 65536 2>/dev/null || true

sock="tcplab-bench-tui-$$"
fifo=$(mktemp -u); mkfifo "$fifo"
cleanup() {
  tmux -L "$sock" send-keys q 2>/dev/null || true
  sleep 1
  tmux -L "$sock" kill-server 2>/dev/null || true
  [ -n "${holder_pid:-}" ] && kill "$holder_pid" 2>/dev/null && wait "$holder_pid" 2>/dev/null || true
  exec 3>&- 2>/dev/null || true
  rm -f "$fifo"
}
trap cleanup EXIT

tmux -L "$sock" new-session -d -x 160 -y 50 "$bin tui"
shell_pid=$(tmux -L "$sock" display -p '#{pane_pid}')
# The pane runs the dashboard directly (or through a shell that execs it).
tui=""
for _ in $(seq 100); do
  if [ "$(cat /proc/"$shell_pid"/comm 2>/dev/null)" = tcplab ]; then tui=$shell_pid; break; fi
  tui=$(pgrep -P "$shell_pid" -x tcplab || true); [ -n "$tui" ] && break
  sleep 0.1
done
[ -n "$tui" ] || { echo "bench/tui.sh: the dashboard did not start" >&2; exit 1; }

clk=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$tui/stat"; }
# Ticks of the live threads by name: the loop is the main thread (`tcplab`). The rest of the
# process's ticks are the kernel tracer's reader threads (their cost follows the machine's rate
# of TCP transitions) and each refresh's short-lived helpers (the socket dump's second half and
# the process scan run beside the loop's own half dump; an exited thread's ticks stay in the
# process's total only).
thread_ticks() {
  local t s=0
  for t in /proc/"$tui"/task/*; do
    if [ "$(cat "$t/comm")" = "$1" ]; then s=$((s + $(awk '{print $14 + $15}' "$t/stat"))); fi
  done
  echo "$s"
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$tui/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$tui/status"; }
tcp_count() { ss -tan | tail -n +2 | wc -l; }

measure() { # label
  sleep 5 # warm-up: caches filled, first refreshes done
  local load0 t0 t1 m0 m1 pct main
  load0=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(cpu_ticks); m0=$(thread_ticks tcplab)
  sleep "$secs"
  t1=$(cpu_ticks); m1=$(thread_ticks tcplab)
  pct=$(awk -v d=$((t1 - t0)) -v c="$clk" -v s="$secs" 'BEGIN {printf "%.2f", d / c / s * 100}')
  main=$(awk -v d=$((m1 - m0)) -v c="$clk" -v s="$secs" 'BEGIN {printf "%.2f", d / c / s * 100}')
  printf '| %s | %s | %s | %d (loop %d, other threads %d) | %s%% | %s%% | %.1f | %.1f | %s |\n' "$1" "$(tcp_count)" \
    "$(ls /proc | grep -c '^[0-9]')" "$((t1 - t0))" "$((m1 - m0))" "$((t1 - t0 - (m1 - m0)))" "$pct" "$main" \
    "$(rss_kib | awk '{print $1/1024}')" "$(hwm_kib | awk '{print $1/1024}')" "$load0"
}

rows=()
rows+=("$(measure idle)")
exec 3<>"$fifo"
"$holder" 9000 <"$fifo" >"$fifo.out" &
holder_pid=$!
for _ in $(seq 600); do grep -q ready "$fifo.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$fifo.out" || { echo "bench/tui.sh: hold_pairs did not get ready" >&2; exit 1; }
rm -f "$fifo.out"
rows+=("$(measure '18,000 sockets')")

{
  echo
  echo "## tui: the dashboard's own CPU and memory"
  echo
  echo "\`bench/tui.sh $secs\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, Linux $(uname -r)," \
       "release build, default interval (1s), in a 160x50 tmux pane, run as $(id -un)."
  echo "CPU% is (utime+stime) over ${secs} s / ${secs} s, of one core, for the whole process and for"
  echo "its main loop alone (the rest: the kernel tracer's reader threads, which work in proportion"
  echo "to the machine's TCP transitions, and each refresh's helper threads: the second half of the"
  echo "socket dump and the process scan, run beside the loop). Load is the 1-minute load average when the"
  echo "window started; the machine is shared, and the socket count includes other people's."
  echo "Targets: under 1% idle, under 5% with 18,000 sockets, RSS under 30 MiB."
  echo
  echo "| case | TCP sockets (ss) | processes | ticks used | CPU% | CPU% of the loop | RSS MiB | peak RSS MiB | load |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee -a bench/RESULTS.md

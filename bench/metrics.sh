#!/usr/bin/env bash
# One scrape of `tcplab metrics` at 18,000 sockets (9,000 loopback pairs held by one process)
# and 1,000 processes (sleepers added up to that count), beside node_exporter's tcpstat collector
# (the only collector enabled) on the same machine in the same rounds. Target: a scrape under
# 50 ms. Writes the "## metrics: scrape" section of bench/RESULTS.md.
#
# Usage: bench/metrics.sh [PAIRS] [PROCESSES]   (defaults 9000 1000; RUNS=21 rounds, medians)
# Needs: curl; Debian's prometheus-node-exporter for the comparison (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${1:-9000}
PROCS=${2:-1000}
RUNS=${RUNS:-21}
. bench/servers.sh

if ! command -v prometheus-node-exporter >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq prometheus-node-exporter >/dev/null || true
fi

cargo build --release --locked --quiet --bin tcplab --example hold_pairs
B=target/release/tcplab
ulimit -n $(( PAIRS * 2 + 100 )) 2>/dev/null || ulimit -n "$(ulimit -Hn)"

mkfifo "$work/in"
target/release/examples/hold_pairs "$PAIRS" <"$work/in" >"$work/ready" &
pids+=($!)
exec 3>"$work/in"   # the holder exits when this closes
for _ in $(seq 600); do grep -q '^ready' "$work/ready" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' "$work/ready" || { echo "metrics.sh: holder never got ready" >&2; exit 1; }

# Sleepers up to PROCS processes on the machine.
have=$(ls -d /proc/[0-9]* | wc -l)
for _ in $(seq $(( PROCS > have ? PROCS - have : 0 ))); do sleep 3600 & pids+=($!); done

port=$(free_port)
$B metrics --listen "127.0.0.1:$port" 2>"$work/metrics.err" &
pids+=($!)
for _ in $(seq 100); do grep -q 'listening on' "$work/metrics.err" 2>/dev/null && break; sleep 0.1; done
grep -q 'listening on' "$work/metrics.err" || { cat "$work/metrics.err" >&2; exit 1; }
source=$(sed -n 's/.*transitions: \([a-z]*\).*/\1/p' "$work/metrics.err")

ne=""
if command -v prometheus-node-exporter >/dev/null; then
  ne_port=$(free_port)
  prometheus-node-exporter --web.listen-address="127.0.0.1:$ne_port" \
    --collector.disable-defaults --collector.tcpstat 2>"$work/ne.err" &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ne_port/metrics" >/dev/null && break; sleep 0.1; done
  ne="http://127.0.0.1:$ne_port/metrics"
fi

time_us() {
  local s e
  s=$(date +%s%N); curl -sf "$1" >"$2"; e=$(date +%s%N)
  echo $(( (e - s) / 1000 ))
}
median_ms() {
  printf '%s\n' "$@" | sort -n | awk -v n="$#" 'NR == int((n + 1) / 2) { printf "%.1f", $1 / 1000 }'
}

load=$(cut -d' ' -f1-3 /proc/loadavg)
tcp_total=$(ss -s | awk '/^TCP:/ { print $2 }')
procs_total=$(ls -d /proc/[0-9]* | wc -l)
curl -sf "http://127.0.0.1:$port/metrics" >/dev/null   # warm-up
[ -n "$ne" ] && curl -sf "$ne" >/dev/null

T_t=() T_in=() T_ne=()
for _ in $(seq "$RUNS"); do
  T_t+=("$(time_us "http://127.0.0.1:$port/metrics" "$work/page")")
  T_in+=("$(awk '/^tcplab_scrape_duration_seconds / { printf "%d", $2 * 1000000 }' "$work/page")")
  [ -n "$ne" ] && T_ne+=("$(time_us "$ne" "$work/ne_page")")
done
t=$(median_ms "${T_t[@]}")
tin=$(median_ms "${T_in[@]}")
tmax=$(printf '%s\n' "${T_t[@]}" | sort -n | tail -1 | awk '{ printf "%.1f", $1 / 1000 }')
page_bytes=$(wc -c <"$work/page")
series=$(grep -vc '^#' "$work/page")
if [ -n "$ne" ]; then
  n=$(median_ms "${T_ne[@]}")
  ne_row="| node_exporter $(prometheus-node-exporter --version 2>&1 | awk 'NR==1 { print $3 }'), only \`--collector.tcpstat\` | $n | | $(awk -v a="$t" -v b="$n" 'BEGIN { printf "%.2f", a / b }') |"
else
  ne_row="| node_exporter | not installed | | |"
fi

section="## metrics: scrape

\`bench/metrics.sh $PAIRS $PROCS\` (RUNS=$RUNS rounds, each scraping tcplab then node_exporter,
medians of curl's wall time) on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, Linux $(uname -r),
as $(id -un); transitions source: $source. TCP sockets on the machine: $tcp_total ($(( PAIRS * 2 ))
held by the benchmark); processes: $procs_total. Load average before the run: $load: the machine
is shared with other people's builds and tests, so the numbers are noisy.

| scrape | ms (median) | max ms | tcplab / peer |
|---|---:|---:|---:|
| \`tcplab metrics\`, whole scrape (curl) | $t | $tmax | |
| of which reading the kernel (\`tcplab_scrape_duration_seconds\`) | $tin | | |
$ne_row

Target: a scrape under 50 ms. tcplab's page has $series series ($page_bytes bytes); node_exporter's
tcpstat gives only sockets by state, while tcplab's scrape also reads every process's stat,
the listeners' queues, /proc/net/netstat, and formats per-port series.
"
echo "$section"

results=bench/RESULTS.md
awk -v repl="$section" '
  /^## metrics: scrape/ { skip = 1; if (!done) { print repl; done = 1 }; next }
  /^## / && skip { skip = 0 }
  !skip { print }
  END { if (!done) { print ""; print repl } }
' "$results" >"$work/results" && cp "$work/results" "$results"

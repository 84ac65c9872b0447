#!/usr/bin/env bash
# How many transitions `tcplab trace` keeps, and what it costs, under RATE short connections per
# second on loopback for SECONDS (default 10,000/s for 10 s). Each connection makes exactly 10
# transitions in the kernel (5 per end), so expected = 10 x connections made.
#
# Runs in a private network namespace (unshare -n): the ~100k TIME_WAIT sockets the load leaves
# stay there and vanish with it, instead of crowding the machine's socket table. Needs root.
#
#   bench/trace.sh [RATE] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-10000}
SECS=${2:-10}
PORT=8099

if [ "${TCPLAB_BENCH_INSIDE:-}" != 1 ]; then
  cargo build --release --locked --quiet --bin tcplab --example connload
  TCPLAB_BENCH_INSIDE=1 exec unshare -n "$0" "$@"
fi

ip link set lo up
tmp=$(mktemp -d)
tracer=
cleanup() {
  if [ -n "$tracer" ] && kill -0 "$tracer" 2>/dev/null; then kill -INT "$tracer"; wait "$tracer" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

target/release/tcplab trace --json --port "$PORT" >"$tmp/out" 2>"$tmp/err" &
tracer=$!
for _ in $(seq 100); do
  grep -q "tcplab trace: tracing via kernel tracepoint" "$tmp/err" && break
  sleep 0.1
done
grep -q "tcplab trace: tracing via kernel tracepoint" "$tmp/err" || { cat "$tmp/err"; exit 1; }

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$tracer/stat"; }
user_sys() { awk '{print $14, $15}' "/proc/$tracer/stat"; }
cpu0=$(cpu)
read -r u0 s0 < <(user_sys)
load=$(target/release/examples/connload --port "$PORT" --rate "$RATE" --seconds "$SECS")
# Let the tracer drain: wait until its output stops growing.
prev=-1
while :; do
  sleep 0.5
  now=$(wc -l <"$tmp/out")
  [ "$now" = "$prev" ] && break
  prev=$now
done
cpu1=$(cpu)
read -r u1 s1 < <(user_sys)
kill -INT "$tracer"
wait "$tracer"
tracer=

conns=$(awk '{print $2}' <<<"$load")
failed=$(awk '{print $4}' <<<"$load")
elapsed=$(awk '{print $6}' <<<"$load")
# The listener's own CLOSE→LISTEN and LISTEN→CLOSE are not the load's.
got=$(grep '"source":"kernel"' "$tmp/out" | grep -vc '"remote":"0.0.0.0:0"' || true)
expected=$((conns * 10))
lost_n=$(grep -o "overflowed: [0-9]*" "$tmp/err" | tail -1 | grep -o "[0-9]*$" || true)
cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" -v t="$ticks" 'BEGIN{printf "%.2f", (b-a)/t}')
report=$(cat <<REPORT
## trace: transitions under load

\`bench/trace.sh $RATE $SECS\` on $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) cores, Linux $(uname -r), as root,
in a private network namespace. Load average at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg)
(the machine is shared). The load generator (\`examples/connload.rs\`: 4 client threads from 16
loopback source addresses, 2 accepting threads) aims at $RATE connections/s; each connection makes
exactly 10 transitions (5 per end). The tracer is \`tcplab trace --json --port $PORT\` (release).

| metric | value | target |
|---|---:|---|
| connections made | $conns in ${elapsed}s ($(awk -v c="$conns" -v e="$elapsed" 'BEGIN{printf "%.0f", c/e}')/s), $failed failed | $RATE/s |
| transitions expected (10 per connection) | $expected | |
| transitions received | $got | |
| transitions missing | $((expected - got)) | 0 |
| lost as the kernel reported it | ${lost_n:-0} | 0 |
| tracer CPU (utime+stime from /proc) | ${cpu_s}s: user $(((u1 - u0) * 1000 / ticks))ms, system $(((s1 - s0) * 1000 / ticks))ms | |
| tracer CPU share of one core | $(awk -v c="$cpu_s" -v e="$elapsed" 'BEGIN{printf "%.0f", 100*c/e}')% | |
REPORT
)
echo "$report"
# Replace this script's section of bench/RESULTS.md (or add it), keeping the others'.
results=bench/RESULTS.md
[ -f "$results" ] || printf '# Benchmark results\n\nEach section is written by the script it names.\n' >"$results"
awk -v new="$report" '
  /^## trace: / { skip = 1; print new; print ""; done = 1; next }
  /^## / { skip = 0 }
  !skip { print }
  END { if (!done) { print ""; print new } }
' "$results" >"$tmp/results" && cat "$tmp/results" >"$results"

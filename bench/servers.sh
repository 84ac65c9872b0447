# Sourced by the benchmark scripts that start servers: a scratch directory ($work) that is
# removed on exit, every process whose pid is added to `pids` killed on exit, and free_port.
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A loopback port nothing listens on (for nginx, which cannot be asked to pick one).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 10000))
    [ -z "$(ss -Htln "sport = :$p")" ] && { echo "$p"; return; }
  done
}

# Replaces the section headed $1 in bench/RESULTS.md with $2 (which starts with that heading),
# keeping every other script's sections.
write_section() { # heading section
  local results=bench/RESULTS.md
  awk -v h="$1" '/^## / { skip = ($0 == h) } !skip' "$results" >"$work/results"
  { cat "$work/results"; echo; echo "$2"; } | cat -s >"$results"
}

# Sourced by the benchmark scripts that start servers: what every such script does first, and
# the one way each of them starts tcplab and nginx and waits for them.
#  - a scratch directory ($work) removed on exit; every pid added to `pids` killed on exit;
#  - wrk and nginx installed if missing (bench/need.sh sets NGINX), descriptors raised to the
#    hard limit, the release binary built (TCPLAB) with the examples `prepare` is given;
#  - start_tcplab / start_nginx: a server on a loopback port of its own, answering before they
#    return; PORT[name] and PID[name] (the master) name it. PIN_SERVER, if set, prefixes the
#    server's command (taskset).
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

TCPLAB=target/release/tcplab
declare -A PORT PID

prepare() { # [cargo build arguments, e.g. --example NAME]
  . bench/need.sh
  ulimit -n "$(ulimit -Hn)"
  cargo build --release --locked --bin tcplab "$@"
}

# A loopback port nothing listens on (for nginx, which cannot be asked to pick one).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 10000))
    [ -z "$(ss -Htln "sport = :$p")" ] && { echo "$p"; return; }
  done
}

wait_line() { # file pattern
  for _ in $(seq 400); do grep -q "$2" "$1" && return 0; sleep 0.05; done
  echo "no '$2' in $1: $(cat "$1")" >&2
  return 1
}

# The port of the first 127.0.0.1 address in a file (a server's "listening on" line).
port_of() { sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | head -1; }

wait_port() { # port
  for _ in $(seq 400); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.05
  done
  echo "nothing answers on port $1" >&2
  return 1
}

worker_of() { # master-pid: its first child (a one-worker master's worker)
  local c
  for _ in $(seq 400); do
    c=$(pgrep -P "$1" | head -1 || true)
    [ -n "$c" ] && { echo "$c"; return; }
    sleep 0.05
  done
  echo "no worker under $1" >&2
  return 1
}

start_tcplab() { # name [tcplab serve flags...]
  local name=$1
  shift
  ${PIN_SERVER:-} "$TCPLAB" serve --listen 127.0.0.1:0 "$@" 2>"$work/$name.err" &
  PID[$name]=$!
  pids+=($!)
  wait_line "$work/$name.err" "listening on"
  PORT[$name]=$(port_of "$work/$name.err")
  wait_port "${PORT[$name]}"
}

# nginx from assets/nginx.conf (the same page, no access log) with `workers` worker processes.
start_nginx() { # name workers
  local name=$1 dir=$work/$1
  PORT[$name]=$(free_port)
  mkdir -p "$dir"
  sed -e "s#__PREFIX__#$dir#g" -e "s#__PORT__#${PORT[$name]}#g" \
    -e "s/^worker_processes 1;/worker_processes $2;/" assets/nginx.conf >"$dir/nginx.conf"
  ${PIN_SERVER:-} "$NGINX" -p "$dir" -c "$dir/nginx.conf" 2>"$work/$name.err" &
  PID[$name]=$!
  pids+=($!)
  wait_port "${PORT[$name]}"
}

# Ends a server started here: tcplab at once, nginx gracefully (QUIT), and waits for it.
stop_server() { # name
  case $1 in
    nginx*) kill -QUIT "${PID[$1]}" 2>/dev/null || true ;;
    *) kill "${PID[$1]}" 2>/dev/null || true ;;
  esac
  wait "${PID[$1]}" 2>/dev/null || true
}

# Replaces the section headed $1 in bench/RESULTS.md with $2 (which starts with that heading),
# keeping every other script's sections.
write_section() { # heading section
  local results=bench/RESULTS.md
  [ -f "$results" ] || printf '# Benchmark results\n\nEach section is written by the script it names.\n' >"$results"
  awk -v h="$1" '/^## / { skip = ($0 == h) } !skip' "$results" >"$work/results"
  { cat "$work/results"; echo; echo "$2"; } | cat -s >"$results"
}

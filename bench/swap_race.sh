#!/usr/bin/env bash
# The swap race of issue 17, measured: a directory under the served root swapped again and
# again (renameat2 RENAME_EXCHANGE) with a symlink to /etc while clients ask for
# /race/passwd and /race/shadow (bench/swap_race.py). Counts answers and what came from
# outside the root, for tcplab serve --root (openat2; and the component walk, with openat2
# made ENOSYS by a seccomp filter) and nginx with `disable_symlinks on`. Run as root for the
# issue's case (root may read /etc/shadow). Writes "serve: the swap race" in bench/RESULTS.md.
#
#   bench/swap_race.sh                 # DURATION=5 CLIENTS=4
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
CLIENTS=${CLIENTS:-4}

. bench/servers.sh # prepare, start_tcplab, wait_port, stop_server, write_section; $work, pids
prepare
[ "$(id -u)" -eq 0 ] || echo "not root: /etc/shadow is unreadable here, so it cannot leak" >&2

tree() { # dir: race/ with decoys, swap -> /etc
  mkdir -p "$1/race"
  printf 'decoy passwd\n' >"$1/race/passwd"
  printf 'decoy shadow\n' >"$1/race/shadow"
  ln -s /etc "$1/swap"
}

start_nginx_root() { # name root: one worker, disable_symlinks on, no open file cache
  local name=$1 dir=$work/$1
  PORT[$name]=$(free_port)
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<CONF
$([ "$(id -u)" -eq 0 ] && echo "user root;")
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:${PORT[$name]};
        root $2;
        disable_symlinks on;
    }
}
CONF
  "$NGINX" -p "$dir" -c "$dir/nginx.conf" 2>"$work/$name.err" &
  PID[$name]=$!
  pids+=($!)
  wait_port "${PORT[$name]}"
}

rows=""
run() { # name label
  local out
  out=$(python3 bench/swap_race.py race "127.0.0.1:${PORT[$1]}" "$work/$1.www" "$DURATION" "$CLIENTS")
  echo "$2: $out" >&2
  rows+=$(echo "$out" | awk -v l="$2" '{ printf "| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d |\n", l, $1, $2, $3, $4, $5, $6, $7, $8, $9 }')$'\n'
  stop_server "$1"
}

tree "$work/tcplab.www"
start_tcplab tcplab --root "$work/tcplab.www" --workers 1
run tcplab "tcplab serve --root (openat2)"

tree "$work/walk.www"
PIN_SERVER="python3 bench/swap_race.py without-openat2" start_tcplab walk --root "$work/walk.www" --workers 1
grep -q 'Seccomp:.2' "/proc/${PID[walk]}/status"
run walk "tcplab serve --root (the walk: openat2 ENOSYS)"

tree "$work/nginx.www"
start_nginx_root nginx "$work/nginx.www"
run nginx "nginx, disable_symlinks on"

load=$(cut -d' ' -f1-3 /proc/loadavg)
section=$(
  echo "## serve: the swap race"
  echo
  echo "\`DURATION=$DURATION CLIENTS=$CLIENTS bench/swap_race.sh\` as $(id -un) on $(date -u '+%Y-%m-%d %H:%M UTC'),"
  echo "$(nproc) cores, Linux $(uname -r), $("$NGINX" -v 2>&1 | sed 's/.*: //'), load average: $load (the"
  echo "machine is shared). For $DURATION s each, \`race/\` (decoys \`passwd\` and \`shadow\`) is swapped with"
  echo "\`swap\` (a symlink to /etc) by renameat2(RENAME_EXCHANGE) in a loop while $CLIENTS clients ask for"
  echo "/race/passwd and /race/shadow on kept-alive connections. Each server has one worker."
  echo "\"from outside\" is every 200 whose body is not the decoy; the real files start with \`root:\`."
  echo
  echo "| server | answers | from inside | 404 | other | from outside | bytes from outside | real /etc/passwd | real /etc/shadow | swaps |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s' "$rows"
)
echo "$section"
write_section "## serve: the swap race" "$section"

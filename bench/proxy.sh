#!/usr/bin/env bash
# bench/proxy.sh — proxy throughput/latency benchmark (issue 2, section 8).
#
# Not a test: it is never run by CI. It needs nginx, haproxy, wrk, curl and
# python3 (scripts/install-deps.sh installs them).
#
# One run starts an nginx backend (1 worker) answering a small JSON body, then
# runs `wrk -t1 -c<connections> -d<duration> --latency` against:
#   (a) direct   the backend itself
#   (b) nginx    nginx as reverse proxy (1 worker, upstream keepalive 64)
#   (c) haproxy  HAProxy (nbthread 1, http-reuse always)
#   (d) suoke    `suoke gateway --workers 1`, one service + one route, no plugins
# and prints a table (req/s, p50, p99, error counts), then
#   p99_suoke_ms=..  p99_nginx_ms=..  ratio=<suoke req/s / nginx req/s>
# with ratio as the last line.
#
# Exit status: 0 on success; 1 on a setup failure (a server that does not
# start, a missing tool); 3 when every run finished but at least one of them
# had non-2xx/3xx responses or socket errors (the table shows which).
set -euo pipefail
export LC_ALL=C

usage() {
  cat <<'EOF'
Usage: bench/proxy.sh [--duration D] [--connections N] [--peers-only] [--keep-tmp]

  --duration D      wrk duration per target (default 10s; wrk syntax: 10s, 1m)
  --connections N   wrk connections (default 64); wrk always uses 1 thread
  --peers-only      run only (a) direct, (b) nginx, (c) haproxy; skip suoke
                    and the p99_suoke_ms/ratio lines
  --keep-tmp        keep the temporary directory (configs, server logs, raw
                    wrk outputs) and print its path
  -h, --help        this help

Environment:
  SUOKE   path of the suoke binary (default ./build/suoke, i.e. relative to the
          current directory; if that does not exist, <repo>/build/suoke)
EOF
}

BENCH_NAME=bench/proxy.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration=10s
connections=64
peers_only=0
keep_tmp=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) [ $# -ge 2 ] || die "--duration needs a value"; duration=$2; shift 2 ;;
    --duration=*) duration=${1#*=}; shift ;;
    --connections) [ $# -ge 2 ] || die "--connections needs a value"; connections=$2; shift 2 ;;
    --connections=*) connections=${1#*=}; shift ;;
    --peers-only) peers_only=1; shift ;;
    --keep-tmp) keep_tmp=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ "$duration" =~ ^[0-9]+[smh]?$ ]] || die "--duration must look like 10s, 30s or 1m (got '$duration')"
[[ "$connections" =~ ^[1-9][0-9]*$ ]] || die "--connections must be a positive integer (got '$connections')"

# ---------------------------------------------------------------- tools
for tool in nginx haproxy wrk curl python3; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "'$tool' not found in PATH (nginx: /usr/sbin; run scripts/install-deps.sh)"
done
NGINX=$(command -v nginx)
HAPROXY=$(command -v haproxy)

if [ "$peers_only" = 0 ]; then
  bench_find_suoke
fi

# ---------------------------------------------------------------- cleanup
# The exit trap (bench/lib.sh) stops every server registered with
# bench_track_pid and removes $tmp unless --keep-tmp.
bench_make_tmp suoke-bench

# ---------------------------------------------------------------- helpers
# wait_ready NAME PID PORT LOG: poll http://127.0.0.1:PORT/ with curl for up to
# 10 s; any HTTP answer counts. Fails clearly if the process exits or never
# answers.
wait_ready() {
  local name=$1 pid=$2 port=$3 log=$4 i
  for i in $(seq 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
      local st=0
      wait "$pid" 2>/dev/null || st=$?
      show_log "$name" "$log"
      die "$name (PID $pid) exited with status $st before answering on 127.0.0.1:$port"
    fi
    if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
      return 0
    fi
    sleep 0.1
  done
  show_log "$name" "$log"
  die "$name (PID $pid) did not answer on http://127.0.0.1:$port/ within 10 s"
}

# check_body NAME PORT: one request must return 200 and the backend's body, so
# that we never benchmark an error page.
check_body() {
  local name=$1 port=$2 out code body
  out=$(curl -s --max-time 5 -w '\n%{http_code}' "http://127.0.0.1:$port/") ||
    die "$name: request to http://127.0.0.1:$port/ failed"
  code=${out##*$'\n'}
  body=${out%$'\n'*}
  [ "$code" = 200 ] || die "$name: GET http://127.0.0.1:$port/ returned HTTP $code (body: $body), expected 200"
  [ "$body" = "$BODY" ] || die "$name: GET http://127.0.0.1:$port/ returned body '$body', expected '$BODY'"
}

# to_ms VALUE: wrk time (e.g. 812.00us, 1.23ms, 2.01s, 1.00m) -> milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (match(v, /^[0-9.]+/) == 0) { print "NA"; exit }
    n = substr(v, 1, RLENGTH); u = substr(v, RLENGTH + 1)
    if (u == "us") f = 0.001; else if (u == "ms") f = 1; else if (u == "s") f = 1000;
    else if (u == "m") f = 60000; else if (u == "h") f = 3600000; else { print "NA"; exit }
    printf "%.3f", n * f
  }'
}

# ---------------------------------------------------------------- servers
BODY='{"status":"ok","service":"backend"}'
ports=$(free_ports 6) || die "could not pick free loopback ports with python3"
read -r -d '' backend_port nginx_port haproxy_port suoke_port admin_port status_port \
  <<<"$ports" || true
[ -n "${status_port:-}" ] || die "could not pick free loopback ports with python3 (got: $ports)"

nginx_conf() {  # nginx_conf PREFIX PORT HTTP_BODY
  cat <<EOF
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $1/client_body;
  proxy_temp_path $1/proxy;
  fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi;
  scgi_temp_path $1/scgi;
$3
  server {
    listen 127.0.0.1:$2;
    location / {
$4
    }
  }
}
EOF
}

# start_nginx NAME CONF_HTTP_EXTRA LOCATION_BODY PORT
start_nginx() {
  local name=$1 prefix=$tmp/$1
  mkdir -p "$prefix"
  nginx_conf "$prefix" "$4" "$2" "$3" > "$prefix/nginx.conf"
  "$NGINX" -t -q -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf" \
    >"$prefix/stderr.log" 2>&1 || { show_log "$name" "$prefix/stderr.log"; die "$name: nginx -t rejected $prefix/nginx.conf"; }
  "$NGINX" -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf" \
    >"$prefix/stderr.log" 2>&1 &
  local pid=$!
  bench_track_pid "$pid"
  wait_ready "$name" "$pid" "$4" "$prefix/error.log"
}

start_nginx backend "" \
"      default_type application/json;
      return 200 '$BODY';" "$backend_port"
check_body backend "$backend_port"

start_nginx nginx-proxy \
"  upstream backend {
    server 127.0.0.1:$backend_port;
    keepalive 64;
  }" \
"      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";" "$nginx_port"
check_body nginx-proxy "$nginx_port"

mkdir -p "$tmp/haproxy"
cat > "$tmp/haproxy/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-request 10s
  timeout http-keep-alive 60s

frontend fe
  bind 127.0.0.1:$haproxy_port
  default_backend be

backend be
  server backend 127.0.0.1:$backend_port
EOF
"$HAPROXY" -c -q -f "$tmp/haproxy/haproxy.cfg" >"$tmp/haproxy/check.log" 2>&1 ||
  { show_log haproxy "$tmp/haproxy/check.log"; die "haproxy -c rejected $tmp/haproxy/haproxy.cfg"; }
"$HAPROXY" -db -f "$tmp/haproxy/haproxy.cfg" >"$tmp/haproxy/haproxy.log" 2>&1 &
bench_track_pid "$!"
wait_ready haproxy "$!" "$haproxy_port" "$tmp/haproxy/haproxy.log"
check_body haproxy "$haproxy_port"

if [ "$peers_only" = 0 ]; then
  mkdir -p "$tmp/suoke/data"
  cat > "$tmp/suoke/kong.yml" <<EOF
_format_version: "3.0"
services:
  - name: bench-backend
    url: http://127.0.0.1:$backend_port
    routes:
      - name: bench-root
        paths: ["/"]
EOF
  "$SUOKE" gateway --config "$tmp/suoke/kong.yml" \
    --proxy-listen "127.0.0.1:$suoke_port" \
    --admin-listen "127.0.0.1:$admin_port" \
    --status-listen "127.0.0.1:$status_port" \
    --data-dir "$tmp/suoke/data" \
    --workers 1 >"$tmp/suoke/suoke.log" 2>&1 &
  bench_track_pid "$!"
  wait_ready suoke "$!" "$suoke_port" "$tmp/suoke/suoke.log"
  check_body suoke "$suoke_port"
fi

# ---------------------------------------------------------------- runs
# Other work on the machine (a build, another benchmark) skews every figure.
load1=$(warn_if_loaded)
names=() rps=() p50=() p99=() non2xx=() sockerr=()
any_errors=0

# run NAME PORT: wrk against http://127.0.0.1:PORT/ and parse its output.
run() {
  local name=$1 port=$2 out=$tmp/wrk-$1.txt
  note "wrk -t1 -c$connections -d$duration --latency http://127.0.0.1:$port/   ($name)"
  if ! wrk -t1 -c"$connections" -d"$duration" --latency "http://127.0.0.1:$port/" >"$out" 2>&1; then
    cat "$out" >&2
    die "$name: wrk failed"
  fi
  local r a b n s
  r=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  a=$(awk '$1 == "50%" { print $2 }' "$out")
  b=$(awk '$1 == "99%" { print $2 }' "$out")
  if [ -z "$r" ] || [ -z "$a" ] || [ -z "$b" ]; then
    cat "$out" >&2
    die "$name: could not parse Requests/sec and the 50%/99% latency lines from wrk's output"
  fi
  a=$(to_ms "$a"); b=$(to_ms "$b")
  if [ "$a" = NA ] || [ "$b" = NA ]; then
    cat "$out" >&2
    die "$name: unknown latency unit in wrk's output"
  fi
  # "Non-2xx or 3xx responses: N" and
  # "Socket errors: connect C, read R, write W, timeout T" appear only when non-zero.
  n=$(awk -F': ' '/Non-2xx or 3xx responses:/ { print $2 + 0 }' "$out")
  s=$(awk '/Socket errors:/ { gsub(/,/, ""); print $4 + $6 + $8 + $10 }' "$out")
  n=${n:-0}; s=${s:-0}
  if [ "$n" != 0 ] || [ "$s" != 0 ]; then
    any_errors=1
    note "WARNING: $name had errors: $(grep -E 'Non-2xx|Socket errors' "$out" | sed 's/^ *//' | paste -sd ';' -)"
  fi
  names+=("$name"); rps+=("$r"); p50+=("$a"); p99+=("$b"); non2xx+=("$n"); sockerr+=("$s")
}

run direct "$backend_port"
run nginx "$nginx_port"
run haproxy "$haproxy_port"
[ "$peers_only" = 1 ] || run suoke "$suoke_port"

# ---------------------------------------------------------------- report
echo
echo "wrk -t1 -c$connections -d$duration --latency; backend: nginx, 1 worker, ${#BODY}-byte JSON body; $(nproc) CPUs; load average before runs: $load1"
printf '%-8s %12s %10s %10s %8s %8s  %s\n' name req/s p50_ms p99_ms non2xx sockerr status
for i in "${!names[@]}"; do
  st=ok
  if [ "${non2xx[$i]}" != 0 ] || [ "${sockerr[$i]}" != 0 ]; then st=ERRORS; fi
  printf '%-8s %12.2f %10.3f %10.3f %8d %8d  %s\n' \
    "${names[$i]}" "${rps[$i]}" "${p50[$i]}" "${p99[$i]}" "${non2xx[$i]}" "${sockerr[$i]}" "$st"
done
if [ "$peers_only" = 0 ]; then
  echo "p99_suoke_ms=${p99[3]}"
fi
echo "p99_nginx_ms=${p99[1]}"
if [ "$any_errors" = 1 ]; then
  note "WARNING: at least one run had non-2xx/3xx responses or socket errors (see the table); its figures are not comparable"
fi
if [ "$peers_only" = 0 ]; then
  awk -v s="${rps[3]}" -v n="${rps[1]}" 'BEGIN { printf "ratio=%.3f\n", (n > 0 ? s / n : 0) }'
fi
[ "$any_errors" = 0 ] || exit 3

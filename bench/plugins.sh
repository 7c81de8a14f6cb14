#!/usr/bin/env bash
# bench/plugins.sh — plugin chain throughput/latency benchmark (issue 3,
# section "Benchmark bench/plugins.sh").
#
# Not a test: it is never run by CI. It needs nginx with the Lua module
# (libnginx-mod-http-lua, lua-cjson), haproxy, wrk, curl and python3
# (scripts/install-deps.sh installs them).
#
# One run starts an nginx backend (1 worker) answering a small JSON body that
# holds the fields "sensitive_data" and "personal_info", then runs
# `wrk -t1 -c<connections> -d<duration> --latency` with
# `Authorization: Bearer <HS256 JWT>` and `Origin:` headers against:
#   (a) nginx          nginx plain reverse proxy (1 worker, upstream keepalive 64)
#   (b) haproxy-chain  HAProxy (nbthread 1): jwt_verify HS256 + a stick-table
#                      rate limit (never reached) + CORS header
#   (c) lua-chain      nginx + Lua (Kong's engine, 1 worker): JWT HS256 through
#                      LuaJIT FFI to OpenSSL's HMAC, shared-dict rate limit
#                      (never reached), CORS, body_filter removing two JSON
#                      fields (cjson), log phase writing one JSON line per
#                      request to a file plus prometheus-like shared-dict counters
#   (e) nginx-log      (a) plus an access log line per request shaped and sized
#                      like Kong's file-log record (nginx's buffered access_log)
#   (f) suoke-nolog    (d) without file-log
#   (g) suoke-devnull  (d) with file-log writing to /dev/null
#   (d) suoke-chain    `suoke gateway --workers 1` with a Kong 3.x declarative
#                      file: jwt + rate-limiting + cors + response-transformer +
#                      file-log + prometheus on one route
# (in that order) and prints a table (req/s, p50, p99, error counts), then
#   p99_suoke_ms=..  p99_nginx_ms=..
#   nginx_log=<nginx-log / nginx>  ratio_nolog=<suoke-nolog / nginx>
#   ratio_devnull=<suoke-devnull / nginx>  ratio_log=<suoke-chain / nginx-log>
#   ratio=<suoke-chain req/s / nginx req/s>
# with ratio as the last line. (e), (f) and (g) say where the chain's cost lies: in the
# plugins, in building the log record, or in writing ~1.6 KB of it to a file per request,
# which costs nginx itself (e).
#
# Exit status: 0 on success; 1 on a setup failure (a server that does not
# start, a missing tool, a target that fails its pre-run check); 3 when every
# run finished but at least one of them had non-2xx/3xx responses or socket
# errors (the table shows which).
set -euo pipefail
export LC_ALL=C

usage() {
  cat <<'EOF'
Usage: bench/plugins.sh [--duration D] [--connections N] [--peers-only]
                        [--no-verify] [--keep-tmp]

  --duration D      wrk duration per target (default 10s; wrk syntax: 10s, 1m)
  --connections N   wrk connections (default 64); wrk always uses 1 thread
  --peers-only      run only (a) nginx, (b) haproxy-chain, (c) lua-chain,
                    (e) nginx-log; skip suoke and the p99_suoke_ms/ratio lines
  --no-verify       skip the plugin checks before each run (JSON fields
                    removed, CORS header, 401 without a token and with a bad
                    signature); only "one request returns 200" is checked.
                    For a suoke whose plugins do not act yet.
  --keep-tmp        keep the temporary directory (configs, server logs, the
                    file-log outputs, raw wrk outputs) and print its path
  -h, --help        this help

Environment:
  SUOKE   path of the suoke binary (default ./build/suoke, i.e. relative to the
          current directory; if that does not exist, <repo>/build/suoke)
EOF
}

BENCH_NAME=bench/plugins.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

duration=10s
connections=64
peers_only=0
verify=1
keep_tmp=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) [ $# -ge 2 ] || die "--duration needs a value"; duration=$2; shift 2 ;;
    --duration=*) duration=${1#*=}; shift ;;
    --connections) [ $# -ge 2 ] || die "--connections needs a value"; connections=$2; shift 2 ;;
    --connections=*) connections=${1#*=}; shift ;;
    --peers-only) peers_only=1; shift ;;
    --no-verify) verify=0; shift ;;
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
NGINX_MODULES=/usr/lib/nginx/modules
for m in ndk_http_module.so ngx_http_lua_module.so; do
  [ -f "$NGINX_MODULES/$m" ] ||
    die "$NGINX_MODULES/$m not found: the nginx+Lua peer needs libnginx-mod-http-lua (run scripts/install-deps.sh)"
done
LUA_CPATH=/usr/lib/x86_64-linux-gnu/lua/5.1
[ -f "$LUA_CPATH/cjson.so" ] ||
  LUA_CPATH=$(dirname "$(find /usr/lib /usr/local/lib -path '*/lua/5.1/cjson.so' 2>/dev/null | head -n1)")
[ -f "$LUA_CPATH/cjson.so" ] ||
  die "lua/5.1/cjson.so not found: the nginx+Lua peer needs lua-cjson (run scripts/install-deps.sh)"
LIBCRYPTO=$(python3 -c 'import ctypes.util; print(ctypes.util.find_library("crypto") or "")')
[ -n "$LIBCRYPTO" ] || die "libcrypto not found (the nginx+Lua peer calls OpenSSL's HMAC through LuaJIT FFI)"
haproxy_vv=$("$HAPROXY" -vv 2>&1 || true)
[[ "$haproxy_vv" == *USE_OPENSSL=1* ]] ||
  die "$HAPROXY is built without OpenSSL: no jwt_verify converter (HAProxy >= 2.5 with OpenSSL needed)"

if [ "$peers_only" = 0 ]; then
  bench_find_suoke
fi

# ---------------------------------------------------------------- cleanup
# The exit trap (bench/lib.sh) stops every server registered with
# bench_track_pid and removes $tmp unless --keep-tmp.
bench_make_tmp suoke-bench-plugins

# ---------------------------------------------------------------- helpers
# wait_ready NAME PID PORT LOG: poll http://127.0.0.1:PORT/ with curl for up to
# 10 s; any HTTP answer counts (a 401 too). Fails clearly if the process exits
# or never answers.
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

# check NAME PORT KIND LOG: one request with the benchmark's headers must
# return 200 (a 401 means the token or the JWT setup is wrong: fail). KIND:
#   plain  the body is the backend's, byte for byte
#   keep   (haproxy-chain) the backend's body; with verification: a CORS
#          header, and 401 without a token and with a bad signature
#   strip  (lua-chain, suoke-chain) with verification: a JSON body without
#          sensitive_data and personal_info but with the other fields, a CORS
#          header, and 401 without a token and with a bad signature
check() {
  local name=$1 port=$2 kind=$3 log=$4 msg
  if ! msg=$(python3 - "$port" "$kind" "$verify" "$TOKEN" "$BAD_TOKEN" "$ORIGIN" "$BODY" <<'EOF' 2>&1
import http.client, json, sys
port, kind, verify, token, bad_token, origin, body = sys.argv[1:]
verify = verify == "1"
def get(headers):
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
    c.request("GET", "/", headers=headers)
    r = c.getresponse()
    data = r.read().decode("utf-8", "replace")
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data
def fail(msg):
    print(msg)
    sys.exit(1)
st, hdrs, data = get({"Authorization": "Bearer " + token, "Origin": origin})
if st == 401:
    fail(f"HTTP 401 with a valid token (a bug in the JWT setup or the jwt plugin); body: {data!r}")
if st != 200:
    fail(f"HTTP {st}, expected 200; body: {data!r}")
if kind == "plain" or (kind == "keep" and verify):
    if data != body:
        fail(f"body {data!r}, expected the backend's {body!r}")
if not verify:
    sys.exit(0)
if kind == "strip":
    try:
        obj = json.loads(data)
    except ValueError:
        fail(f"body is not JSON: {data!r}")
    left = [f for f in ("sensitive_data", "personal_info") if f in obj]
    if left:
        fail(f"response-transformer did not remove {left} from the body: {data!r} (--no-verify skips this check)")
    want = {k: v for k, v in json.loads(body).items() if k not in ("sensitive_data", "personal_info")}
    if obj != want:
        fail(f"body {data!r}, expected the JSON object {json.dumps(want)}")
if kind in ("keep", "strip"):
    if hdrs.get("access-control-allow-origin") not in ("*", origin):
        fail(f"no Access-Control-Allow-Origin header in the response (cors); headers: {hdrs} (--no-verify skips this check)")
    st, _, data = get({"Origin": origin})
    if st != 401:
        fail(f"HTTP {st} without a token, expected 401 (jwt); body: {data!r} (--no-verify skips this check)")
    st, _, data = get({"Authorization": "Bearer " + bad_token, "Origin": origin})
    if st != 401:
        fail(f"HTTP {st} with a token whose signature is wrong, expected 401 (jwt); body: {data!r} (--no-verify skips this check)")
EOF
  ); then
    show_log "$name" "$log"
    die "$name: pre-run check of http://127.0.0.1:$port/ failed: $msg"
  fi
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

# ---------------------------------------------------------------- fixtures
BODY='{"id":42,"name":"bench","status":"ok","sensitive_data":"4111-1111-1111-1111","personal_info":"alice@example.com"}'
ORIGIN=http://bench.example.com
JWT_KEY=bench-key
JWT_SECRET=bench-secret-2f6c1e0a9b8d4c3e
RL_SECOND=1000000   # rate limit per second: never reached
# HS256 token with iss=<key> and exp one hour ahead (Kong's jwt plugin looks the
# credential up by the "iss" claim); BAD_TOKEN has the same header and payload
# but a signature made with another secret.
tokens=$(python3 - "$JWT_KEY" "$JWT_SECRET" <<'EOF'
import base64, hashlib, hmac, json, sys, time
key, secret = sys.argv[1:]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
body = b64(json.dumps({"iss": key, "sub": "bench-user", "exp": int(time.time()) + 3600},
                      separators=(",", ":")).encode())
signing_input = f"{head}.{body}".encode()
for s in (secret, secret + "-wrong"):
    print(f"{head}.{body}." + b64(hmac.new(s.encode(), signing_input, hashlib.sha256).digest()))
EOF
) || die "could not generate the JWT with python3"
TOKEN=${tokens%%$'\n'*}
BAD_TOKEN=${tokens##*$'\n'}

ports=$(free_ports 14) || die "could not pick free loopback ports with python3"
read -r -d '' backend_port nginx_port haproxy_port lua_port suoke_port admin_port status_port \
  nginx_log_port nolog_port nolog_admin_port nolog_status_port \
  devnull_port devnull_admin_port devnull_status_port <<<"$ports" || true
[ -n "${devnull_status_port:-}" ] || die "could not pick free loopback ports with python3 (got: $ports)"

# ---------------------------------------------------------------- nginx
nginx_conf() {  # nginx_conf PREFIX PORT MAIN_EXTRA HTTP_EXTRA LOCATION_BODY
  cat <<EOF
$3
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
$4
  server {
    listen 127.0.0.1:$2;
    location / {
$5
    }
  }
}
EOF
}

# start_nginx NAME PORT MAIN_EXTRA HTTP_EXTRA LOCATION_BODY
start_nginx() {
  local name=$1 prefix=$tmp/$1
  mkdir -p "$prefix"
  nginx_conf "$prefix" "$2" "$3" "$4" "$5" > "$prefix/nginx.conf"
  "$NGINX" -t -q -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf" \
    >"$prefix/stderr.log" 2>&1 || { show_log "$name" "$prefix/stderr.log"; die "$name: nginx -t rejected $prefix/nginx.conf"; }
  "$NGINX" -p "$prefix" -e "$prefix/error.log" -c "$prefix/nginx.conf" \
    >"$prefix/stderr.log" 2>&1 &
  local pid=$!
  bench_track_pid "$pid"
  wait_ready "$name" "$pid" "$2" "$prefix/error.log"
}

UPSTREAM="  upstream backend {
    server 127.0.0.1:$backend_port;
    keepalive 64;
  }"
PROXY="      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";"

start_nginx backend "$backend_port" "" "" \
"      default_type application/json;
      return 200 '$BODY';"
check backend "$backend_port" plain "$tmp/backend/error.log"

# (a) nginx plain reverse proxy
start_nginx nginx "$nginx_port" "" "$UPSTREAM" "$PROXY"
check nginx "$nginx_port" plain "$tmp/nginx/error.log"

# (e) nginx-log: (a) plus an access log line per request shaped and sized like Kong's
# file-log record (the suoke-chain line of the same request, within a few bytes), through
# nginx's own buffered writer (buffer=64k: one write(2) per ~40 lines, from the worker).
# What nginx cannot know (the rate-limit and latency headers Kong adds, the route, service
# and consumer entities) is written as literals of the same length. Not a chain: it prices
# the logging alone, for the ratio_log= line.
NGINX_LOG_FORMAT=$(cat <<'EOF'
  log_format kong escape=json '{"request":{"uri":"$request_uri","url":"$scheme://$http_host$request_uri","querystring":{},"method":"$request_method","headers":{"authorization":"REDACTED","host":"$http_host","origin":"$http_origin"},"size":$request_length},"upstream_uri":"$uri","upstream_status":"$upstream_status","response":{"status":$status,"headers":{"server":"$upstream_http_server","date":"$upstream_http_date","content-type":"$upstream_http_content_type","x-ratelimit-limit-second":"1000000","x-ratelimit-remaining-second":"999999","ratelimit-limit":"1000000","ratelimit-remaining":"999999","ratelimit-reset":"1","access-control-allow-origin":"*","x-request-id":"$request_id","x-kong-upstream-latency":"$upstream_response_time","x-kong-proxy-latency":"0","content-length":"$upstream_http_content_length"},"size":$bytes_sent},"latencies":{"kong":0,"proxy":"$upstream_response_time","request":$request_time,"receive":0},"tries":[{"ip":"127.0.0.1","port":@BACKEND_PORT@}],"authenticated_entity":{"id":"4017a5e4-0ebe-340e-8752-5d65456362a6","consumer_id":{"id":"e523109a-dccc-323e-ae19-97974b5b6d5c"}},"route":{"id":"e5e4bcd7-17f7-3951-881f-eb1be6508e07","name":"bench-root","protocols":["http","https"],"paths":["/"],"regex_priority":0,"strip_path":true,"preserve_host":false,"path_handling":"v0","created_at":1795704447,"service":{"id":"852a1a4e-3ba0-3ef9-a581-8fbd59061546"}},"service":{"id":"852a1a4e-3ba0-3ef9-a581-8fbd59061546","name":"bench-backend","protocol":"http","host":"127.0.0.1","port":@BACKEND_PORT@,"path":null,"retries":5,"connect_timeout":60000,"write_timeout":60000,"read_timeout":60000,"enabled":true},"consumer":{"id":"e523109a-dccc-323e-ae19-97974b5b6d5c","username":"bench-user","custom_id":null},"client_ip":"$remote_addr","started_at":$msec,"source":"service","workspace_name":"default"}';
EOF
)
NGINX_LOG_FORMAT=${NGINX_LOG_FORMAT//@BACKEND_PORT@/$backend_port}
start_nginx nginx-log "$nginx_log_port" "" "$UPSTREAM
$NGINX_LOG_FORMAT" \
"      access_log $tmp/nginx-log/file.log kong buffer=64k flush=1s;
$PROXY"
check nginx-log "$nginx_log_port" plain "$tmp/nginx-log/error.log"

# ---------------------------------------------------------------- (b) haproxy
# JWT as Kong's jwt plugin does it: the Bearer token, alg must be HS256, the
# credential looked up by "iss" (a map from key to secret), the HMAC checked
# with jwt_verify, "exp" in the future; 401 with a JSON body otherwise.
# HAProxy 2.6's jwt_verify takes its key literally (a variable name is used as
# the secret itself), so the secret is written in the rule and the map lookup
# only checks that the iss is a known key. Then a
# per-consumer request rate (stick table keyed by the credential, like Kong's
# limit_by consumer) denied with 429 above RL_SECOND per second; then CORS.
mkdir -p "$tmp/haproxy-chain"
printf '%s %s\n' "$JWT_KEY" "$JWT_SECRET" > "$tmp/haproxy-chain/jwt_secrets.map"
cat > "$tmp/haproxy-chain/haproxy.cfg" <<EOF
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
  stick-table type string len 64 size 10k expire 10s store http_req_rate(1s)
  # jwt
  http-request set-var(txn.bearer) http_auth_bearer
  http-request return status 401 content-type "application/json; charset=utf-8" string '{"message":"Unauthorized"}' unless { var(txn.bearer) -m found }
  http-request set-var(txn.jwt_alg) var(txn.bearer),jwt_header_query('\$.alg')
  http-request return status 401 content-type "application/json; charset=utf-8" string '{"message":"Invalid algorithm"}' unless { var(txn.jwt_alg) -m str HS256 }
  http-request set-var(txn.jwt_iss) var(txn.bearer),jwt_payload_query('\$.iss')
  http-request set-var(txn.jwt_secret) var(txn.jwt_iss),map($tmp/haproxy-chain/jwt_secrets.map)
  http-request return status 401 content-type "application/json; charset=utf-8" string '{"message":"No credentials found for given iss"}' unless { var(txn.jwt_secret) -m found }
  http-request return status 401 content-type "application/json; charset=utf-8" string '{"message":"Invalid signature"}' unless { var(txn.bearer),jwt_verify(txn.jwt_alg,"$JWT_SECRET") -m int 1 }
  http-request set-var(txn.jwt_exp) var(txn.bearer),jwt_payload_query('\$.exp','int')
  http-request set-var(txn.now) date
  http-request return status 401 content-type "application/json; charset=utf-8" string '{"exp":"token expired"}' unless { var(txn.jwt_exp),sub(txn.now) -m int gt 0 }
  http-request set-header X-Consumer-Username bench-user
  http-request set-header X-Credential-Identifier %[var(txn.jwt_iss)]
  # rate-limiting
  http-request track-sc0 var(txn.jwt_iss)
  http-request return status 429 content-type "application/json; charset=utf-8" string '{"message":"API rate limit exceeded"}' if { sc_http_req_rate(0) gt $RL_SECOND }
  # cors
  http-response set-header Access-Control-Allow-Origin "*"
  default_backend be

backend be
  server backend 127.0.0.1:$backend_port
EOF
"$HAPROXY" -c -q -f "$tmp/haproxy-chain/haproxy.cfg" >"$tmp/haproxy-chain/check.log" 2>&1 ||
  { show_log haproxy-chain "$tmp/haproxy-chain/check.log"; die "haproxy -c rejected $tmp/haproxy-chain/haproxy.cfg"; }
"$HAPROXY" -db -f "$tmp/haproxy-chain/haproxy.cfg" >"$tmp/haproxy-chain/haproxy.log" 2>&1 &
bench_track_pid "$!"
wait_ready haproxy-chain "$!" "$haproxy_port" "$tmp/haproxy-chain/haproxy.log"
check haproxy-chain "$haproxy_port" keep "$tmp/haproxy-chain/haproxy.log"

# ---------------------------------------------------------------- (c) nginx + Lua
# Kong's plugins for this route, by hand, in Kong's phases and priority order:
# access: cors (2000, preflight only), jwt (1450), rate-limiting (910);
# header_filter: cors, rate-limiting headers, response-transformer (Content-Length
# dropped for a JSON body); body_filter: response-transformer (buffer, cjson
# decode, remove the fields, encode); log: file-log (Kong's basic serializer
# shape, cjson.encode, one write(2) on an O_APPEND fd) and prometheus (shared
# dict counters and latency histograms, worker-local increments flushed every
# second as Kong's exporter does).
mkdir -p "$tmp/lua-chain/lua"
cat > "$tmp/lua-chain/lua/chain.lua" <<EOF
local ffi = require "ffi"
local cjson = require "cjson.safe"
local b64 = require "ngx.base64"

ffi.cdef[[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                    const char *d, size_t n, unsigned char *md,
                    unsigned int *md_len);
int open(const char *pathname, int flags, int mode);
long write(int fd, const void *buf, size_t count);
]]
local C = ffi.C
local crypto = ffi.load("$LIBCRYPTO")
local SHA256 = crypto.EVP_sha256()
local md = ffi.new("unsigned char[64]")
local md_len = ffi.new("unsigned int[1]")

local ngx = ngx
local var_ = ngx.var
local shm_rl = ngx.shared.ratelimit
local shm_metrics = ngx.shared.metrics

local LIMIT = $RL_SECOND
local LOG_PATH = "$tmp/lua-chain/file.log"
local REMOVE_JSON = { "sensitive_data", "personal_info" }
local SERVICE = { id = "0d9a36ab-6b3e-4a5c-9f43-5f1a4fbd7a01", name = "bench-backend",
                  host = "127.0.0.1", port = $backend_port, protocol = "http" }
local ROUTE = { id = "6f3c4e8e-0c2b-4c5d-8a3b-1e2d3c4b5a60", name = "bench-root",
                paths = { "/" } }
local CONSUMER = { id = "b2a9d3c4-7e5f-4a1b-9c8d-0e1f2a3b4c5d", username = "bench-user" }
-- jwt_secrets by key (Kong's credential cache)
local CREDENTIALS = { ["$JWT_KEY"] = { secret = "$JWT_SECRET", algorithm = "HS256",
                                       consumer = CONSUMER } }
local LATENCY_BUCKETS = { 1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750,
                          1000, 3000, 6000 }

local _M = {}

local function unauthorized(body)
  ngx.status = 401
  ngx.header["Content-Type"] = "application/json; charset=utf-8"
  ngx.print(cjson.encode(body))
  return ngx.exit(401)
end

function _M.access()
  local ctx = ngx.ctx
  -- cors: answer a preflight here; the other headers in header_filter
  if ngx.req.get_method() == "OPTIONS" and var_.http_access_control_request_method then
    ngx.header["Access-Control-Allow-Origin"] = "*"
    ngx.header["Access-Control-Allow-Methods"] = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT"
    return ngx.exit(200)
  end

  -- jwt
  local auth = var_.http_authorization
  local token = auth and auth:match("^[Bb]earer%s+(%S+)")
  if not token then
    return unauthorized({ message = "Unauthorized" })
  end
  local h64, p64, s64 = token:match("^([%w_-]+)%.([%w_-]+)%.([%w_-]+)$")
  if not h64 then
    return unauthorized({ message = "Bad token; invalid JSON" })
  end
  local header = cjson.decode(b64.decode_base64url(h64) or "")
  local claims = cjson.decode(b64.decode_base64url(p64) or "")
  if type(header) ~= "table" or type(claims) ~= "table" then
    return unauthorized({ message = "Bad token; invalid JSON" })
  end
  if header.alg ~= "HS256" then
    return unauthorized({ message = "Invalid algorithm" })
  end
  local key = claims.iss
  local cred = type(key) == "string" and CREDENTIALS[key]
  if not cred then
    return unauthorized({ message = "No credentials found for given 'iss'" })
  end
  local secret = cred.secret
  local n = #h64 + 1 + #p64
  crypto.HMAC(SHA256, secret, #secret, token, n, md, md_len)
  local sig = b64.decode_base64url(s64)
  if not sig or #sig ~= md_len[0] or ffi.string(md, md_len[0]) ~= sig then
    return unauthorized({ message = "Invalid signature" })
  end
  local exp = claims.exp
  if type(exp) ~= "number" then
    return unauthorized({ exp = "must be a number" })
  end
  if exp <= ngx.time() then
    return unauthorized({ exp = "token expired" })
  end
  local consumer = cred.consumer
  ctx.authenticated_consumer = consumer
  ctx.authenticated_credential = key
  ngx.req.set_header("X-Consumer-ID", consumer.id)
  ngx.req.set_header("X-Consumer-Username", consumer.username)
  ngx.req.set_header("X-Credential-Identifier", key)
  ngx.req.clear_header("X-Anonymous-Consumer")

  -- rate-limiting: policy local, limit_by consumer, one window per second
  local now = ngx.time()
  local count, err = shm_rl:incr("ratelimit:" .. consumer.id .. ":second:" .. now, 1, 0, 1)
  if not count then
    ngx.log(ngx.ERR, "rate-limiting: ", err)   -- Kong: fault_tolerant, let it through
  else
    local remaining = LIMIT - count
    if remaining < 0 then
      ngx.status = 429
      ngx.header["Content-Type"] = "application/json; charset=utf-8"
      ngx.header["Retry-After"] = 1
      ngx.print('{"message":"API rate limit exceeded"}')
      return ngx.exit(429)
    end
    ctx.rl_remaining = remaining
  end
end

function _M.header_filter()
  local ctx = ngx.ctx
  local h = ngx.header
  -- cors (origins ["*"], no credentials)
  h["Access-Control-Allow-Origin"] = "*"
  -- rate-limiting headers
  local remaining = ctx.rl_remaining
  if remaining then
    h["X-RateLimit-Limit-Second"] = LIMIT
    h["X-RateLimit-Remaining-Second"] = remaining
    h["RateLimit-Limit"] = LIMIT
    h["RateLimit-Remaining"] = remaining
    h["RateLimit-Reset"] = 1
  end
  -- response-transformer: a JSON body is rewritten in body_filter
  local ct = h["Content-Type"]
  if ct and ct:lower():find("application/json", 1, true) then
    ctx.rt_json = true
    h["Content-Length"] = nil
  end
end

function _M.body_filter()
  local ctx = ngx.ctx
  if not ctx.rt_json then
    return
  end
  local chunk, eof = ngx.arg[1], ngx.arg[2]
  local buf = ctx.rt_buf
  if not eof then
    if chunk ~= "" then
      buf = buf or {}
      buf[#buf + 1] = chunk
      ctx.rt_buf = buf
    end
    ngx.arg[1] = nil
    return
  end
  if buf then
    buf[#buf + 1] = chunk
    chunk = table.concat(buf)
  end
  local obj = cjson.decode(chunk)
  if type(obj) == "table" then
    for i = 1, #REMOVE_JSON do
      obj[REMOVE_JSON[i]] = nil
    end
    chunk = cjson.encode(obj)
  end
  ngx.arg[1] = chunk
end

local LABELS = 'service="bench-backend",route="bench-root"'
local REQUESTS_KEY = {}
local EGRESS_KEY = 'kong_bandwidth_bytes{' .. LABELS .. ',direction="egress"}'
local INGRESS_KEY = 'kong_bandwidth_bytes{' .. LABELS .. ',direction="ingress"}'
local LATENCY = {}
for _, name in ipairs({ "request", "upstream", "kong" }) do
  local h = { sum = 'kong_' .. name .. '_latency_ms_sum{' .. LABELS .. '}',
              count = 'kong_' .. name .. '_latency_ms_count{' .. LABELS .. '}',
              inf = 'kong_' .. name .. '_latency_ms_bucket{' .. LABELS .. ',le="+Inf"}' }
  for i = 1, #LATENCY_BUCKETS do
    h[i] = 'kong_' .. name .. '_latency_ms_bucket{' .. LABELS .. ',le="'
           .. LATENCY_BUCKETS[i] .. '"}'
  end
  LATENCY[name] = h
end
local counters = {}

local function observe(h, v)
  local key = h.inf
  for i = 1, #LATENCY_BUCKETS do
    if v <= LATENCY_BUCKETS[i] then
      key = h[i]
      break
    end
  end
  counters[key] = (counters[key] or 0) + 1
  counters[h.sum] = (counters[h.sum] or 0) + v
  counters[h.count] = (counters[h.count] or 0) + 1
end

local log_fd
function _M.log()
  local ctx = ngx.ctx
  local started_at = ngx.req.start_time() * 1000
  local request_ms = (ngx.now() * 1000) - started_at
  local upstream_ms = (tonumber(var_.upstream_response_time) or 0) * 1000
  local status = ngx.status

  -- file-log: Kong's basic serializer, one JSON line
  local req_headers = ngx.req.get_headers()
  if req_headers.authorization then
    req_headers.authorization = "REDACTED"
  end
  local entry = {
    request = {
      uri = var_.request_uri,
      url = var_.scheme .. "://" .. var_.host .. ":" .. var_.server_port .. var_.request_uri,
      querystring = ngx.req.get_uri_args(),
      method = ngx.req.get_method(),
      headers = req_headers,
      size = tonumber(var_.request_length),
    },
    upstream_uri = var_.uri,
    response = {
      status = status,
      headers = ngx.resp.get_headers(),
      size = tonumber(var_.bytes_sent),
    },
    latencies = {
      kong = request_ms - upstream_ms,
      proxy = upstream_ms,
      request = request_ms,
    },
    tries = { { ip = "127.0.0.1", port = $backend_port, balancer_latency = 0 } },
    client_ip = var_.remote_addr,
    service = SERVICE,
    route = ROUTE,
    consumer = ctx.authenticated_consumer,
    authenticated_entity = ctx.authenticated_credential and { id = ctx.authenticated_credential },
    upstream_status = var_.upstream_status,
    source = "upstream",
    started_at = started_at,
  }
  local line = cjson.encode(entry) .. "\n"
  if not log_fd then
    log_fd = C.open(LOG_PATH, 1089, 420)   -- O_WRONLY|O_CREAT|O_APPEND, 0644
    if log_fd < 0 then
      ngx.log(ngx.ERR, "file-log: cannot open ", LOG_PATH, ": errno ", ffi.errno())
    end
  end
  if log_fd >= 0 then
    C.write(log_fd, line, #line)
  end

  -- prometheus: requests by status, bandwidth, latency histograms; like
  -- Kong's exporter (resty.counter), worker-local increments flushed to the
  -- shared dict every second, full metric names cached by label values
  local key = REQUESTS_KEY[status]
  if not key then
    key = 'kong_http_requests_total{' .. LABELS .. ',code="' .. status
          .. '",source="service",consumer=""}'
    REQUESTS_KEY[status] = key
  end
  counters[key] = (counters[key] or 0) + 1
  counters[EGRESS_KEY] = (counters[EGRESS_KEY] or 0) + (tonumber(var_.bytes_sent) or 0)
  counters[INGRESS_KEY] = (counters[INGRESS_KEY] or 0) + (tonumber(var_.request_length) or 0)
  observe(LATENCY.request, request_ms)
  observe(LATENCY.upstream, upstream_ms)
  observe(LATENCY.kong, request_ms - upstream_ms)
end

function _M.init_worker()
  ngx.timer.every(1, function(premature)
    if premature then
      return
    end
    for k, v in pairs(counters) do
      shm_metrics:incr(k, v, 0)
      counters[k] = nil
    end
  end)
end

return _M
EOF
# As root, nginx's workers run as nobody, who cannot write into the 0700
# temporary directory: keep them root (file-log writes $tmp/lua-chain/file.log).
lua_user=""
[ "$(id -u)" != 0 ] || lua_user="user root root;"
start_nginx lua-chain "$lua_port" \
"$lua_user
load_module $NGINX_MODULES/ndk_http_module.so;
load_module $NGINX_MODULES/ngx_http_lua_module.so;" \
"$UPSTREAM
  lua_package_path '$tmp/lua-chain/lua/?.lua;/usr/share/lua/5.1/?.lua;;';
  lua_package_cpath '$LUA_CPATH/?.so;;';
  lua_shared_dict ratelimit 12m;
  lua_shared_dict metrics 5m;
  init_by_lua_block { chain = require \"chain\" }
  init_worker_by_lua_block { chain.init_worker() }" \
"      access_by_lua_block { chain.access() }
      header_filter_by_lua_block { chain.header_filter() }
      body_filter_by_lua_block { chain.body_filter() }
      log_by_lua_block { chain.log() }
$PROXY"
check lua-chain "$lua_port" strip "$tmp/lua-chain/error.log"
for i in $(seq 20); do
  [ -s "$tmp/lua-chain/file.log" ] && break
  sleep 0.1
done
[ -s "$tmp/lua-chain/file.log" ] || { show_log lua-chain "$tmp/lua-chain/error.log"; die "lua-chain: the log phase wrote nothing to $tmp/lua-chain/file.log"; }

# ---------------------------------------------------------------- (d) suoke, (f) suoke-nolog
# suoke_config FILE_LOG_PATH: the seed's chain as a Kong 3.x declarative file; without
# file-log when FILE_LOG_PATH is empty ((f): what the other five plugins cost).
suoke_config() {
  cat <<EOF
_format_version: "3.0"
services:
  - name: bench-backend
    url: http://127.0.0.1:$backend_port
    routes:
      - name: bench-root
        paths: ["/"]
        plugins:
          - name: jwt
            config:
              key_claim_name: iss
              claims_to_verify: ["exp"]
          - name: rate-limiting
            config:
              second: $RL_SECOND
              policy: local
          - name: cors
            config:
              origins: ["*"]
          - name: response-transformer
            config:
              remove:
                json: ["sensitive_data", "personal_info"]
EOF
  if [ -n "$1" ]; then
    cat <<EOF
          - name: file-log
            config:
              path: $1
EOF
  fi
  cat <<EOF
          - name: prometheus
consumers:
  - username: bench-user
    jwt_secrets:
      - key: $JWT_KEY
        secret: $JWT_SECRET
        algorithm: HS256
EOF
}

# start_suoke NAME PROXY_PORT ADMIN_PORT STATUS_PORT FILE_LOG_PATH
start_suoke() {
  local name=$1 port=$2 dir=$tmp/$1
  mkdir -p "$dir/data"
  suoke_config "$5" > "$dir/kong.yml"
  "$SUOKE" gateway check --config "$dir/kong.yml" >"$dir/check.log" 2>&1 ||
    { show_log "$name" "$dir/check.log"; die "suoke gateway check rejected $dir/kong.yml"; }
  "$SUOKE" gateway --config "$dir/kong.yml" \
    --proxy-listen "127.0.0.1:$port" \
    --admin-listen "127.0.0.1:$3" \
    --status-listen "127.0.0.1:$4" \
    --data-dir "$dir/data" \
    --workers 1 >"$dir/suoke.log" 2>&1 &
  bench_track_pid "$!"
  wait_ready "$name" "$!" "$port" "$dir/suoke.log"
  check "$name" "$port" strip "$dir/suoke.log"
  # file-log and prometheus: warnings only (the table is still meaningful).
  if [ "$verify" = 1 ]; then
    if [ -n "$5" ] && [ "$5" != /dev/null ]; then
      for i in $(seq 20); do
        [ -s "$5" ] && break
        sleep 0.1
      done
      [ -s "$5" ] || note "WARNING: $name: file-log wrote nothing to $5 after the check requests"
    fi
    curl -s --max-time 5 "http://127.0.0.1:$4/metrics" 2>/dev/null | grep -q '^kong_http_requests_total' ||
      note "WARNING: $name: no kong_http_requests_total in http://127.0.0.1:$4/metrics (prometheus)"
  fi
}

if [ "$peers_only" = 0 ]; then
  start_suoke suoke-nolog "$nolog_port" "$nolog_admin_port" "$nolog_status_port" ""
  start_suoke suoke-devnull "$devnull_port" "$devnull_admin_port" "$devnull_status_port" /dev/null
  start_suoke suoke-chain "$suoke_port" "$admin_port" "$status_port" "$tmp/suoke-chain/file.log"
fi

# ---------------------------------------------------------------- runs
# Other work on the machine (a build, another benchmark) skews every figure.
load1=$(warn_if_loaded)
names=() rps=() p50=() p99=() non2xx=() sockerr=() total=()
any_errors=0

# run NAME PORT: wrk against http://127.0.0.1:PORT/ and parse its output.
run() {
  local name=$1 port=$2 out=$tmp/wrk-$1.txt
  note "wrk -t1 -c$connections -d$duration --latency -H 'Authorization: Bearer <jwt>' -H 'Origin: $ORIGIN' http://127.0.0.1:$port/   ($name)"
  if ! wrk -t1 -c"$connections" -d"$duration" --latency \
      -H "Authorization: Bearer $TOKEN" -H "Origin: $ORIGIN" \
      "http://127.0.0.1:$port/" >"$out" 2>&1; then
    cat "$out" >&2
    die "$name: wrk failed"
  fi
  local r a b n s t
  r=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  a=$(awk '$1 == "50%" { print $2 }' "$out")
  b=$(awk '$1 == "99%" { print $2 }' "$out")
  t=$(awk '/ requests in / { print $1 }' "$out")
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
  names+=("$name"); rps+=("$r"); p50+=("$a"); p99+=("$b"); non2xx+=("$n"); sockerr+=("$s"); total+=("${t:-0}")
}

# file_log_lines NAME FILE REQUESTS: after a run, a log line per request is
# expected (plus the check requests); a note says how many were written.
# Then the file is emptied: a run logs hundreds of MB, and the kernel would write those dirty
# pages back (dirty_expire_centisecs, 30 s) while the next target is measured, on its CPU
# time (measured: suoke-chain after lua-chain, 0.842 with lua-chain's log left, 0.892 without).
# The average line length is printed too: the three logging targets write records of about
# the same size, or their costs would not compare.
file_log_lines() {
  local lines=0 bytes=0
  [ -f "$2" ] && lines=$(wc -l < "$2") && bytes=$(wc -c < "$2")
  note "$1: file-log has $lines lines after $3 wrk requests, $((lines > 0 ? bytes / lines : 0)) bytes per line"
  [ "$keep_tmp" = 1 ] || : > "$2"
}

# settle: no dirty pages of earlier work (a build, a previous target) left to write back
# during a run.
settle() { sync; }

settle; run nginx "$nginx_port"
settle; run haproxy-chain "$haproxy_port"
settle; run lua-chain "$lua_port"
file_log_lines lua-chain "$tmp/lua-chain/file.log" "${total[2]}"
settle; run nginx-log "$nginx_log_port"
file_log_lines nginx-log "$tmp/nginx-log/file.log" "${total[3]}"
if [ "$peers_only" = 0 ]; then
  settle; run suoke-nolog "$nolog_port"
  settle; run suoke-devnull "$devnull_port"
  settle; run suoke-chain "$suoke_port"
  file_log_lines suoke-chain "$tmp/suoke-chain/file.log" "${total[6]}"
fi

# ---------------------------------------------------------------- report
echo
echo "wrk -t1 -c$connections -d$duration --latency, Bearer HS256 JWT + Origin; backend: nginx, 1 worker, ${#BODY}-byte JSON body; $(nproc) CPUs; load average before runs: $load1$([ "$verify" = 1 ] || echo '; --no-verify')"
printf '%-14s %12s %10s %10s %8s %8s  %s\n' name req/s p50_ms p99_ms non2xx sockerr status
for i in "${!names[@]}"; do
  st=ok
  if [ "${non2xx[$i]}" != 0 ] || [ "${sockerr[$i]}" != 0 ]; then st=ERRORS; fi
  printf '%-14s %12.2f %10.3f %10.3f %8d %8d  %s\n' \
    "${names[$i]}" "${rps[$i]}" "${p50[$i]}" "${p99[$i]}" "${non2xx[$i]}" "${sockerr[$i]}" "$st"
done
if [ "$peers_only" = 0 ]; then
  echo "p99_suoke_ms=${p99[6]}"
fi
echo "p99_nginx_ms=${p99[0]}"
# What logging Kong's record costs nginx.
awk -v s="${rps[3]}" -v n="${rps[0]}" 'BEGIN { printf "nginx_log=%.3f  (nginx-log / nginx)\n", (n > 0 ? s / n : 0) }'
if [ "$any_errors" = 1 ]; then
  note "WARNING: at least one run had non-2xx/3xx responses or socket errors (see the table); its figures are not comparable"
fi
if [ "$peers_only" = 0 ]; then
  # What the chain costs without its logging.
  awk -v s="${rps[4]}" -v n="${rps[0]}" 'BEGIN { printf "ratio_nolog=%.3f  (suoke-nolog / nginx)\n", (n > 0 ? s / n : 0) }'
  # The record built and handed to the writer, but not written to a file.
  awk -v s="${rps[5]}" -v n="${rps[0]}" 'BEGIN { printf "ratio_devnull=%.3f  (suoke-devnull / nginx)\n", (n > 0 ? s / n : 0) }'
  awk -v s="${rps[6]}" -v n="${rps[3]}" 'BEGIN { printf "ratio_log=%.3f  (suoke-chain / nginx-log)\n", (n > 0 ? s / n : 0) }'
  awk -v s="${rps[6]}" -v n="${rps[0]}" 'BEGIN { printf "ratio=%.3f\n", (n > 0 ? s / n : 0) }'
fi
[ "$any_errors" = 0 ] || exit 3

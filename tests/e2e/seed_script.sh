#!/usr/bin/env bash
# Proof of Kong compatibility (issue #2, section 7): runs the seed's
# scripts/configure_kong_services.py, extracted verbatim from the infrastructure guide with only
# its admin_url changed, against a running `suoke gateway`; then checks through the Admin API
# that every service, route and plugin it asked for exists with Kong's fields and defaults, and
# sends a request through every route to a local upstream.
#
# Usage: bash tests/e2e/seed_script.sh <path-to-suoke-binary> <source-dir>
set -euo pipefail

SUOKE=${1:?usage: seed_script.sh <suoke-binary> <source-dir>}
SRC=${2:?usage: seed_script.sh <suoke-binary> <source-dir>}
GUIDE=${SUOKE_SEED_GUIDE:-}
if [[ -z "$GUIDE" ]]; then
  for candidate in "$SRC/../shared/seed/infrastructure_implementation_guide.md" \
                   "$SRC/seed/infrastructure_implementation_guide.md" \
                   "$SRC/docs/seed/infrastructure_implementation_guide.md"; do
    if [[ -f "$candidate" ]]; then GUIDE=$candidate; break; fi
  done
fi

fail() { echo "seed_script: FAIL: $*" >&2; exit 1; }
step() { echo "seed_script: $*"; }

[[ -x "$SUOKE" ]] || fail "suoke binary not found or not executable: $SUOKE"
[[ -n "$GUIDE" && -f "$GUIDE" ]] || fail "seed guide not found (set SUOKE_SEED_GUIDE)"
command -v python3 >/dev/null || fail "python3 is required"
command -v curl >/dev/null || fail "curl is required"
python3 -c 'import requests' 2>/dev/null || fail "python3-requests is required (apt-get install python3-requests)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/suoke-seed-e2e.XXXXXX")
PIDS=()
cleanup() {
  local code=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $code -ne 0 && -f "$WORK/gateway.log" ]]; then
    echo "---- gateway log (last 40 lines) ----" >&2
    tail -n 40 "$WORK/gateway.log" >&2 || true
  fi
  rm -rf "$WORK"
  exit $code
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. the seed's script, verbatim except admin_url ----
# The python block that starts with the line "# scripts/configure_kong_services.py".
awk 'prev == "```python" && $0 == "# scripts/configure_kong_services.py" { on = 1 }
     on && $0 == "```" { exit }
     on { print }
     { prev = $0 }' "$GUIDE" > "$WORK/original.py"
[[ -s "$WORK/original.py" ]] || fail "could not find scripts/configure_kong_services.py in $GUIDE"
grep -q 'def configure_suoke_services' "$WORK/original.py" || fail "extracted script looks incomplete"
[[ $(grep -c 'http://localhost:8001' "$WORK/original.py") -eq 1 ]] ||
  fail "expected exactly one default admin_url \"http://localhost:8001\" in the seed script"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
PROXY_PORT=$(free_port)
ADMIN_PORT=$(free_port)
STATUS_PORT=$(free_port)
UPSTREAM_PORT=$(free_port)
ADMIN="http://127.0.0.1:$ADMIN_PORT"
PROXY="http://127.0.0.1:$PROXY_PORT"

sed "s#http://localhost:8001#$ADMIN#" "$WORK/original.py" > "$WORK/configure_kong_services.py"
changed=$(diff "$WORK/original.py" "$WORK/configure_kong_services.py" | grep -c '^[<>]' || true)
[[ "$changed" -eq 2 ]] || fail "rewriting admin_url changed more than one line"
step "extracted configure_kong_services.py ($(wc -l < "$WORK/original.py") lines, admin_url -> $ADMIN)"

# ---- 2. the gateway ----
mkdir -p "$WORK/data"
"$SUOKE" gateway --proxy-listen "127.0.0.1:$PROXY_PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
  --status-listen "127.0.0.1:$STATUS_PORT" --data-dir "$WORK/data" --workers 1 \
  > "$WORK/gateway.log" 2>&1 &
GATEWAY_PID=$!
PIDS+=("$GATEWAY_PID")
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null "$ADMIN/" 2>/dev/null; then break; fi
  kill -0 "$GATEWAY_PID" 2>/dev/null || fail "suoke gateway exited early"
  sleep 0.1
done
curl -fsS -o /dev/null "$ADMIN/" || fail "Admin API did not come up on $ADMIN"
step "gateway up: proxy $PROXY, admin $ADMIN"

# ---- 3. run the seed's script ----
if ! (cd "$WORK" && python3 configure_kong_services.py > "$WORK/script.out" 2>&1); then
  cat "$WORK/script.out" >&2
  fail "configure_kong_services.py exited non-zero"
fi
grep -q 'Kong服务配置完成' "$WORK/script.out" || { cat "$WORK/script.out" >&2; fail "script did not print its success line"; }
step "configure_kong_services.py: $(tr -d '\n' < "$WORK/script.out")"

# ---- 4. what the script asked for, through the Admin API ----
curl -fsS "$ADMIN/services?size=1000" > "$WORK/services.json" || fail "GET /services"
curl -fsS "$ADMIN/routes?size=1000" > "$WORK/routes.json" || fail "GET /routes"
curl -fsS "$ADMIN/plugins?size=1000" > "$WORK/plugins.json" || fail "GET /plugins"

python3 - "$WORK" <<'PY' || fail "Admin API state differs from what the seed script asked for"
import json, sys

work = sys.argv[1]
load = lambda n: json.load(open(f"{work}/{n}.json"))
services, routes, plugins = load("services")["data"], load("routes")["data"], load("plugins")["data"]
errors = []

def check(cond, msg):
    if not cond:
        errors.append(msg)

AGENT = ["GET", "POST"]
CRUD = ["GET", "POST", "PUT", "DELETE"]
expected = {
    # name: (path, methods)
    "auth-service": ("/api/v1/auth", CRUD),
    "xiaoai-service": ("/api/v1/xiaoai", AGENT),
    "xiaoke-service": ("/api/v1/xiaoke", AGENT),
    "laoke-service": ("/api/v1/laoke", AGENT),
    "soer-service": ("/api/v1/soer", AGENT),
    "user-service": ("/api/v1/users", CRUD),
    "health-data-service": ("/api/v1/health", ["GET", "POST", "PUT"]),
}

by_name = {s.get("name"): s for s in services}
check(len(services) == 7, f"expected 7 services, got {len(services)}: {sorted(by_name)}")
for name in expected:
    s = by_name.get(name)
    if s is None:
        errors.append(f"service {name} missing")
        continue
    check(s.get("protocol") == "http", f"{name}.protocol = {s.get('protocol')!r}")
    check(s.get("host") == name, f"{name}.host = {s.get('host')!r}")
    check(s.get("port") == 8000, f"{name}.port = {s.get('port')!r}")
    check(s.get("path") is None, f"{name}.path = {s.get('path')!r} (want null)")
    for t in ("connect_timeout", "write_timeout", "read_timeout"):
        check(s.get(t) == 60000, f"{name}.{t} = {s.get(t)!r}")
    check(s.get("retries") == 5, f"{name}.retries = {s.get('retries')!r}")
    check(s.get("enabled", True) is True, f"{name}.enabled = {s.get('enabled')!r}")
    check(isinstance(s.get("id"), str) and len(s["id"]) == 36, f"{name}.id = {s.get('id')!r}")
    check(isinstance(s.get("created_at"), int), f"{name}.created_at = {s.get('created_at')!r}")

service_name_by_id = {s["id"]: s.get("name") for s in services if "id" in s}
check(len(routes) == 7, f"expected 7 routes, got {len(routes)}")
routes_by_service = {}
for r in routes:
    sid = (r.get("service") or {}).get("id")
    routes_by_service.setdefault(service_name_by_id.get(sid), []).append(r)
for name, (path, methods) in expected.items():
    rs = routes_by_service.get(name, [])
    if len(rs) != 1:
        errors.append(f"{name}: expected 1 route, got {len(rs)}")
        continue
    r = rs[0]
    check(r.get("paths") == [path], f"{name} route paths = {r.get('paths')!r}")
    check(r.get("methods") == methods, f"{name} route methods = {r.get('methods')!r}, want {methods}")
    check(r.get("name") is None, f"{name} route name = {r.get('name')!r} (the script sets none)")
    check(sorted(r.get("protocols") or []) == ["http", "https"], f"{name} route protocols = {r.get('protocols')!r}")
    check(r.get("strip_path") is True, f"{name} route strip_path = {r.get('strip_path')!r}")
    check(r.get("preserve_host") is False, f"{name} route preserve_host = {r.get('preserve_host')!r}")
    check(r.get("regex_priority") == 0, f"{name} route regex_priority = {r.get('regex_priority')!r}")
    check(r.get("path_handling") == "v0", f"{name} route path_handling = {r.get('path_handling')!r}")
    check(r.get("https_redirect_status_code") == 426,
          f"{name} route https_redirect_status_code = {r.get('https_redirect_status_code')!r}")
    check(r.get("hosts") is None, f"{name} route hosts = {r.get('hosts')!r}")

def redis_setting(cfg, key):
    # Kong >= 3.6 nests these under config.redis; older 3.x used redis_<key>.
    if isinstance(cfg.get("redis"), dict) and cfg["redis"].get(key) is not None:
        return cfg["redis"][key]
    return cfg.get("redis_" + key)

plugins_by = {}
for p in plugins:
    sid = (p.get("service") or {}).get("id")
    plugins_by.setdefault((service_name_by_id.get(sid) if sid else None, p.get("name")), []).append(p)
    check(p.get("enabled") is True, f"plugin {p.get('name')} enabled = {p.get('enabled')!r}")
    check(p.get("route") is None and p.get("consumer") is None,
          f"plugin {p.get('name')} is scoped to a route/consumer: {p.get('route')!r} {p.get('consumer')!r}")
check(len(plugins) == 14, f"expected 14 plugins, got {len(plugins)}: {sorted(str(k) for k in plugins_by)}")

def one(service, name):
    ps = plugins_by.get((service, name), [])
    if len(ps) != 1:
        errors.append(f"expected one {name} plugin on {service or 'global'}, got {len(ps)}")
        return None
    return ps[0]["config"]

def check_rate_limiting(service, minute, hour):
    c = one(service, "rate-limiting")
    if c is None:
        return
    where = f"{service} rate-limiting"
    check(c.get("minute") == minute and c.get("hour") == hour, f"{where} minute/hour = {c.get('minute')}/{c.get('hour')}")
    for period in ("second", "day", "month", "year"):
        check(c.get(period) is None, f"{where}.{period} = {c.get(period)!r}")
    check(c.get("policy") == "redis", f"{where}.policy = {c.get('policy')!r}")
    check(redis_setting(c, "host") == "redis-cluster", f"{where} redis host = {redis_setting(c, 'host')!r}")
    check(redis_setting(c, "port") == 7001, f"{where} redis port = {redis_setting(c, 'port')!r}")
    check(redis_setting(c, "timeout") == 2000, f"{where} redis timeout default = {redis_setting(c, 'timeout')!r}")
    check(redis_setting(c, "database") == 0, f"{where} redis database default = {redis_setting(c, 'database')!r}")
    check(c.get("limit_by") == "consumer", f"{where}.limit_by = {c.get('limit_by')!r}")
    check(c.get("fault_tolerant") is True, f"{where}.fault_tolerant = {c.get('fault_tolerant')!r}")
    check(c.get("hide_client_headers") is False, f"{where}.hide_client_headers = {c.get('hide_client_headers')!r}")
    check(c.get("error_code") == 429, f"{where}.error_code = {c.get('error_code')!r}")
    check(c.get("error_message") == "API rate limit exceeded", f"{where}.error_message = {c.get('error_message')!r}")
    check(c.get("sync_rate") == -1, f"{where}.sync_rate = {c.get('sync_rate')!r}")

def check_jwt(service, claims):
    c = one(service, "jwt")
    if c is None:
        return
    where = f"{service} jwt"
    check(c.get("secret_is_base64") is False, f"{where}.secret_is_base64 = {c.get('secret_is_base64')!r}")
    check(c.get("key_claim_name") == "iss", f"{where}.key_claim_name = {c.get('key_claim_name')!r}")
    check(c.get("claims_to_verify") == claims, f"{where}.claims_to_verify = {c.get('claims_to_verify')!r}, want {claims!r}")
    check(c.get("uri_param_names") == ["jwt"], f"{where}.uri_param_names = {c.get('uri_param_names')!r}")
    check(c.get("cookie_names") == [], f"{where}.cookie_names = {c.get('cookie_names')!r}")
    check(c.get("header_names") == ["authorization"], f"{where}.header_names = {c.get('header_names')!r}")
    check(c.get("run_on_preflight") is True, f"{where}.run_on_preflight = {c.get('run_on_preflight')!r}")
    check(c.get("maximum_expiration") == 0, f"{where}.maximum_expiration = {c.get('maximum_expiration')!r}")
    check(c.get("anonymous") is None, f"{where}.anonymous = {c.get('anonymous')!r}")

check_rate_limiting("auth-service", 100, 1000)
check_jwt("xiaoai-service", ["exp"])
check_rate_limiting("xiaoai-service", 50, 500)
for agent in ("xiaoke", "laoke", "soer"):
    check_jwt(f"{agent}-service", None)
    check_rate_limiting(f"{agent}-service", 50, 500)
check_jwt("user-service", None)
check_jwt("health-data-service", None)
rt = one("health-data-service", "response-transformer")
if rt is not None:
    check((rt.get("remove") or {}).get("json") == ["sensitive_data", "personal_info"],
          f"response-transformer remove.json = {(rt.get('remove') or {}).get('json')!r}")
    check((rt.get("remove") or {}).get("headers") == [], f"response-transformer remove.headers = {(rt.get('remove') or {}).get('headers')!r}")
    for section in ("add", "append", "replace"):
        sec = rt.get(section) or {}
        check(sec.get("json") == [] and sec.get("headers") == [], f"response-transformer {section} = {sec!r}")

cors = one(None, "cors")
if cors is not None:
    check(cors.get("origins") == ["*"], f"cors.origins = {cors.get('origins')!r}")
    check(cors.get("methods") == ["GET", "POST", "PUT", "DELETE", "OPTIONS"], f"cors.methods = {cors.get('methods')!r}")
    check(cors.get("headers") == ["Accept", "Accept-Version", "Content-Length", "Content-MD5", "Content-Type",
                                  "Date", "X-Auth-Token"], f"cors.headers = {cors.get('headers')!r}")
    check(cors.get("exposed_headers") == ["X-Auth-Token"], f"cors.exposed_headers = {cors.get('exposed_headers')!r}")
    check(cors.get("credentials") is True, f"cors.credentials = {cors.get('credentials')!r}")
    check(cors.get("max_age") == 3600, f"cors.max_age = {cors.get('max_age')!r}")
    check(cors.get("preflight_continue") is False, f"cors.preflight_continue = {cors.get('preflight_continue')!r}")
file_log = one(None, "file-log")
if file_log is not None:
    check(file_log.get("path") == "/tmp/access.log", f"file-log.path = {file_log.get('path')!r}")
    check(file_log.get("reopen") is False, f"file-log.reopen = {file_log.get('reopen')!r}")

if errors:
    for e in errors:
        print("  -", e, file=sys.stderr)
    sys.exit(1)
print(f"seed_script: Admin API has the seed's {len(services)} services, {len(routes)} routes, {len(plugins)} plugins")
PY

# ---- 5. a request through every route ----
# A local upstream that answers JSON for any method and path, naming what it saw.
cat > "$WORK/upstream.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"e2e_upstream": True, "method": self.command, "path": self.path,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
python3 "$WORK/upstream.py" "$UPSTREAM_PORT" &
PIDS+=("$!")
for _ in $(seq 1 50); do
  curl -fsS -o /dev/null "http://127.0.0.1:$UPSTREAM_PORT/" 2>/dev/null && break
  sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$UPSTREAM_PORT/" || fail "local upstream did not start"

for name in auth-service xiaoai-service xiaoke-service laoke-service soer-service user-service health-data-service; do
  code=$(curl -sS -o "$WORK/patch.json" -w '%{http_code}' -X PATCH "$ADMIN/services/$name" \
    -H 'Content-Type: application/json' -d "{\"url\":\"http://127.0.0.1:$UPSTREAM_PORT\"}") ||
    fail "PATCH /services/$name"
  [[ "$code" == 200 ]] || fail "PATCH /services/$name answered $code: $(cat "$WORK/patch.json")"
done

# Most routes carry the seed's jwt plugin: give the requests a valid HS256 token from a
# consumer credential, so they reach the upstream whether or not jwt is enforced yet.
code=$(curl -sS -o "$WORK/consumer.json" -w '%{http_code}' -X POST "$ADMIN/consumers" \
  -H 'Content-Type: application/json' -d '{"username":"seed-e2e"}') || fail "POST /consumers"
[[ "$code" == 201 ]] || fail "POST /consumers answered $code: $(cat "$WORK/consumer.json")"
code=$(curl -sS -o "$WORK/jwt.json" -w '%{http_code}' -X POST "$ADMIN/consumers/seed-e2e/jwt" \
  -H 'Content-Type: application/json' -d '{"key":"seed-e2e-key","secret":"seed-e2e-secret"}') ||
  fail "POST /consumers/seed-e2e/jwt"
[[ "$code" == 201 ]] || fail "POST /consumers/seed-e2e/jwt answered $code: $(cat "$WORK/jwt.json")"
TOKEN=$(python3 - <<'PY'
import base64, hashlib, hmac, json, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"iss": "seed-e2e-key", "exp": int(time.time()) + 3600}).encode())
sig = b64(hmac.new(b"seed-e2e-secret", f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
)

for route in /api/v1/auth /api/v1/xiaoai /api/v1/xiaoke /api/v1/laoke /api/v1/soer /api/v1/users /api/v1/health; do
  for method in GET POST; do
    code=$(curl -sS -o "$WORK/proxied.json" -w '%{http_code}' -X "$method" "$PROXY$route/seed-e2e?q=1" \
      -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{}') ||
      fail "$method $route: proxy did not answer"
    [[ "$code" != 404 ]] || fail "$method $route answered 404: $(cat "$WORK/proxied.json")"
    [[ "$code" == 200 ]] || fail "$method $route answered $code: $(cat "$WORK/proxied.json")"
    python3 - "$WORK/proxied.json" "$method" <<'PY' || fail "$method $route: the answer did not come from the upstream"
import json, sys
body = json.load(open(sys.argv[1]))
assert body.get("e2e_upstream") is True, body
assert body["method"] == sys.argv[2], body
# strip_path (default true) removes the route's prefix before the request goes upstream.
assert body["path"] == "/seed-e2e?q=1", body["path"]
assert body["headers"].get("x-request-id"), "no X-Request-Id upstream"
assert body["headers"].get("x-forwarded-for"), "no X-Forwarded-For upstream"
PY
  done
done
step "every seed route proxied (GET and POST) to the upstream with strip_path applied"

code=$(curl -sS -o "$WORK/none.json" -w '%{http_code}' "$PROXY/api/v1/nothing-here") || fail "proxy did not answer"
[[ "$code" == 404 ]] || fail "unmatched path answered $code, want 404"
grep -q 'no Route matched with those values' "$WORK/none.json" || fail "404 body is not Kong's: $(cat "$WORK/none.json")"

echo "seed_script: PASS"

#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the benchmarks need.
# Idempotent: apt-get skips what is already installed.
set -euo pipefail
packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libyaml-cpp-dev libgtest-dev libgmock-dev
  # the suoke binary's allocator
  libmimalloc-dev
  # fuzzing and sanitizers
  clang-14 libclang-rt-14-dev
  # tests: real servers and the seed's Python script
  redis-server redis-tools python3 python3-requests curl
  # bench/migrate.sh: the seed's migrate_to_redis_cluster.py (rediscluster on redis-py); GNU time
  # for peak RSS there and in the tests (tests/support/process.h run_measured)
  python3-rediscluster time
  # tests: Prometheus server and promtool (scrapes /metrics in the prometheus plugin's tests)
  prometheus
  # benchmarks
  nginx-light haproxy wrk
  # bench/plugins.sh: nginx+Lua peer (lua-nginx-module, LuaJIT, cjson)
  libnginx-mod-http-lua lua-cjson
)
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

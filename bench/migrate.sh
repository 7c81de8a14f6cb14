#!/usr/bin/env bash
# bench/migrate.sh — standalone Redis -> 6-node Redis Cluster migration
# (issue 5, section "Benchmark bench/migrate.sh").
#
# Not a test: it is never run by CI. It needs redis-server, redis-cli,
# python3, GNU time (/usr/bin/time), Debian's python3 with
# python3-rediscluster (for the seed's script), and the suoke binary
# (scripts/install-deps.sh installs the packages).
#
# One run starts a standalone redis-server (the source) and a 6-node cluster
# (3 masters + 3 replicas, `suoke cluster up`) on free loopback ports, seeds
# the source with the issue's dataset (default 200,000 keys: 60% strings of
# 100 bytes, 10% each hashes, lists, sets and sorted sets of 10 elements, 30%
# of all keys with a 3600 s TTL), then, each time into a freshly flushed
# cluster:
#   (a) seed       the seed's migrate_to_redis_cluster.py, extracted at run
#                  time from docs/seed/infrastructure_implementation_guide.md
#                  (section 1.1), run by Debian's python3 + python3-rediscluster
#   (b) redis-cli  redis-cli --cluster import --cluster-copy --cluster-replace
#   (c) suoke      suoke migrate --json
# and `suoke verify` after each. With --big, (c) again on a larger dataset
# (default 1,000,000 keys, same mix) to show that its memory stays flat.
# It prints a table (keys, seconds, keys/s, peak RSS, CPU seconds of the tool,
# the source, the masters and the replicas, CPU microseconds per key, load
# average, verify verdict), the goals of the issue
# next to the figures, then
#   ratio_vs_seed=<suoke keys/s / seed keys/s>
#   ratio_vs_redis_cli=<suoke keys/s / redis-cli keys/s>
# with ratio_vs_redis_cli as the last line.
#
# Exit status: 0 when every run finished (a verify that finds mismatches is
# reported, not a failure: the seed's script is expected to lose data); 1 on
# a setup failure (missing tool, a server that does not start, seeding that
# did not give the expected keys, an unparsable output); 3 when a migrating
# tool itself failed (exit status not 0; the table shows which).
set -euo pipefail
export LC_ALL=C

BENCH_NAME=bench/migrate.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<'EOF'
Usage: bench/migrate.sh [--keys N] [--big] [--big-keys N] [--skip-seed] [--keep-tmp]

  --keys N        keys in the dataset (default 200000: the issue's size);
                  60% strings, 10% each hash/list/set/zset, 30% with a TTL
  --big           also run suoke migrate on --big-keys keys (same mix), to
                  show that its peak RSS does not grow with the dataset
  --big-keys N    size of the --big dataset (default 1000000)
  --skip-seed     skip (a), the seed's Python script (the slowest run);
                  ratio_vs_seed is then NA
  --keep-tmp      keep the temporary directory (the extracted seed script and
                  its shim, server logs, raw outputs) and print its path; the
                  servers are stopped anyway
  -h, --help      this help

Environment:
  SUOKE         path of the suoke binary (default ./build/suoke, i.e. relative
                to the current directory; if that does not exist,
                <repo>/build/suoke)
  SEED_PYTHON   the python that runs the seed's script (default
                /usr/bin/python3: Debian's, where python3-rediscluster is)
EOF
}

keys=200000
big=0
big_keys=1000000
skip_seed=0
keep_tmp=0
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) [ $# -ge 2 ] || die "--keys needs a value"; keys=$2; shift 2 ;;
    --keys=*) keys=${1#*=}; shift ;;
    --big) big=1; shift ;;
    --big-keys) [ $# -ge 2 ] || die "--big-keys needs a value"; big_keys=$2; big=1; shift 2 ;;
    --big-keys=*) big_keys=${1#*=}; big=1; shift ;;
    --skip-seed) skip_seed=1; shift ;;
    --keep-tmp) keep_tmp=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
for v in keys big_keys; do
  if ! [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || [ "${!v}" -lt 10 ]; then
    die "--${v/_/-} must be an integer >= 10 (got '${!v}')"
  fi
done

# ---------------------------------------------------------------- tools
require_tools redis-server redis-cli python3
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
bench_find_suoke
for cmd in "cluster up" migrate verify; do
  # shellcheck disable=SC2086
  "$SUOKE" $cmd --help >/dev/null 2>&1 || die "'$SUOKE $cmd' is not available in this build"
done
# A suoke migrate with checkpoints writes one to the current directory by
# default: keep it in the temporary directory. Otherwise default flags: the
# benchmark measures the command as a user runs it.
checkpoint_flag=()
"$SUOKE" migrate --help 2>&1 | grep -q -- '--checkpoint' && checkpoint_flag=(--checkpoint "@TMP@/suoke-migrate.checkpoint")
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
guide=$repo_root/docs/seed/infrastructure_implementation_guide.md
SEED_PYTHON=${SEED_PYTHON:-/usr/bin/python3}
if [ "$skip_seed" = 0 ]; then
  [ -f "$guide" ] || die "the seed's guide is missing: $guide"
  [ -x "$SEED_PYTHON" ] || die "'$SEED_PYTHON' not found (Debian's python3; or set SEED_PYTHON, or pass --skip-seed)"
fi

bench_make_tmp suoke-bench-migrate
[ ${#checkpoint_flag[@]} = 0 ] || checkpoint_flag[1]=$tmp/suoke-migrate.checkpoint
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- servers
source_port=$(free_ports 1) || die "could not pick a free loopback port with python3"
mkdir -p "$tmp/source"
# The source keeps nothing on disk: only the copy is measured.
redis-server --bind 127.0.0.1 --port "$source_port" --dir "$tmp/source" --save '' \
  --appendonly no --logfile "$tmp/source/redis.log" >/dev/null 2>&1 &
source_pid=$!
bench_track_pid "$source_pid"
wait_redis "source redis-server" "$source_pid" "$source_port" "$tmp/source/redis.log"
source_url=redis://127.0.0.1:$source_port

start_cluster "$tmp/cluster"
cluster_pids=()
for p in "${cluster_ports[@]}"; do
  pid=$(tr -dc 0-9 <"$tmp/cluster/$p/redis.pid" 2>/dev/null || true)
  [ -n "$pid" ] || die "no PID in $tmp/cluster/$p/redis.pid"
  cluster_pids+=("$pid")
done

# ---------------------------------------------------------------- dataset
# The generator writes RESP commands for `redis-cli --pipe`: per kind, keys
# <kind>:<i>; strings are 100 bytes, hash fields/list elements 20 bytes,
# set/zset members 19 bytes (zset scores j+0.5), all printable (the seed's
# script decodes replies as UTF-8) and cut from one random pool, so they do not
# compress away. Every key whose running number g has g % 10 < 3 gets
# EXPIRE 3600 (30%).
cat >"$tmp/gen_dataset.py" <<'EOF'
import random, sys

def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)

n = int(sys.argv[1])
pool = random.Random(42).randbytes(8192).hex().encode()

def piece(i, size):
    off = (i * 131) % (len(pool) - size)
    return pool[off:off + size]

per_kind = n // 10
kinds = [(b"string", n - 4 * per_kind), (b"hash", per_kind), (b"list", per_kind),
         (b"set", per_kind), (b"zset", per_kind)]
out = sys.stdout.buffer
g = 0
buf = []
for kind, count in kinds:
    for i in range(count):
        key = b"%s:%d" % (kind, i)
        if kind == b"string":
            buf.append(resp(b"SET", key, piece(g, 100)))
        elif kind == b"hash":
            args = [b"HSET", key]
            for j in range(10):
                args += [b"field:%d" % j, piece(g + j, 20)]
            buf.append(resp(*args))
        elif kind == b"list":
            buf.append(resp(b"RPUSH", key, *[piece(g + j, 20) for j in range(10)]))
        elif kind == b"set":
            buf.append(resp(b"SADD", key, *[b"m%d:" % j + piece(g + j, 16) for j in range(10)]))
        else:
            args = [b"ZADD", key]
            for j in range(10):
                args += [b"%d.5" % j, b"m%d:" % j + piece(g + j, 16)]
            buf.append(resp(*args))
        if g % 10 < 3:
            buf.append(resp(b"EXPIRE", key, b"3600"))
        g += 1
        if len(buf) >= 10000:
            out.write(b"".join(buf))
            buf = []
out.write(b"".join(buf))
EOF

# seed_source N: FLUSHALL the source, load N keys, check DBSIZE and the TTL count.
seed_source() {
  local n=$1 t0 t1 dbsize expires want_expires
  [ "$(redis-cli -p "$source_port" flushall)" = OK ] || die "FLUSHALL on the source failed"
  note "seeding the source with $n keys (python3 | redis-cli --pipe)"
  t0=$(date +%s.%N)
  python3 "$tmp/gen_dataset.py" "$n" | redis-cli -p "$source_port" --pipe >"$tmp/seed-$n.log" 2>&1 ||
    { cat "$tmp/seed-$n.log" >&2; die "seeding the source with $n keys failed"; }
  t1=$(date +%s.%N)
  grep -q '^errors: 0,' "$tmp/seed-$n.log" || { cat "$tmp/seed-$n.log" >&2; die "redis-cli --pipe reported errors while seeding"; }
  dbsize=$(redis-cli -p "$source_port" dbsize)
  [ "$dbsize" = "$n" ] || die "the source has $dbsize keys after seeding, expected $n"
  expires=$(redis-cli -p "$source_port" info keyspace | sed -n 's/^db0:.*expires=\([0-9]*\).*/\1/p')
  want_expires=$(( (n / 10) * 3 + (n % 10 < 3 ? n % 10 : 3) ))
  [ "$expires" = "$want_expires" ] || die "the source has $expires keys with a TTL, expected $want_expires"
  note "seeded $n keys ($expires with a TTL) in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
}

# ---------------------------------------------------------------- the seed's script
# Extracted from the guide between the ```python fence whose first line is
# "# scripts/migrate_to_redis_cluster.py" and the closing fence. The only
# change: its hard-coded connection constants ("port": 6379 for the source,
# "port": 7001..7006 for the cluster nodes) become our ports. Nothing else.
prepare_seed_script() {
  local dir=$tmp/seed i changed
  mkdir -p "$dir/shim"
  awk '
    /^```python[[:space:]]*$/ { inblock = 1; first = 1; text = ""; next }
    inblock && /^```[[:space:]]*$/ { inblock = 0; if (found) { printf "%s", text; exit } next }
    inblock {
      if (first && $0 ~ /^# scripts\/migrate_to_redis_cluster\.py[[:space:]]*$/) found = 1
      first = 0
      text = text $0 "\n"
    }' "$guide" >"$dir/migrate_to_redis_cluster.orig.py"
  [ -s "$dir/migrate_to_redis_cluster.orig.py" ] ||
    die "could not find the migrate_to_redis_cluster.py code block in $guide"
  local sed_args=(-e "s/\"port\": 6379,/\"port\": $source_port,/")
  for i in 1 2 3 4 5 6; do
    sed_args+=(-e "s/\"port\": 700$i}/\"port\": ${cluster_ports[$((i - 1))]}}/")
  done
  sed "${sed_args[@]}" "$dir/migrate_to_redis_cluster.orig.py" >"$dir/migrate_to_redis_cluster.py"
  changed=$(diff "$dir/migrate_to_redis_cluster.orig.py" "$dir/migrate_to_redis_cluster.py" | grep -c '^>' || true)
  [ "$changed" = 7 ] ||
    die "expected to change exactly 7 lines (the source port and 6 cluster ports) of the seed's script, changed $changed: has the guide changed?"
  diff "$dir/migrate_to_redis_cluster.orig.py" "$dir/migrate_to_redis_cluster.py" >"$dir/ports.diff" || true

  # Debian 12 ships rediscluster 2.0.0 (written for redis-py 3) with redis-py
  # 4.3: rediscluster imports redis._compat (gone in redis-py 4) and
  # redis.client.dict_merge (removed). This sitecustomize, on PYTHONPATH only
  # for the seed's run, provides both; it changes no behaviour of either library.
  cat >"$dir/shim/sitecustomize.py" <<'EOF'
import sys
import types

def _nativestr(x):
    return x if isinstance(x, str) else x.decode("utf-8", "replace")

_compat = types.ModuleType("redis._compat")
_compat.iteritems = lambda d: iter(d.items())
_compat.itervalues = lambda d: iter(d.values())
_compat.basestring = (str, bytes)
_compat.unicode = str
_compat.long = int
_compat.izip = zip
_compat.imap = map
_compat.nativestr = _nativestr
sys.modules["redis._compat"] = _compat

import redis.client

def _dict_merge(*dicts):
    merged = {}
    for d in dicts:
        merged.update(d)
    return merged

if not hasattr(redis.client, "dict_merge"):
    redis.client.dict_merge = _dict_merge
EOF
  PYTHONPATH=$dir/shim "$SEED_PYTHON" -c 'import rediscluster, redis' 2>"$dir/import.err" ||
    { cat "$dir/import.err" >&2; die "$SEED_PYTHON cannot import redis + rediscluster (apt-get install python3-rediscluster, or pass --skip-seed)"; }
}

# A line filter prefixing each line with the wall clock, so the end of the
# seed's copy phase (its "开始验证迁移结果..." line, before its own checks)
# can be timed. On that line it also writes the CPU ticks used so far by the
# seed's python (its sibling in the pipeline) and by the servers (PIDs from
# measure's BENCH_*_PIDS) to $BENCH_CPU_SNAPSHOT, so the CPU columns cover the
# copy phase only, like the time.
cat >"$tmp/stamp.py" <<'EOF'
import os, sys, time

def ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total

def seed_python():
    parent = os.getppid()
    try:
        with open("/proc/%d/task/%d/children" % (parent, parent)) as f:
            children = f.read().split()
    except OSError:
        return []
    for pid in children:
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if b"migrate_to_redis_cluster" in f.read():
                    return [pid]
        except OSError:
            pass
    return []

marker = "开始验证迁移结果".encode()
for line in sys.stdin.buffer:
    now = time.time()
    if line.startswith(marker) and os.environ.get("BENCH_CPU_SNAPSHOT"):
        groups = [seed_python()] + [os.environ.get(v, "").split()
                                    for v in ("BENCH_SRC_PIDS", "BENCH_MASTER_PIDS", "BENCH_REPLICA_PIDS")]
        with open(os.environ["BENCH_CPU_SNAPSHOT"], "w") as f:
            f.write(" ".join(str(ticks(g)) for g in groups) + "\n")
    sys.stdout.buffer.write(b"%.6f " % now + line)
    sys.stdout.buffer.flush()
EOF

# ---------------------------------------------------------------- measuring
# cpu_ticks PID...: utime+stime of the processes, in clock ticks.
cpu_ticks() {
  local pid total=0 fields
  for pid in "$@"; do
    # Fields after the ")" that closes the command name: utime is the 12th, stime the 13th.
    fields=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
    total=$((total + $(awk '{ print $12 + $13 }' <<<"$fields")))
  done
  echo "$total"
}

target_keys() {  # the sum of DBSIZE over the cluster's masters
  local p total=0
  for p in "${cluster_ports[@]}"; do
    [ "$(redis-cli -p "$p" role 2>/dev/null | head -n 1)" = master ] || continue
    total=$((total + $(redis-cli -p "$p" dbsize)))
  done
  echo "$total"
}

# verify_verdict NAME: `suoke verify` source -> cluster; prints "clean" or
# "N mismatches (category=count ...)".
verify_verdict() {
  local name=$1 out=$tmp/verify-$1.json rc=0
  "$SUOKE" verify --from "$source_url" --to "$cluster_url" --json --examples 3 \
    >"$out" 2>"$tmp/verify-$name.err" || rc=$?
  if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
    grep -v '"level":"info"' "$tmp/verify-$name.err" >&2 || true
    echo "verify-error(rc=$rc)"
    return 0
  fi
  python3 - "$out" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
if r.get("clean"):
    print("clean")
else:
    cats = ["missing_in_target", "extra_in_target", "type_mismatch", "value_mismatch",
            "ttl_mismatch", "missing_ttl"]
    parts = ["%s=%d" % (c, r[c]) for c in cats if r.get(c)]
    print("%d mismatches (%s)" % (r["mismatches"], " ".join(parts)))
EOF
}

m_show=
rows=()          # the table's lines
names=() row_rate=() row_rss=() row_cpu_per_key=()
any_failed=0
# row NAME: a table row from the last measure, the keys now in the target
# and a verify run.
row() {
  local name=$1 keys rate rss cpu_per_key verdict
  keys=$(target_keys)
  verdict=$(verify_verdict "$name")
  rate=$(awk -v k="$keys" -v s="$m_secs" 'BEGIN { printf "%.0f", (s > 0 ? k / s : 0) }')
  rss=$(awk -v k="$m_rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')
  cpu_per_key=$(awk -v k="$keys" -v a="$m_tool_cpu" -v b="$m_src_cpu" -v c="$m_masters_cpu" -v d="$m_replicas_cpu" \
    'BEGIN { printf "%.1f", (k > 0 ? (a + b + c + d) * 1e6 / k : 0) }')
  names+=("$name"); row_rate+=("$rate"); row_rss+=("$rss"); row_cpu_per_key+=("$cpu_per_key")
  rows+=("$(printf '%-10s %8s %8s %8s %11s %8s %8s %8s %8s %7s %6s  %s' "$name" "$keys" "$m_secs" "$rate" "$rss" \
    "$m_tool_cpu" "$m_src_cpu" "$m_masters_cpu" "$m_replicas_cpu" "$cpu_per_key" "$m_load" "$verdict")")
}
rate_of() {  # NAME: its keys/s, or empty
  local i
  for i in "${!names[@]}"; do
    [ "${names[$i]}" = "$1" ] && { echo "${row_rate[$i]}"; return 0; }
  done
  echo ""
}
rss_of() {
  local i
  for i in "${!names[@]}"; do
    [ "${names[$i]}" = "$1" ] && { echo "${row_rss[$i]}"; return 0; }
  done
  echo ""
}
cpu_per_key_of() {
  local i
  for i in "${!names[@]}"; do
    [ "${names[$i]}" = "$1" ] && { echo "${row_cpu_per_key[$i]}"; return 0; }
  done
  echo ""
}

set_server_cpu() {  # SRC MASTERS REPLICAS: ticks at the end -> m_*_cpu in seconds
  m_src_cpu=$(awk -v a="$m_s0" -v b="$1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')
  m_masters_cpu=$(awk -v a="$m_m0" -v b="$2" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')
  m_replicas_cpu=$(awk -v a="$m_r0" -v b="$3" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')
}

# measure NAME OUT -- CMD...: runs CMD under /usr/bin/time into a flushed
# cluster; sets m_secs (wall, from the shell), m_rss_kb (peak RSS of CMD's
# process), m_tool_cpu (its user+sys s), m_src_cpu, m_masters_cpu,
# m_replicas_cpu (CPU s of the source, the 3 masters, the 3 replicas),
# m_load (1-minute load average just before), m_rc, m_start.
# m_show, when set, is what the progress note shows instead of CMD.
measure() {
  local name=$1 out=$2 t0 t1
  shift 3
  flush_cluster
  local masters=() replicas=() i
  for i in "${!cluster_ports[@]}"; do
    if [ "$(redis-cli -p "${cluster_ports[$i]}" role 2>/dev/null | head -n 1)" = master ]; then
      masters+=("${cluster_pids[$i]}")
    else
      replicas+=("${cluster_pids[$i]}")
    fi
  done
  local s1 m1 r1
  export BENCH_SRC_PIDS=$source_pid BENCH_MASTER_PIDS="${masters[*]}" BENCH_REPLICA_PIDS="${replicas[*]}"
  m_load=$(load_average)
  note "($name) ${m_show:-$*} [load average $m_load]"
  m_show=
  m_s0=$(cpu_ticks "$source_pid"); m_m0=$(cpu_ticks "${masters[@]}"); m_r0=$(cpu_ticks "${replicas[@]}")
  m_rc=0
  t0=$(date +%s.%N)
  m_start=$t0
  bench_run /usr/bin/time -f '%M %U %S' -o "$tmp/$name.time" "$@" >"$out" 2>"$tmp/$name.err" || m_rc=$?
  t1=$(date +%s.%N)
  s1=$(cpu_ticks "$source_pid"); m1=$(cpu_ticks "${masters[@]}"); r1=$(cpu_ticks "${replicas[@]}")
  m_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  read -r m_rss_kb utime stime < <(tail -n 1 "$tmp/$name.time")
  [[ "${m_rss_kb:-}" =~ ^[0-9]+$ ]] || { cat "$tmp/$name.time" "$tmp/$name.err" >&2; die "($name) could not read /usr/bin/time's output"; }
  m_tool_cpu=$(awk -v u="$utime" -v s="$stime" 'BEGIN { printf "%.2f", u + s }')
  set_server_cpu "$s1" "$m1" "$r1"
  if [ "$m_rc" != 0 ]; then
    any_failed=1
    note "WARNING: ($name) exited with status $m_rc; last lines of its output:"
    tail -n 5 "$out" "$tmp/$name.err" >&2 || true
  fi
}

# ---------------------------------------------------------------- runs
seed_source "$keys"
load_before=$(warn_if_loaded)
seed_total_secs=
if [ "$skip_seed" = 0 ]; then
  prepare_seed_script
  # The seed's script is timed through its copy phase: wall time up to its
  # "开始验证迁移结果..." line (its own verification follows, not counted).
  # So do the CPU columns (the filter's snapshot). Peak RSS covers the whole
  # process (its verification holds one more KEYS * list: about the same peak).
  # The shim goes on PYTHONPATH of the seed's python only; pipefail keeps its
  # exit status.
  m_show="PYTHONPATH=<shim> $SEED_PYTHON $tmp/seed/migrate_to_redis_cluster.py | <time-stamping filter>"
  export BENCH_CPU_SNAPSHOT=$tmp/seed.cpu
  # shellcheck disable=SC2016  # the $1..$4 are bash -c's own arguments
  measure seed "$tmp/seed.out" -- \
    bash -c 'set -o pipefail; PYTHONPATH="$1" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 "$2" "$3" 2>&1 | python3 "$4"' \
    bash "$tmp/seed/shim" "$SEED_PYTHON" "$tmp/seed/migrate_to_redis_cluster.py" "$tmp/stamp.py"
  seed_total_secs=$m_secs
  unset BENCH_CPU_SNAPSHOT
  if read -r py_ticks src_ticks master_ticks replica_ticks 2>/dev/null <"$tmp/seed.cpu"; then
    m_tool_cpu=$(awk -v a="$py_ticks" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", a / t }')
    set_server_cpu "$src_ticks" "$master_ticks" "$replica_ticks"
  else
    note "WARNING: (seed) no CPU snapshot at the end of its copy phase: its CPU columns cover the whole process"
  fi
  copy_end=$(awk '$2 ~ /^开始验证迁移结果/ { print $1; exit }' "$tmp/seed.out")
  if [ -n "$copy_end" ]; then
    m_secs=$(awk -v a="$m_start" -v b="$copy_end" 'BEGIN { printf "%.3f", b - a }')
  else
    note "WARNING: (seed) no '开始验证迁移结果' line in its output: its time includes whatever it did after the copy"
    any_failed=1
  fi
  seed_summary=$(sed -n 's/^[0-9.]* \(迁移完成!.*\)$/\1/p' "$tmp/seed.out" | tail -n 1)
  note "(seed) ${seed_summary:-no summary line}; whole process incl. its own verification: $seed_total_secs s"
  # /usr/bin/time wraps bash, whose children are the seed's python and the
  # stamp filter: %M is the largest RSS among them, the seed's python.
  row seed
fi

measure redis-cli "$tmp/redis-cli.out" -- \
  redis-cli --cluster import "127.0.0.1:${cluster_ports[0]}" --cluster-from "127.0.0.1:$source_port" \
  --cluster-copy --cluster-replace
row redis-cli

measure suoke "$tmp/suoke.json" -- "$SUOKE" migrate --from "$source_url" --to "$cluster_url" --json "${checkpoint_flag[@]}"
row suoke

if [ "$big" = 1 ]; then
  seed_source "$big_keys"
  measure suoke-big "$tmp/suoke-big.json" -- "$SUOKE" migrate --from "$source_url" --to "$cluster_url" --json "${checkpoint_flag[@]}"
  row suoke-big
fi

# ---------------------------------------------------------------- report
echo
echo "standalone redis-server -> 6-node cluster (3 masters + 3 replicas, suoke cluster settings), Redis $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p'); dataset $keys keys (60% 100-byte strings, 10% each hash/list/set/zset of 10 elements, 30% with a 3600 s TTL)$([ "$big" = 1 ] && echo "; suoke-big: $big_keys keys, same mix"); $(nproc) CPUs; load average before runs: $load_before"
printf '%-10s %8s %8s %8s %11s %8s %8s %8s %8s %7s %6s  %s\n' name keys seconds keys/s peak_rss_mb tool_cpu src_cpu mast_cpu repl_cpu us/key load1 verify
printf '%s\n' "${rows[@]}"
echo "seconds: wall time of the migrating process (seed: its copy phase$([ -n "$seed_total_secs" ] && echo ", $seed_total_secs s with its own verification")); peak_rss_mb: its peak RSS; *_cpu: CPU s of the tool, the source, the 3 masters, the 3 replicas during the run; us/key: all of them per key copied; load1: 1-minute load average when it started"

ours=$(rate_of suoke)
seed_rate=$(rate_of seed)
cli_rate=$(rate_of redis-cli)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "NA"; else printf "%.3f", a / b }'; }
ratio_vs_seed=$(ratio "$ours" "$seed_rate")
ratio_vs_redis_cli=$(ratio "$ours" "$cli_rate")
verdict() {  # VALUE OP LIMIT
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    if (v == "NA" || v == "") { print "(not measured)"; exit }
    ok = (op == ">=") ? (v + 0 >= l + 0) : (v + 0 < l + 0)
    print (ok ? "met" : "MISSED") }'
}
as_factor() { [ "$1" = NA ] && echo NA || echo "${1}x"; }
echo "goal (issue 5) suoke >= 20x the seed script:  $(as_factor "$ratio_vs_seed")  $(verdict "$ratio_vs_seed" '>=' 20)"
echo "goal (issue 5) suoke >= 8x redis-cli import:  $(as_factor "$ratio_vs_redis_cli")  $(verdict "$ratio_vs_redis_cli" '>=' 8)"
echo "goal (issue 5) suoke peak RSS < 64 MB:        $(rss_of suoke) MB at $keys keys  $(verdict "$(rss_of suoke)" '<' 64)$(
  [ "$big" = 1 ] && echo "; $(rss_of suoke-big) MB at $big_keys keys  $(verdict "$(rss_of suoke-big)" '<' 64)")"
# CPU per key (tool + every server) hardly depends on what else runs: the
# wall-time ratios below do. On a busy machine the wall ratios tend to these.
echo "cpu_ratio_vs_seed=$(ratio "$(cpu_per_key_of seed)" "$(cpu_per_key_of suoke)")"
echo "cpu_ratio_vs_redis_cli=$(ratio "$(cpu_per_key_of redis-cli)" "$(cpu_per_key_of suoke)")"
echo "peak_rss_mb_suoke=$(rss_of suoke)"
[ "$big" = 1 ] && echo "peak_rss_mb_suoke_big=$(rss_of suoke-big)"
if [ "$any_failed" = 1 ]; then
  note "WARNING: at least one migrating tool failed (see the warnings above); its figures are not comparable"
fi
echo "ratio_vs_seed=$ratio_vs_seed"
echo "ratio_vs_redis_cli=$ratio_vs_redis_cli"
[ "$any_failed" = 0 ] || exit 3

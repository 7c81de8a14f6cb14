#!/usr/bin/env bash
# bench/sessions.sh — Redis Cluster client throughput against redis-benchmark
# (issue 4, section "Benchmark bench/sessions.sh").
#
# Not a test: it is never run by CI. It needs redis-server, redis-cli,
# redis-benchmark (Debian's redis-server and redis-tools) and python3, plus
# the suoke binary and the suoke_redis_bench program built next to it.
#
# One run starts one 6-node cluster (3 masters + 3 replicas) on free loopback
# ports with `suoke cluster up`, then, for each pipeline depth (1, then 16):
#   redis-benchmark --cluster -t set,get -c <clients> -n <N> -r <keyspace> -P <depth> --csv
#   suoke_redis_bench --clients <clients> --requests <N> --keyspace <keyspace> --pipeline <depth>
# with FLUSHALL on every master before each of the four runs. It prints a
# table (tool, test, pipeline, ops/s), then
#   ratio_p1=..  ratio_p16=..  ratio=<min of the two>
# with ratio as the last line; ratio_pP is min over SET and GET of
# suoke ops/s / redis-benchmark ops/s at depth P.
#
# Exit status: 0 on success; 1 on a setup failure (missing tool, a cluster that
# does not come up, an unparsable output); 3 when every run finished but at
# least one of them had errors (the table shows which).
set -euo pipefail
export LC_ALL=C

usage() {
  cat <<'EOF'
Usage: bench/sessions.sh [--requests N] [--clients C] [--keyspace K] [--keep-tmp]

  --requests N    requests per test and per tool (default 2000000: the issue's -n)
  --clients C     concurrent clients/callers (default 50: the issue's -c)
  --keyspace K    random keys key:<0..K-1> (default 100000; redis-benchmark -r)
  --keep-tmp      keep the temporary directory (node data and logs, raw
                  outputs) and print its path; the cluster is stopped anyway
  -h, --help      this help

Environment:
  SUOKE               path of the suoke binary (default ./build/suoke, i.e.
                      relative to the current directory; if that does not
                      exist, <repo>/build/suoke)
  SUOKE_REDIS_BENCH   path of suoke_redis_bench (default: next to $SUOKE)
EOF
}

BENCH_NAME=bench/sessions.sh
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

requests=2000000
clients=50
keyspace=100000
keep_tmp=0
depths=(1 16)
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) [ $# -ge 2 ] || die "--requests needs a value"; requests=$2; shift 2 ;;
    --requests=*) requests=${1#*=}; shift ;;
    --clients) [ $# -ge 2 ] || die "--clients needs a value"; clients=$2; shift 2 ;;
    --clients=*) clients=${1#*=}; shift ;;
    --keyspace) [ $# -ge 2 ] || die "--keyspace needs a value"; keyspace=$2; shift 2 ;;
    --keyspace=*) keyspace=${1#*=}; shift ;;
    --keep-tmp) keep_tmp=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
for v in requests clients keyspace; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--$v must be a positive integer (got '${!v}')"
done

# ---------------------------------------------------------------- tools
require_tools redis-server redis-cli redis-benchmark python3
bench_find_suoke
BENCH=${SUOKE_REDIS_BENCH:-$(dirname "$SUOKE")/suoke_redis_bench}
[ -x "$BENCH" ] ||
  die "suoke_redis_bench not found or not executable: '$BENCH' (build it with 'ninja -C <build dir> suoke_redis_bench', or set SUOKE_REDIS_BENCH=/path/to/it)"

# ---------------------------------------------------------------- cluster
# `suoke cluster up` when this suoke has it, otherwise redis-server + redis-cli
# --cluster create (bench/lib.sh); stopped by the exit trap.
bench_make_tmp suoke-bench-sessions
start_cluster "$tmp/cluster"
base=$cluster_base
url=$cluster_url

# ---------------------------------------------------------------- runs
load1=$(warn_if_loaded)

tools=() tests=() pipes=() opss=() statuses=()
any_errors=0
# add TOOL TEST P OPS STATUS
add() { tools+=("$1"); tests+=("$2"); pipes+=("$3"); opss+=("$4"); statuses+=("$5"); }
# ops_of TOOL TEST P: the ops/s recorded for that row.
ops_of() {
  local i
  for i in "${!tools[@]}"; do
    if [ "${tools[$i]}" = "$1" ] && [ "${tests[$i]}" = "$2" ] && [ "${pipes[$i]}" = "$3" ]; then
      echo "${opss[$i]}"; return 0
    fi
  done
  echo 0
}

run_redis_benchmark() {  # P
  local P=$1 out=$tmp/redis-benchmark-P$1.csv err=$tmp/redis-benchmark-P$1.err test ops st
  note "redis-benchmark -h 127.0.0.1 -p $base --cluster -t set,get -c $clients -n $requests -r $keyspace -P $P --csv"
  if ! redis-benchmark -h 127.0.0.1 -p "$base" --cluster -t set,get -c "$clients" -n "$requests" \
      -r "$keyspace" -P "$P" --csv >"$out" 2>"$err"; then
    cat "$out" "$err" >&2
    die "redis-benchmark -P $P failed"
  fi
  for test in SET GET; do
    # "SET","57870.37","0.455",...
    ops=$(awk -F'"' -v t="$test" '$2 == t { print $4 }' "$out")
    if [ -z "$ops" ]; then
      cat "$out" "$err" >&2
      die "could not find the $test line in redis-benchmark's --csv output (P=$P)"
    fi
    st=ok
    if grep -qiE 'error' "$err" "$out"; then
      st=ERRORS; any_errors=1
      note "WARNING: redis-benchmark -P $P reported errors: $(grep -iE 'error' "$err" "$out" | head -n 3 | paste -sd ';' -)"
    fi
    add redis-benchmark "$test" "$P" "$ops" "$st"
  done
}

run_suoke() {  # P
  local P=$1 out=$tmp/suoke-P$1.txt err=$tmp/suoke-P$1.err rc=0 test line ops st
  note "suoke_redis_bench --url $url --clients $clients --requests $requests --keyspace $keyspace --pipeline $P --tests set,get --value-size 3"
  "$BENCH" --url "$url" --clients "$clients" --requests "$requests" --keyspace "$keyspace" \
    --pipeline "$P" --tests set,get --value-size 3 >"$out" 2>"$err" || rc=$?
  if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then
    cat "$out" >&2; grep -v '"level":"info"' "$err" >&2 || true
    die "suoke_redis_bench -P $P failed (exit status $rc)"
  fi
  for test in SET GET; do
    # suoke SET P=1 ops_per_sec=... requests=... completed=... errors=... seconds=... status=ok
    line=$(awk -v t="$test" -v p="P=$P" '$1 == "suoke" && $2 == t && $3 == p' "$out")
    ops=$(sed -n 's/.* ops_per_sec=\([0-9.]*\) .*/\1/p' <<<"$line")
    st=$(sed -n 's/.* status=\([a-z]*\).*/\1/p' <<<"$line")
    if [ -z "$ops" ] || [ -z "$st" ]; then
      cat "$out" >&2; grep -v '"level":"info"' "$err" >&2 || true
      die "could not find the $test line in suoke_redis_bench's output (P=$P)"
    fi
    if [ "$st" != ok ]; then
      any_errors=1
      note "WARNING: suoke_redis_bench $test -P $P: $line"
      grep -v '"level":"info"' "$err" | head -n 5 >&2 || true
      st=ERRORS
    fi
    add suoke "$test" "$P" "$ops" "$st"
  done
}

for P in "${depths[@]}"; do
  flush_cluster
  run_redis_benchmark "$P"
  flush_cluster
  run_suoke "$P"
done

# ---------------------------------------------------------------- report
echo
echo "6-node cluster (3 masters + 3 replicas, suoke cluster settings), $clients clients, $requests requests per test, keyspace $keyspace, 3-byte values; $(nproc) CPUs; load average before runs: $load1"
printf '%-16s %-5s %8s %14s  %s\n' tool test pipeline ops/s status
for i in "${!tools[@]}"; do
  printf '%-16s %-5s %8s %14.2f  %s\n' "${tools[$i]}" "${tests[$i]}" "${pipes[$i]}" "${opss[$i]}" "${statuses[$i]}"
done
ratios=()
per_test=()
for P in "${depths[@]}"; do
  for test in SET GET; do
    per_test+=("$(awk -v s="$(ops_of suoke "$test" "$P")" -v r="$(ops_of redis-benchmark "$test" "$P")" -v t="$test" -v p="$P" \
      'BEGIN { printf "%s P=%s %.3f", t, p, (r > 0 ? s / r : 0) }')")
  done
done
echo "suoke/redis-benchmark: $(printf '%s, ' "${per_test[@]}" | sed 's/, $//')"
for P in "${depths[@]}"; do
  r=$(printf '%s\n' "${per_test[@]}" | awk -v p="P=$P" '$2 == p { if (m == "" || $3 < m) m = $3 } END { print m }')
  echo "ratio_p$P=$r"
  ratios+=("$r")
done
if [ "$any_errors" = 1 ]; then
  note "WARNING: at least one run had errors (see the table); its figures are not comparable"
fi
awk -v a="${ratios[0]}" -v b="${ratios[1]}" 'BEGIN { printf "ratio=%.3f\n", (a < b ? a : b) }'
[ "$any_errors" = 0 ] || exit 3

# bench/lib.sh — helpers shared by the bench scripts. Source it, do not run it:
# shellcheck shell=bash
#
#   BENCH_NAME=bench/foo.sh
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It defines die/note (messages prefixed with $BENCH_NAME), the temporary
# directory with its exit trap (bench_make_tmp), a registry of what the trap
# must stop (bench_track_pid, bench_track_pidfile, bench_at_exit), free port
# pickers, readiness checks for TCP servers and redis-server, the 6-node test
# cluster, and the load-average warning. Scripts set `keep_tmp=1` to keep the
# temporary directory.
#
# Needs bash 4+, python3 (port picking) and, for the Redis helpers,
# redis-cli.

: "${BENCH_NAME:=bench}"
keep_tmp=${keep_tmp:-0}

die() { echo "$BENCH_NAME: error: $*" >&2; exit 1; }
note() { echo "$BENCH_NAME: $*" >&2; }

# require_tools TOOL... : die naming the first tool missing from PATH.
require_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 ||
      die "'$tool' not found in PATH (bash scripts/install-deps.sh installs every tool the benches use)"
  done
}

# bench_find_suoke: sets SUOKE to an absolute path: $SUOKE if set, else
# ./build/suoke (relative to the current directory), else <repo>/build/suoke.
bench_find_suoke() {
  local repo_root
  repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ -z "${SUOKE:-}" ]; then
    SUOKE=./build/suoke
    [ -x "$SUOKE" ] || SUOKE=$repo_root/build/suoke
  fi
  [ -x "$SUOKE" ] ||
    die "suoke binary not found or not executable: '$SUOKE' (build it with 'make build' or 'bash scripts/build.sh', or set SUOKE=/path/to/suoke)"
  SUOKE=$(cd "$(dirname "$SUOKE")" && pwd)/$(basename "$SUOKE")
}

# ---------------------------------------------------------------- cleanup
# What the exit trap undoes, in this order: the process group of a command
# still running under bench_run, the commands given to
# bench_at_exit (last registered first), then every PID from bench_track_pid
# and every pidfile from bench_track_pidfile (SIGTERM, up to 10 s, SIGKILL),
# then the temporary directory unless keep_tmp=1.
_bench_exit_cmds=()
_bench_pids=()
_bench_pidfiles=()

bench_at_exit() { _bench_exit_cmds+=("$1"); }
bench_track_pid() { _bench_pids+=("$1"); }
# For daemonized servers (redis-server --daemonize yes): the PID is read from
# the file at exit, so register the file before starting the server.
bench_track_pidfile() { _bench_pidfiles+=("$1"); }

_bench_stop_pid() {  # PID: SIGTERM, wait up to 10 s, then SIGKILL
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    note "PID $pid did not exit on SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# bench_run CMD...: runs CMD in its own process group, in the background, and
# waits for it. Bash runs a trap only once the foreground command is done, so
# a long measured run would delay the cleanup after a SIGTERM/SIGINT; `wait`
# returns at once, and the exit trap stops the whole group (CMD and its
# children). Redirections given to bench_run apply to CMD.
_bench_child_pgid=
bench_run() {
  local rc=0
  setsid "$@" &
  _bench_child_pgid=$!
  wait "$_bench_child_pgid" || rc=$?
  _bench_child_pgid=
  return "$rc"
}

_bench_cleanup() {
  local rc=$?
  trap - ERR
  set +e
  local i pid file
  if [ -n "$_bench_child_pgid" ]; then
    kill -TERM -- "-$_bench_child_pgid" 2>/dev/null
    for i in $(seq 50); do
      kill -0 -- "-$_bench_child_pgid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$_bench_child_pgid" 2>/dev/null
    wait "$_bench_child_pgid" 2>/dev/null
  fi
  for ((i = ${#_bench_exit_cmds[@]} - 1; i >= 0; i--)); do
    eval "${_bench_exit_cmds[$i]}"
  done
  for pid in "${_bench_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${_bench_pids[@]}"; do
    _bench_stop_pid "$pid"
  done
  for file in "${_bench_pidfiles[@]}"; do
    [ -s "$file" ] || continue
    pid=$(tr -dc 0-9 <"$file")
    # Only a redis-server: a stale pidfile must not make us stop a reused PID.
    if [ -n "$pid" ] && grep -q '^redis-server' "/proc/$pid/comm" 2>/dev/null; then
      _bench_stop_pid "$pid"
    fi
  done
  if [ -n "${tmp:-}" ] && [ -d "$tmp" ]; then
    if [ "$keep_tmp" = 1 ]; then
      note "kept temporary directory $tmp"
    else
      rm -rf "$tmp"
    fi
  fi
  exit "$rc"
}

# bench_make_tmp PREFIX: creates $tmp (mktemp -d under $TMPDIR or /tmp) and
# installs the traps: cleanup on exit, a note naming the failed command, exit
# 130/143 on SIGINT/SIGTERM (which runs the cleanup).
bench_make_tmp() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  trap _bench_cleanup EXIT
  trap 'note "error: command failed at line $LINENO: $BASH_COMMAND"' ERR
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# ---------------------------------------------------------------- ports
# free_ports N: N distinct free loopback TCP ports (all bound at once, so they
# differ), one per line.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
for s in socks:
    s.close()
EOF
}

# free_cluster_base: a port B such that B..B+5 and B+10000..B+10005 (the
# cluster bus ports) are all free on 127.0.0.1 (all bound at once while
# checking).
free_cluster_base() {
  python3 <<'EOF'
import random, socket, sys
for _ in range(200):
    base = random.randint(20000, 50000)
    socks = []
    try:
        for p in list(range(base, base + 6)) + list(range(base + 10000, base + 10006)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    sys.exit(0)
sys.exit(1)
EOF
}

# ---------------------------------------------------------------- readiness
# show_log NAME FILE: the tail of a server's log on stderr.
show_log() {
  if [ -s "$2" ]; then
    echo "---- last lines of $1 log ($2) ----" >&2
    tail -n 30 "$2" >&2
    echo "----" >&2
  else
    echo "($1 wrote nothing to $2)" >&2
  fi
}

# wait_port NAME PID PORT LOG [SECONDS]: until 127.0.0.1:PORT accepts a TCP
# connection (default 10 s). Dies with the log when PID exits first (PID may
# be empty for a daemonized server) or the port never opens.
wait_port() {
  local name=$1 pid=$2 port=$3 log=$4 secs=${5:-10} i
  for i in $(seq $((secs * 10))); do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      show_log "$name" "$log"
      die "$name (PID $pid) exited before listening on 127.0.0.1:$port"
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  show_log "$name" "$log"
  die "$name did not listen on 127.0.0.1:$port within $secs s"
}

# wait_redis NAME PID PORT LOG [SECONDS]: until redis-cli PING answers PONG.
wait_redis() {
  local name=$1 pid=$2 port=$3 log=$4 secs=${5:-10} i
  for i in $(seq $((secs * 10))); do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      show_log "$name" "$log"
      die "$name (PID $pid) exited before answering PING on 127.0.0.1:$port"
    fi
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  show_log "$name" "$log"
  die "$name did not answer PING on 127.0.0.1:$port within $secs s"
}

# ---------------------------------------------------------------- cluster
# start_cluster DIR: a 6-node Redis Cluster (3 masters + 3 replicas) on free
# loopback ports with the seed's node settings; sets cluster_ports (array),
# cluster_url (redis-cluster://...) and cluster_base. Uses `$SUOKE cluster up`
# when SUOKE has that command (stopped at exit with `cluster down`, plus the
# node pidfiles as a safety net), otherwise starts the redis-server processes
# itself and runs `redis-cli --cluster create` (stopped by PID). Returns once
# every node reports cluster_state:ok.
start_cluster() {
  local dir=$1 p i
  cluster_base=$(free_cluster_base) ||
    die "could not find 6 free loopback ports (and their +10000 bus ports) with python3"
  cluster_ports=()
  for i in 0 1 2 3 4 5; do cluster_ports+=($((cluster_base + i))); done
  for p in "${cluster_ports[@]}"; do bench_track_pidfile "$dir/$p/redis.pid"; done
  if [ -n "${SUOKE:-}" ] && "$SUOKE" cluster up --help >/dev/null 2>&1; then
    note "starting a 6-node cluster: suoke cluster up --base-port $cluster_base --dir $dir --node-timeout 5000"
    bench_at_exit "_bench_cluster_down '$dir'"
    if ! "$SUOKE" cluster up --base-port "$cluster_base" --dir "$dir" --node-timeout 5000 \
        >"$dir.up.log" 2>&1; then
      cat "$dir.up.log" >&2
      die "suoke cluster up failed"
    fi
  else
    note "'suoke cluster' is not available: starting 6 redis-server nodes and 'redis-cli --cluster create' instead"
    for p in "${cluster_ports[@]}"; do
      mkdir -p "$dir/$p"
      # The seed's redis-cluster.conf settings, without its loadmodule lines.
      cat >"$dir/$p/redis.conf" <<EOF
bind 127.0.0.1
port $p
dir $dir/$p
cluster-enabled yes
cluster-config-file nodes.conf
cluster-node-timeout 5000
appendonly yes
appendfsync everysec
save 900 1
save 300 10
save 60 10000
maxmemory 2gb
maxmemory-policy allkeys-lru
tcp-keepalive 300
daemonize no
logfile $dir/$p/redis.log
EOF
      redis-server "$dir/$p/redis.conf" >/dev/null 2>&1 &
      bench_track_pid "$!"
      wait_redis "cluster node $p" "$!" "$p" "$dir/$p/redis.log"
    done
    local endpoints=()
    for p in "${cluster_ports[@]}"; do endpoints+=("127.0.0.1:$p"); done
    redis-cli --cluster create "${endpoints[@]}" --cluster-replicas 1 --cluster-yes \
      >"$dir.create.log" 2>&1 || { cat "$dir.create.log" >&2; die "redis-cli --cluster create failed"; }
  fi
  for p in "${cluster_ports[@]}"; do
    for i in $(seq 300); do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && break
      sleep 0.1
    done
    redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' ||
      die "node 127.0.0.1:$p did not report cluster_state:ok within 30 s"
  done
  cluster_url="redis-cluster://$(printf '127.0.0.1:%s,' "${cluster_ports[@]}")"
  cluster_url=${cluster_url%,}
}

_bench_cluster_down() {  # DIR
  local purge=--purge
  [ "$keep_tmp" = 1 ] && purge=
  "$SUOKE" cluster down --dir "$1" $purge >"$1.down.log" 2>&1 ||
    { note "suoke cluster down failed:"; cat "$1.down.log" >&2; }
}

# flush_cluster: FLUSHALL on every master of the cluster (replicas follow).
flush_cluster() {
  local p role
  for p in "${cluster_ports[@]}"; do
    role=$(redis-cli -p "$p" role 2>/dev/null | head -n 1)
    if [ "$role" = master ]; then
      [ "$(redis-cli -p "$p" flushall)" = OK ] || die "FLUSHALL on 127.0.0.1:$p failed"
    fi
  done
}

# ---------------------------------------------------------------- load
# load_average: the 1-minute load average.
load_average() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0; }

# warn_if_loaded: a warning on stderr when the 1-minute load average is 1 or
# more (other processes compete for the CPUs; figures are low and noisy).
# Prints the load average on stdout.
warn_if_loaded() {
  local load1
  load1=$(load_average)
  if awk -v l="$load1" 'BEGIN { exit !(l >= 1.0) }'; then
    note "WARNING: 1-minute load average is $load1 before the runs: other processes are busy, figures will be low and noisy"
  fi
  echo "$load1"
}

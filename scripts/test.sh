#!/usr/bin/env bash
# Every test: packages, release build + tests, ASan/UBSan build + tests, bounded fuzzing.
# This is what `make test` and .ci/run execute.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
start=$(date +%s)
stage() { echo; echo "=== $* ($(( $(date +%s) - start ))s)"; }

stage "packages"
bash scripts/install-deps.sh

stage "honesty check: no skipped tests"
if grep -rnE 'GTEST_SKIP|DISABLED_' tests/ ; then
  echo "tests must not skip: a skipped test hides in a green run" >&2
  exit 1
fi

stage "release build"
bash scripts/build.sh
stage "release tests"
(cd build && ctest --output-on-failure --no-tests=error -j2 --timeout 600)

stage "ASan+UBSan build"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSUOKE_SANITIZE=ON >/dev/null
cmake --build build-asan
stage "ASan+UBSan tests"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure --no-tests=error -j2 --timeout 900)

stage "fuzz build (clang-14, libFuzzer)"
CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSUOKE_FUZZ=ON >/dev/null
cmake --build build-fuzz
fuzz_seconds=${SUOKE_FUZZ_SECONDS:-30}
for target in build-fuzz/*_fuzz; do
  name=$(basename "$target")
  stage "fuzz $name for ${fuzz_seconds}s"
  corpus=$(mktemp -d)
  seeds="$root/fuzz/corpus/${name%_fuzz}"
  [ -d "$seeds" ] && cp -r "$seeds"/. "$corpus"/
  "$target" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$corpus" 2>&1 | tail -n 12
  rm -rf "$corpus"
done

stage "all tests passed"

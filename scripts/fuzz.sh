#!/usr/bin/env bash
# Fuzzes the config loader with libFuzzer for a bounded time (default 60 s; FUZZ_SECONDS=N to
# change). Builds in build-fuzz with clang, ASan and UBSan. Exits non-zero when it finds a
# crash, a leak or a hang; the input is left in build-fuzz/artifacts/ to turn into a test.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TOTAL=${FUZZ_SECONDS:-60}
B=build-fuzz
SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

CC=clang CXX=clang++ cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DHAKIT_FUZZ=ON -DHAKIT_TESTS=OFF -DHAKIT_PCH=OFF -DHAKIT_STATIC_DEPS=OFF ${UNITY:-} \
  -DCMAKE_C_FLAGS="$SAN" -DCMAKE_CXX_FLAGS="$SAN" >/dev/null
cmake --build "$B" -j "${JOBS:-$(nproc)}" --target fuzz_config

# New inputs go into build-fuzz/corpus; the committed seeds stay as they are.
mkdir -p "$B/corpus" "$B/artifacts"
workers=$(( $(nproc) > 1 ? 2 : 1 ))
echo "fuzz.sh: fuzzing the config loader for ${SECONDS_TOTAL} s with ${workers} worker(s)"
"$B/tests/fuzz/fuzz_config" "$B/corpus" tests/fuzz/corpus \
  -dict=tests/fuzz/config.dict -max_total_time="$SECONDS_TOTAL" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -jobs="$workers" -workers="$workers" -artifact_prefix="$B/artifacts/" \
  -print_final_stats=1 > "$B/fuzz.log" 2>&1 || {
  echo "fuzz.sh: the fuzzer found a problem; input in $B/artifacts/, log follows" >&2
  tail -n 60 "$B/fuzz.log" fuzz-*.log 2>/dev/null >&2 || true
  exit 1
}
grep -h "stat::number_of_executed_units\|Done" "$B/fuzz.log" fuzz-*.log 2>/dev/null | tail -n 4 || true
rm -f fuzz-*.log
echo "fuzz.sh: no crash in ${SECONDS_TOTAL} s"

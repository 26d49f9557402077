#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit (doctest), integration (real
# servers started by the tests), end-to-end (keepalived in network namespaces), the
# sanitizer build of the unit tests and a bounded fuzzing run. Exits non-zero on any failure.
#   ./scripts/test.sh            everything
#   ./scripts/test.sh -L unit    only CTest tests with that label (passed to ctest)
# Environment: JOBS (parallel build/test jobs, default nproc), FUZZ_SECONDS (default 60),
# HAKIT_SKIP_ASAN=1 / HAKIT_SKIP_FUZZ=1 for a quick local run (CI runs everything).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${JOBS:-$(nproc)}
export JOBS

status=0
summary=()
step() { printf '\n==> %s\n' "$*"; step_name=$*; step_start=$SECONDS; }
done_step() {  # done_step RC
  local verdict=ok
  [ "$1" -eq 0 ] || { verdict=FAILED; status=1; }
  summary+=("$(printf '%-8s %4ss  %s' "$verdict" $((SECONDS - step_start)) "$step_name")")
}
finish() {
  printf '\n==> summary\n'
  printf '  %s\n' "${summary[@]}"
  [ $status -eq 0 ] && echo "test.sh: all passed" || echo "test.sh: FAILED" >&2
  exit $status
}

step "dependencies (scripts/deps.sh)"
./scripts/deps.sh
rc=$?; done_step $rc; [ $rc -eq 0 ] || finish

# Unity builds (16 files a compile): the headers every file includes (spdlog/fmt, nlohmann
# json, yaml-cpp) are parsed once a batch instead of once a file. Measured with -j2 on a
# 2-core box: 331 s instead of 491 s. Incremental builds (a developer's build/) stay one file
# a compile unless they pass the same option.
UNITY="-DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16"
export UNITY

step "build (RelWithDebInfo, warnings are errors)"
cmake -S . -B build -G Ninja -DHAKIT_WERROR=ON $UNITY >/dev/null && cmake --build build -j "$JOBS"
rc=$?; done_step $rc; [ $rc -eq 0 ] || finish

if [ "${HAKIT_SKIP_ASAN:-0}" != 1 ]; then
  # Only the unit tests: ASan and UBSan over the common library and every tool's logic.
  # (CMake links libstdc++ dynamically in this build: ASan cannot wrap a static one.)
  step "sanitizer build of the unit tests (ASan + UBSan)"
  cmake -S . -B build-asan -G Ninja -DHAKIT_WERROR=ON -DHAKIT_SANITIZE=ON \
    -DCMAKE_BUILD_TYPE=Debug $UNITY >/dev/null &&
    cmake --build build-asan -j "$JOBS" --target unit_tests test_helper &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
      UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      ./build-asan/tests/unit/unit_tests --no-intro=true --minimal=true
  done_step $?
fi

if [ "${HAKIT_SKIP_FUZZ:-0}" != 1 ] && [ -x scripts/fuzz.sh ]; then
  step "fuzzing the config loader (${FUZZ_SECONDS:-60} s)"
  ./scripts/fuzz.sh
  done_step $?
fi

step "ctest (unit, smoke, integration, e2e)"
(cd build && ctest --output-on-failure -j "$JOBS" "$@")
done_step $?
cd "$ROOT"
finish

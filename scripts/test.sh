#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit (doctest), integration (real
# servers started by the tests), end-to-end (keepalived in network namespaces), the
# sanitizer build of the unit tests and a bounded fuzzing run. Exits non-zero on any failure.
#   ./scripts/test.sh            everything
#   ./scripts/test.sh -L unit    only CTest tests with that label (passed to ctest)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc)

./scripts/deps.sh || exit 1

status=0
step() { printf '\n==> %s\n' "$*"; }

step "build (RelWithDebInfo, warnings are errors)"
cmake -S . -B build -G Ninja -DHAKIT_WERROR=ON >/dev/null || exit 1
cmake --build build -j "$JOBS" || exit 1

step "sanitizer build of the unit tests (ASan + UBSan)"
cmake -S . -B build-asan -G Ninja -DHAKIT_WERROR=ON -DHAKIT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
  >/dev/null || exit 1
if cmake --build build-asan -j "$JOBS" --target unit_tests test_helper; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ./build-asan/tests/unit/unit_tests --no-intro=true || status=1
else
  status=1
fi

if [ -x scripts/fuzz.sh ]; then
  step "fuzzing the config loader (bounded)"
  ./scripts/fuzz.sh || status=1
fi

step "ctest"
cd build
ctest --output-on-failure -j "$JOBS" "$@" || status=1
cd "$ROOT"
exit $status

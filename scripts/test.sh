#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite.
#   scripts/test.sh             the normal build, in build/
#   scripts/test.sh --sanitize  built with -fsanitize=address,undefined, in build-asan/
# Tests that need ../shared (the real checkpoint and tokenizers) skip with a
# message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitize" ]; then
  build=build-asan
  bash scripts/setup.sh --test --sanitize "$build"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  build=build
  bash scripts/setup.sh --test "$build"
fi
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"

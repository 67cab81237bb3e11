#!/usr/bin/env bash
# Issue 4's greedy criterion against llama.cpp itself, on the real
# stories260K checkpoint (../shared/models) converted to GGUF by herd and
# quantized by herd to Q8_0 and Q4_0: bench/greedy_llamacpp.sh 200 with
# MODELS=stories260K, in a folder of its own. It passes when
#  - in F32 herd's 200 free-running greedy ids are llama.cpp's (flash
#    attention off, f32 KV cache), and
#  - in every type, with teacher forcing, herd's argmax equals llama.cpp's
#    at every step where llama.cpp's top two logits are more than 1e-2 apart.
# Skipped without ../shared, without llama.cpp (scripts/setup.sh --test
# installs it from npm into ~/.cache/herd-bench/llamacpp; HERD_LLAMACPP_DIR
# elsewhere), and in the sanitizer build, whose libherd.a the plain gcc
# link of bench/peer/herd_argmax.c does not take.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
shared="${HERD_SHARED:-$here/../shared}"
bin="${HERD_BIN:-$here/build}"
peer="${HERD_LLAMACPP_DIR:-$HOME/.cache/herd-bench/llamacpp}"
[ -f "$shared/models/stories260K.bin" ] || { echo "SKIP: no $shared/models/stories260K.bin"; exit 77; }
[ -x "$peer/bin/llamacpp_bench" ] || {
  echo "SKIP: llama.cpp not installed in $peer (scripts/setup.sh --test installs it)"; exit 77; }
if grep -q '^HERD_SANITIZE:BOOL=ON' "$bin/CMakeCache.txt" 2>/dev/null; then
  echo "SKIP: sanitizer build (the normal build runs this test)"; exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$(BENCH_DIR="$tmp" PEER_DIR="$peer" HERD_BIN="$bin" HERD_SHARED="$shared" \
      MODELS=stories260K TYPES="f32 q8_0 q4_0" PEER_VARIANTS="" THREADS=1 \
      bash "$here/bench/greedy_llamacpp.sh" 200 2>&1)
rc=$?
echo "$out"
# Each of the three types printed its free-running and teacher-forced lines.
[ "$(echo "$out" | grep -c 'teacher-forced (step).* -> PASS')" = 3 ] || rc=1
[ "$(echo "$out" | grep -c 'stories260K f32: free-running: the same 200 greedy ids')" = 1 ] || rc=1
[ $rc = 0 ] && echo "PASS" || echo "FAIL"
exit $rc

#!/usr/bin/env bash
# Builds bench/quant_dot.c against libherd.a and runs it, with llama.cpp's
# CPU library for the same CPU when ../shared/bench/setup-llamacpp.sh has
# installed it (its ggml_vec_dot_* timed beside herd's, same blocks).
#   bench/quant_dot.sh [GGML_CPU_VARIANT]     (default: zen4 if AVX-512, else haswell)
# Env: HERD_BIN (build folder, default build), OMP_NUM_THREADS, HERD_SIMD,
#      BENCH_DIR (where setup-llamacpp.sh put llama.cpp, default ~/.cache/herd-bench)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${HERD_BIN:-$here/build}
[ -f "$bin/libherd.a" ] || { echo "build herd first ($bin/libherd.a)"; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -std=c11 -I"$here/include" -I"$here/src" "$here/bench/quant_dot.c" "$bin/libherd.a" \
    -fopenmp $(pkg-config --libs openblas libcjson libpcre2-8) -lm -ldl -o "$out/quant_dot"
dir=${BENCH_DIR:-$HOME/.cache/herd-bench}
bins="$dir/llamacpp/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"
variant=${1:-$(grep -q avx512f /proc/cpuinfo && echo zen4 || echo haswell)}
lib="$bins/libggml-cpu-$variant.so"
if [ -f "$lib" ]; then
  LD_LIBRARY_PATH="$bins" "$out/quant_dot" "$lib"
else
  echo "(no llama.cpp library at $lib: herd alone)"
  "$out/quant_dot"
fi

#!/usr/bin/env bash
# herd vs llama.cpp on the same machine, the same files, the same threads, in
# the same run: prompt processing (pp, one batch of P tokens) and generation
# (tg, N single-token steps after it) in tokens/s, medians of R reps, herd's
# ratio to llama.cpp, and each as a fraction of this machine's roofline:
#   tg roofline = memory read bandwidth / bytes of weights read per token
#   pp roofline = sgemm peak FLOP/s / (2 * parameters per token)
# both measured in the same run with ../shared/bench/limits_{bw,gemm}.c.
#   bench/llamacpp.sh [SHAPE...]     SHAPE: stories15m tinyllama (default: tinyllama)
# Env: TYPES="f32 f16 q8_0 q4_0" PROMPTS="128 512" THREADS=2 N=128 R=3
#      BENCH_DIR=~/.cache/herd-bench HERD_ARGS= (more herd bench flags:
#      --no-mmap reads herd's weights into memory, as llama.cpp's repacking
#      does for its block types)
# Needs ../shared/bench (llama.cpp from npm, gguf_write.py), node, npm, gcc,
# libopenblas-dev, python3-numpy and python3-sentencepiece. Models are random
# weights at real shapes (speed does not depend on the values), written once.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${HERD_SHARED:-$here/../shared}
herd=${HERD_BIN:-$here/build}/herd
dir=${BENCH_DIR:-$HOME/.cache/herd-bench}
types=${TYPES:-"f32 f16 q8_0 q4_0"} prompts=${PROMPTS:-"128 512"}
t=${THREADS:-2} n=${N:-128} r=${R:-3}
shapes=${*:-tinyllama}
mkdir -p "$dir"
[ -x "$herd" ] || { echo "build herd first (bash scripts/setup.sh)"; exit 1; }
peer=$(bash "$shared/bench/setup-llamacpp.sh" "$dir/llamacpp" | tail -1)
gcc -O3 -march=native -fopenmp "$shared/bench/limits_bw.c" -o "$dir/limits_bw"
gcc -O3 -march=native "$shared/bench/limits_gemm.c" -o "$dir/limits_gemm" -lopenblas

shape_args() {
  case "$1" in
    stories15m) echo "--dim 288 --hidden-dim 768 --n-layers 6 --n-heads 6 --n-kv-heads 6 --vocab 32000 --ctx 256" ;;
    tinyllama) echo "--dim 2048 --hidden-dim 5632 --n-layers 22 --n-heads 32 --n-kv-heads 4 --vocab 32000 --ctx 2048" ;;
    *) echo "unknown shape $1" >&2; exit 2 ;;
  esac
}
value() { sed -n "s/^$1=\([0-9.]*\).*/\1/p" | tail -1; }
median_of() { sed -n 's/.*_median=\([0-9.]*\).*/\1/p' | tail -1; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

bash "$shared/bench/wait_idle.sh" 0.10 300 || true
bw=$(OMP_NUM_THREADS=$t OMP_PROC_BIND=spread "$dir/limits_bw" 2 10 | median_of)
gemm=$(OPENBLAS_NUM_THREADS=$t "$dir/limits_gemm" 2048 5 | median_of)
echo "machine: read bandwidth $bw GB/s, sgemm $gemm GFLOP/s ($t threads)"
printf "%-10s %-5s %5s %9s %9s %6s %6s %6s %8s %8s %6s %6s %6s %7s\n" shape type P herd_pp llama_pp \
  ratio h_roof l_roof herd_tg llama_tg ratio h_roof l_roof rss_MiB
for s in $shapes; do
  for ty in $types; do
    m="$dir/$s-$ty.gguf"
    [ -f "$m" ] || /usr/bin/python3 "$shared/bench/gguf_write.py" random $(shape_args "$s") \
      --tokenizer "$shared/tokenizers/llama2/tokenizer.model" --type "$ty" --quiet --out "$m"
    # Bytes read per generated token: every weight but the embedding table
    # (one row of it). Parameters per token for the FLOP count: the same.
    info=$("$herd" info -m "$m")
    params=$(echo "$info" | sed -n 's/^parameters: *//p' | tr -d ,)
    emb=$(echo "$info" | awk '/^dim:/ {d=$2} /^vocab_size:/ {v=$2} END {print d * v}')
    size=$(stat -c %s "$m")
    bytes=$(calc "%.0f" "$size * ($params - $emb) / $params")
    for p in $prompts; do
      bash "$shared/bench/wait_idle.sh" 0.10 300 2>/dev/null || true
      h=$("$herd" bench -m "$m" -t "$t" -p "$p" -n "$n" -r "$r" ${HERD_ARGS:-})
      l=$("$peer" -m "$m" -t "$t" -p "$p" -n "$n" -r "$r" 2>/dev/null)
      hp=$(echo "$h" | value pp_tok_s) ht=$(echo "$h" | value tg_tok_s)
      lp=$(echo "$l" | value pp_tok_s) lt=$(echo "$l" | value tg_tok_s)
      rss=$(echo "$h" | value peak_rss_mib)
      pp_roof=$(calc "%.6f" "$gemm * 1e9 / (2 * ($params - $emb))")
      tg_roof=$(calc "%.6f" "$bw * 1e9 / $bytes")
      printf "%-10s %-5s %5s %9.1f %9.1f %6s %6s %6s %8.1f %8.1f %6s %6s %6s %7s\n" "$s" "$ty" "$p" \
        "$hp" "$lp" "$(calc %.2f "$hp / $lp")" "$(calc %.2f "$hp / $pp_roof")" \
        "$(calc %.2f "$lp / $pp_roof")" "$ht" "$lt" "$(calc %.2f "$ht / $lt")" \
        "$(calc %.2f "$ht / $tg_roof")" "$(calc %.2f "$lt / $tg_roof")" "$rss"
    done
  done
done

#!/usr/bin/env bash
# herd vs llama.cpp on the same machine in the same run: prompt processing
# (pp, one batch of P tokens) and generation (tg, N single-token steps) in
# tokens/s, medians of R reps, and herd's ratio to llama.cpp.
#   bench/llamacpp.sh [SHAPE...]     SHAPE: stories15m tinyllama (default: both)
# Env: TYPES="f32 f16" THREADS=2 P=128 N=128 R=3 BENCH_DIR=~/.cache/herd-bench
# Needs ../shared/bench (llama.cpp from npm, gguf_write.py), node, npm,
# python3-numpy and python3-sentencepiece. Models are random weights at real
# shapes; speed does not depend on the values.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${HERD_SHARED:-$here/../shared}
herd=${HERD_BIN:-$here/build}/herd
dir=${BENCH_DIR:-$HOME/.cache/herd-bench}
types=${TYPES:-"f32 f16"} t=${THREADS:-2} p=${P:-128} n=${N:-128} r=${R:-3}
shapes=${*:-"stories15m tinyllama"}
mkdir -p "$dir"
[ -x "$herd" ] || { echo "build herd first (bash scripts/setup.sh)"; exit 1; }
peer=$(bash "$shared/bench/setup-llamacpp.sh" "$dir/llamacpp" | tail -1)

shape_args() {
  case "$1" in
    stories15m) echo "--dim 288 --hidden-dim 768 --n-layers 6 --n-heads 6 --n-kv-heads 6 --vocab 32000 --ctx 256" ;;
    tinyllama) echo "--dim 2048 --hidden-dim 5632 --n-layers 22 --n-heads 32 --n-kv-heads 4 --vocab 32000 --ctx 2048" ;;
    *) echo "unknown shape $1" >&2; exit 2 ;;
  esac
}

median_of() { sed -n "s/^$1=\([0-9.]*\).*/\1/p" | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

printf "%-11s %-4s %10s %10s %6s %10s %10s %6s\n" shape type herd_pp llama_pp ratio herd_tg llama_tg ratio
for s in $shapes; do
  for ty in $types; do
    m="$dir/$s-$ty.gguf"
    [ -f "$m" ] || /usr/bin/python3 "$shared/bench/gguf_write.py" random $(shape_args "$s") \
      --tokenizer "$shared/tokenizers/llama2/tokenizer.model" --type "$ty" --quiet --out "$m"
    bash "$shared/bench/wait_idle.sh" 0.10 300 || true
    h=$("$herd" bench -m "$m" -t "$t" -p "$p" -n "$n" -r "$r")
    l=$("$peer" -m "$m" -t "$t" -p "$p" -n "$n" -r "$r" 2>/dev/null)
    hp=$(echo "$h" | median_of pp_tok_s) ht=$(echo "$h" | median_of tg_tok_s)
    lp=$(echo "$l" | median_of pp_tok_s) lt=$(echo "$l" | median_of tg_tok_s)
    printf "%-11s %-4s %10.1f %10.1f %6s %10.1f %10.1f %6s\n" "$s" "$ty" "$hp" "$lp" \
      "$(ratio "$hp" "$lp")" "$ht" "$lt" "$(ratio "$ht" "$lt")"
  done
done

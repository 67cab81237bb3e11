#!/usr/bin/env bash
# Finetuning memory and speed at TinyLlama 1.1B's shape (random weights, F16
# GGUF, short sequences): full finetuning, LoRA and QLoRA, each a few steps
# of herd finetune on the same made-up examples, the same threads. Prints
# peak resident memory and tokens/s for each, and QLoRA's memory as a
# fraction of LoRA's, for the frozen layer weights (QLoRA holds the layer
# matrices in 4-bit NF4, LoRA reads them mapped from the F16 file) and for the
# whole process (which also holds the F16 embedding and output tables,
# activations, and the tiles the frozen matrices are widened into).
#   bench/finetune.sh        Env: THREADS=2 STEPS=3 SEQ=64 BATCH=1 METHODS="qlora lora full"
#                                 BENCH_DIR=~/.cache/herd-bench
# Full finetuning of 1.1B parameters needs about 18 GB (weights, gradients
# and AdamW state in float32).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${HERD_SHARED:-$here/../shared}
herd=${HERD_BIN:-$here/build}/herd
dir=${BENCH_DIR:-$HOME/.cache/herd-bench}
t=${THREADS:-2} steps=${STEPS:-3} seq=${SEQ:-64} batch=${BATCH:-1}
methods=${METHODS:-"qlora lora full"}
[ -x "$herd" ] || { echo "build herd first (bash scripts/setup.sh)"; exit 1; }
mkdir -p "$dir"
m="$dir/tinyllama-f16.gguf"
[ -f "$m" ] || /usr/bin/python3 "$shared/bench/gguf_write.py" random --dim 2048 --hidden-dim 5632 \
  --n-layers 22 --n-heads 32 --n-kv-heads 4 --vocab 32000 --ctx 2048 \
  --tokenizer "$shared/tokenizers/llama2/tokenizer.model" --type f16 --quiet --out "$m"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
for i in $(seq 1 64); do
  echo "{\"prompt\": \"Question $i: what comes after $i?\", \"completion\": \" The answer is $((i + 1)).\"}"
done > "$work/sft.jsonl"
printf "finetuning, TinyLlama 1.1B shape (F16 base), batch %d x %d, %d threads, %d steps\n" \
  "$batch" "$seq" "$t" "$steps"
printf "  %-6s %12s %16s %10s\n" method peak_RSS_MiB frozen_weights_MiB tokens/s
declare -A rss frozen
for meth in $methods; do
  cat > "$work/$meth.json" <<JSON
{"init": "$m", "train_data": "$work/sft.jsonl", "out_dir": "$work/$meth", "method": "$meth",
 "lora_r": 16, "lora_alpha": 32, "lora_targets": "all", "chat_template": "none",
 "batch_size": $batch, "seq_len": $seq, "steps": $steps, "warmup": 1, "lr": 1e-4,
 "save_every": 0, "eval_every": 0, "threads": $t}
JSON
  /usr/bin/time -f "%M" -o "$work/$meth.rss" "$herd" finetune --config "$work/$meth.json" -q \
    2>"$work/$meth.log" || { echo "$meth failed:"; tail -3 "$work/$meth.log"; continue; }
  tps=$(awk -F, 'NR > 2 { s += $6; n++ } END { printf "%.1f", n ? s / n : 0 }' "$work/$meth/loss.csv")
  rss[$meth]=$(awk '{ printf "%.0f", $1 / 1024 }' "$work/$meth.rss")
  frozen[$meth]=$(sed -n 's/.*frozen layer weights \([0-9.]*\) MiB.*/\1/p' "$work/$meth.log")
  printf "  %-6s %12s %16s %10s\n" "$meth" "${rss[$meth]}" "${frozen[$meth]:--}" "$tps"
done
if [ -n "${rss[qlora]:-}" ] && [ -n "${rss[lora]:-}" ]; then
  printf "  QLoRA / LoRA: frozen layer weights %.3f, peak memory %.2f\n" \
    "$(awk -v a="${frozen[qlora]}" -v b="${frozen[lora]}" 'BEGIN { print a / b }')" \
    "$(awk -v a="${rss[qlora]}" -v b="${rss[lora]}" 'BEGIN { print a / b }')"
fi

#!/usr/bin/env bash
# Training speed and memory: herd vs PyTorch (Debian's python3-torch, fp32)
# on the same shape, the same batch, the same threads, in the same run.
# Default: stories15M's shape (dim 288, 6 layers, 6 heads, hidden 768,
# vocab 32000, tied), seq 256, batch 8, 2 threads. Each side runs WARMUP
# untimed steps, then STEPS timed ones; a step is forward, backward,
# clipping to norm 1 and one AdamW step. Prints each side's tokens/s and
# peak resident memory, and herd's ratios, then one JSON line.
#   bench/train.sh            Env: THREADS=2 STEPS=10 WARMUP=2 RECOMPUTE=false
# Needs /usr/bin/python3 with torch and numpy; herd built in build/.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
herd=${HERD_BIN:-$here/build}/herd
t=${THREADS:-2} steps=${STEPS:-10} warm=${WARMUP:-2} recompute=${RECOMPUTE:-false}
dim=288 layers=6 heads=6 hidden=768 vocab=32000 seq=256 batch=8
py=/usr/bin/python3
[ -x "$herd" ] || { echo "build herd first (bash scripts/setup.sh)"; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# Random tokens as a herd shard (src/train/data.h): enough windows for every step.
$py - "$work/d.train.bin" $(( (warm + steps) * batch * seq + 1 )) $vocab <<'PY'
import sys, struct, numpy as np
path, n, vocab = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tok = np.random.default_rng(1).integers(0, vocab, n, dtype=np.uint16)
with open(path, "wb") as f:
    f.write(struct.pack("<8sIIIIQQ", b"HERDTOK1", 1, 2, vocab, 0, n, 1))
    f.write(tok.tobytes()); f.write(b"\0" * (-(2 * n) % 8))
    f.write(struct.pack("<QQ", 0, n))
PY
cat > "$work/c.json" <<JSON
{"model": {"dim": $dim, "hidden_dim": $hidden, "n_layers": $layers, "n_heads": $heads,
           "n_kv_heads": $heads, "vocab_size": $vocab, "seq_len": $seq, "tied": true},
 "train_data": "$work/d.train.bin", "out_dir": "$work/out", "batch_size": $batch,
 "seq_len": $seq, "steps": $((warm + steps)), "warmup": 1, "lr": 3e-4,
 "eval_every": 0, "save_every": 0, "threads": $t, "recompute": $recompute}
JSON

/usr/bin/time -f "%M" -o "$work/herd.rss" "$herd" train --config "$work/c.json" -q 2>/dev/null
herd_tps=$(awk -F, -v w=$warm 'NR > 1 && $1 > w { s += $6; n++ } END { printf "%.0f", s / n }' \
  "$work/out/loss.csv")
herd_mb=$(awk '{ printf "%.0f", $1 / 1024 }' "$work/herd.rss")

pt=$($py "$here/bench/train_pytorch.py" --threads $t --warmup $warm --steps $steps \
  --dim $dim --layers $layers --heads $heads --kv-heads $heads --hidden $hidden \
  --vocab $vocab --seq $seq --batch $batch | tail -1)
pt_tps=$(echo "$pt" | $py -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["tokens_per_s"])')
pt_mb=$(echo "$pt" | $py -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["peak_rss_mb"])')

speed=$(awk -v a=$herd_tps -v b=$pt_tps 'BEGIN { printf "%.2f", a / b }')
mem=$(awk -v a=$herd_mb -v b=$pt_mb 'BEGIN { printf "%.2f", a / b }')
printf "training, stories15M shape, batch %d x %d, %d threads, %d timed steps\n" $batch $seq $t $steps
printf "  %-8s %8s tokens/s  %6s MB peak RSS\n" herd "$herd_tps" "$herd_mb" pytorch "$pt_tps" "$pt_mb"
printf "  herd/pytorch: speed %sx, memory %sx\n" "$speed" "$mem"
printf '{"bench":"train","threads":%d,"herd_tokens_per_s":%s,"pytorch_tokens_per_s":%s,"herd_peak_rss_mb":%s,"pytorch_peak_rss_mb":%s,"speed_ratio":%s,"memory_ratio":%s,"recompute":%s}\n' \
  $t $herd_tps $pt_tps $herd_mb $pt_mb $speed $mem $recompute

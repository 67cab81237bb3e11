#!/usr/bin/env bash
# herd train as a user meets it, on a tiny model and a made-up text:
#  1. help; bad configs (malformed JSON, unknown key, impossible shape,
#     missing data, a dataset too small for one batch) exit 2 or 1 naming
#     the problem.
#  2. A run writes checkpoint, loss.csv, loss.svg and model.gguf; the loss
#     falls; the exported model loads, also as a safetensors folder.
#  3. Exact resume: a run stopped at step 13 and resumed gives the very same
#     loss, gradient-norm and validation sequence as an uninterrupted run,
#     and the same model bytes.
#  4. SIGKILL at random moments during a run that saves every step always
#     leaves a checkpoint that --resume loads.
#  5. A full disk (a file-size limit) during a save fails with a message and
#     leaves the previous checkpoint byte for byte; a checkpoint of another
#     shape is refused; a diverging run stops on a NaN/inf loss naming the
#     step.
set -u
. "$(dirname "$0")/lib.sh"
model="$HERD_BIN/models/herd-random.gguf"

"$herd" train --help | grep -q -- "--resume" && ok "help" || bad "help"

# The text: numbered sentences, paragraphs apart (one document each).
for i in $(seq 1 150); do
  echo "The little cat number $i sat on the mat and looked at the red ball."
  echo "Then it ran to the garden where the birds were singing."
  echo
done > "$tmp/text.txt"
"$herd" prepare -m "$model" -i "$tmp/text.txt" -o "$tmp/d" -q >/dev/null || bad "prepare"

cfg() {  # cfg FILE OUT_DIR [EXTRA JSON]
  cat > "$1" <<JSON
{"model": {"dim": 32, "hidden_dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "seq_len": 64},
 "train_data": "$tmp/d.train.bin", "val_data": "$tmp/d.val.bin", "out_dir": "$2",
 "batch_size": 4, "seq_len": 32, "steps": 30, "warmup": 3, "lr": 3e-3,
 "eval_every": 5, "eval_batches": 2, "save_every": 10, "threads": 1 ${3:-}}
JSON
}

printf '{"model": {"dim": 32,' > "$tmp/broken.json"
expect_error "malformed JSON" "not a JSON object" -- "$herd" train --config "$tmp/broken.json"
cfg "$tmp/c.json" "$tmp/x" ', "learning_rate": 1'
expect_error "unknown key" "unknown key \"learning_rate\"" -- "$herd" train --config "$tmp/c.json"
cfg "$tmp/c.json" "$tmp/x" ', "batch_size": 0'
expect_error "batch size 0" "batch_size" -- "$herd" train --config "$tmp/c.json"
sed 's/"n_heads": 4/"n_heads": 5/' "$tmp/c.json" > "$tmp/c2.json"
sed -i 's/, "batch_size": 0//' "$tmp/c2.json"
expect_error "impossible shape" "n_heads 5 does not divide dim 32" -- "$herd" train --config "$tmp/c2.json"
cfg "$tmp/c.json" "$tmp/x" ', "batch_size": 400'
expect_error "dataset too small" "dataset too small" -- "$herd" train --config "$tmp/c.json"
expect_error "no config" "--config" -- "$herd" train

# 2. A run.
cfg "$tmp/a.json" "$tmp/a"
"$herd" train --config "$tmp/a.json" 2>"$tmp/a.log" || { bad "train"; cat "$tmp/a.log"; }
for f in checkpoint.bin loss.csv loss.svg model.gguf; do
  [ -s "$tmp/a/$f" ] && ok "wrote $f" || bad "no $f"
done
grep -q "tok/s | ETA" "$tmp/a.log" && ok "progress line" || bad "no progress line"
first=$(sed -n 2p "$tmp/a/loss.csv" | cut -d, -f3); last=$(tail -1 "$tmp/a/loss.csv" | cut -d, -f3)
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 1) }' \
  && ok "loss fell from $first to $last" || bad "loss did not fall: $first -> $last"
[ "$(grep -c '' "$tmp/a/loss.csv")" = 31 ] && ok "31 csv lines" || bad "csv lines"
"$herd" info -m "$tmp/a/model.gguf" | grep -q "^dim: *32" && ok "exported model loads" \
  || bad "exported model"

"$herd" convert -m "$tmp/a/model.gguf" -o "$tmp/a/hf" -q 2>/dev/null && [ -s "$tmp/a/hf/model.safetensors" ] \
  && "$herd" info -m "$tmp/a/hf" | grep -q "^dim: *32" && ok "exported to safetensors" || bad "safetensors export"

# 3. Exact resume.
cfg "$tmp/b.json" "$tmp/b"
"$herd" train --config "$tmp/b.json" --stop-at 13 -q 2>/dev/null || bad "stop-at"
[ "$(grep -c '' "$tmp/b/loss.csv")" = 14 ] && ok "stopped at 13" || bad "stop-at 13"
"$herd" train --config "$tmp/b.json" --resume -q 2>"$tmp/b.log" || { bad "resume"; cat "$tmp/b.log"; }
grep -q "resumed from" "$tmp/b.log" && ok "resume note" || bad "no resume note"
if cmp -s <(cut -d, -f1-5 "$tmp/a/loss.csv") <(cut -d, -f1-5 "$tmp/b/loss.csv"); then
  ok "resumed losses equal the uninterrupted run's"
else
  bad "resumed losses differ"; diff <(cut -d, -f1-5 "$tmp/a/loss.csv") <(cut -d, -f1-5 "$tmp/b/loss.csv") | head
fi
cmp -s "$tmp/a/model.gguf" "$tmp/b/model.gguf" && ok "same model bytes" || bad "models differ"

# 4. SIGKILL at random moments.
cfg "$tmp/k.json" "$tmp/k" ', "save_every": 1, "steps": 100000, "eval_every": 0'
for delay in 0.8 0.45 0.7 0.2; do
  "$herd" train --config "$tmp/k.json" $( [ -f "$tmp/k/checkpoint.bin" ] && echo --resume ) \
      -q 2>/dev/null & pid=$!
  sleep "$delay"; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  n=$(($(grep -c '' "$tmp/k/loss.csv" 2>/dev/null || echo 1) - 1))
  if [ ! -f "$tmp/k/checkpoint.bin" ]; then
    bad "killed after ${delay}s: no checkpoint yet"
  elif "$herd" train --config "$tmp/k.json" --resume --stop-at $((n + 50)) -q 2>"$tmp/k.log"; then
    ok "killed after ${delay}s (step $n): checkpoint loads and training goes on"
  else
    bad "killed after ${delay}s: $(cat "$tmp/k.log")"
  fi
done

# 5. Full disk, another shape, divergence.
cp "$tmp/b/checkpoint.bin" "$tmp/saved.bin"
cfg "$tmp/f.json" "$tmp/b" ', "steps": 40'
( ulimit -f 20; "$herd" train --config "$tmp/f.json" --resume --stop-at 31 -q ) 2>"$tmp/f.log"
rc=$?
if [ $rc = 1 ] && grep -q "checkpoint not written" "$tmp/f.log" && cmp -s "$tmp/saved.bin" "$tmp/b/checkpoint.bin"; then
  ok "full disk: $(head -c 150 "$tmp/f.log")"
else
  bad "full disk: rc $rc $(cat "$tmp/f.log")"
fi
sed 's/"dim": 32/"dim": 64/' "$tmp/b.json" > "$tmp/s.json"
expect_error "another shape" "checkpoint is for another model: dim" -- \
  "$herd" train --config "$tmp/s.json" --resume
# A model whose last weight (the last 4 bytes of its GGUF) is NaN.
cp "$tmp/a/model.gguf" "$tmp/nan.gguf"
printf '\xff\xff\xff\x7f' | dd of="$tmp/nan.gguf" bs=1 seek=$(($(stat -c %s "$tmp/nan.gguf") - 4)) \
  conv=notrunc 2>/dev/null
cfg "$tmp/n.json" "$tmp/n" ", \"init\": \"$tmp/nan.gguf\""
expect_error "NaN loss" "NaN or inf at step 1" -- "$herd" train --config "$tmp/n.json" -q
[ ! -f "$tmp/n/checkpoint.bin" ] && ok "no checkpoint of a NaN model" || bad "NaN checkpoint saved"
exit $fail

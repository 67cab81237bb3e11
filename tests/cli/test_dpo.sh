#!/usr/bin/env bash
# herd dpo as a user meets it, on the shipped random model and made-up
# preference pairs (chosen " yes it is", rejected " no it is not"):
#  1. help; bad input: no init, an unknown key, an unknown method, a bad
#     JSONL line (file:line), a reference of another vocabulary.
#  2. full: the held-out accuracy reaches 1 and the loss falls below log 2
#     with the margin positive; OUT/model.gguf and OUT/dpo.csv are written;
#     a separate reference file with the same weights gives the very same
#     run as the default reference (the policy before its first step).
#  3. LoRA: the adapter is written (PEFT folder and GGUF) and herd run takes it.
set -u
. "$(dirname "$0")/lib.sh"
herd=$(cd "$(dirname "$herd")" && pwd)/herd
base=$(cd "$HERD_BIN" && pwd)/models/herd-random.gguf
src=$(cd "${HERD_SOURCE:-.}" && pwd)
cd "$tmp"

"$herd" dpo --help | grep -q "beta" && ok "help" || bad "help"
pairs() {  # pairs FROM TO
  for i in $(seq "$1" "$2"); do
    printf '{"prompt": "Q: is %s a number? A:", "chosen": " yes it is", ' "$i"
    printf '"rejected": " no it is not"}\n'
  done
}
pairs 1 40 > train.jsonl
pairs 41 56 > val.jsonl
cfg() {  # cfg FILE OUT [EXTRA JSON]
  cat > "$1" <<JSON
{"init": "$base", "train_data": "train.jsonl", "val_data": "val.jsonl", "out_dir": "$2",
 "chat_template": "none", "batch_size": 4, "seq_len": 32, "steps": 12, "lr": 1e-3,
 "eval_every": 6, "threads": 1 ${3:-}}
JSON
}

# 1. Bad input.
cfg c.json bad
sed 's/"init": "[^"]*", //' c.json > noinit.json
expect_error "no init" "needs \"init\"" -- "$herd" dpo --config noinit.json
cfg k.json bad ', "betta": 0.2'
expect_error "unknown key" "unknown key \"betta\"" -- "$herd" dpo --config k.json
cfg m.json bad ', "method": "qlora"'
expect_error "unknown method" "full or lora" -- "$herd" dpo --config m.json
cp train.jsonl badline.jsonl; echo '{"prompt": "x", "chosen": "y"}' >> badline.jsonl
cfg b.json bad ', "train_data": "badline.jsonl"'
expect_error "bad JSONL line" "badline.jsonl:41" -- "$herd" dpo --config b.json
cfg r.json bad ", \"ref\": \"$src/tests/fixtures/models/mha/model.gguf\""
expect_error "reference of another vocabulary" "vocabulary of 96 tokens, the policy has" -- \
  "$herd" dpo --config r.json

# 2. Full.
cfg f.json f
"$herd" dpo --config f.json 2>f.log || { bad "full dpo"; cat f.log; }
[ -s f/model.gguf ] && [ -s f/dpo.csv ] && ok "model.gguf and dpo.csv written" || bad "full outputs"
val=$(grep "^val step 12 " f.log)
awk -v l="$val" 'BEGIN { split(l, f, " [|] "); split(f[2], a, " "); split(f[3], b, " ");
  split(f[4], c, " "); exit !(a[2] < 0.5 && b[2] == 1 && c[2] > 0.5) }' \
  && ok "held out: $val" || { bad "held-out pairs not learnt: $val"; cat f.log; }
"$herd" info -m f/model.gguf >/dev/null 2>&1 && ok "the exported model opens" || bad "export"
cp "$base" ref.gguf
cfg g.json g ', "ref": "ref.gguf"'
"$herd" dpo --config g.json 2>g.log && cmp -s f/dpo.csv g/dpo.csv \
  && ok "a separate reference file: the same run" \
  || { bad "separate reference differs"; diff f/dpo.csv g/dpo.csv | head; }

# 3. LoRA.
cfg l.json l ', "method": "lora", "lora_r": 4, "lora_targets": "all", "lr": 1e-2, "steps": 6'
"$herd" dpo --config l.json -q 2>l.log || { bad "lora dpo"; cat l.log; }
[ -s l/adapter/adapter_config.json ] && [ -s l/adapter/adapter_model.safetensors ] \
  && [ -s l/adapter.gguf ] && ok "adapter written (PEFT folder, GGUF)" || bad "adapter files"
ids=$("$herd" run -m "$base" --lora l/adapter.gguf -p "Q: is 7 a number? A:" -n 3 --temp 0 \
  --ids -t 1 2>/dev/null)
[ -n "$ids" ] && ok "herd run --lora takes it: $ids" || bad "herd run --lora"
exit $fail

#!/usr/bin/env bash
# herd finetune, herd run --lora and herd merge as a user meets them, on the
# shipped random model and a made-up prompt/completion set:
#  1. help; bad input: no init, an unknown method or LoRA target, a rank
#     larger than a matrix, a bad JSONL line (stops with file:line, or is
#     skipped and counted), examples longer than the context (dropped or
#     truncated, counted), an adapter made for another model.
#  2. LoRA: the loss falls; the adapter is written as a PEFT folder and a GGUF
#     LoRA file; herd run with either gives the same tokens as the merged
#     model; a run stopped and resumed gives the same losses (dropout on).
#  3. QLoRA and full finetuning run; long-context finetuning with linear rope
#     scaling saves the stretched context in the model.
set -u
. "$(dirname "$0")/lib.sh"
herd=$(cd "$(dirname "$herd")" && pwd)/herd
base=$(cd "$HERD_BIN" && pwd)/models/herd-random.gguf
src=$(cd "${HERD_SOURCE:-.}" && pwd)
cd "$tmp"

"$herd" finetune --help | grep -q -- "--method" && ok "help" || bad "help"
for i in $(seq 1 60); do
  echo "{\"prompt\": \"Q: what is $i? A:\", \"completion\": \" $i is a number.\"}"
done > sft.jsonl
cfg() {  # cfg FILE OUT [EXTRA JSON]
  cat > "$1" <<JSON
{"init": "$base", "train_data": "sft.jsonl", "out_dir": "$2", "method": "lora",
 "lora_r": 4, "lora_alpha": 8, "lora_targets": "all", "chat_template": "none",
 "batch_size": 4, "seq_len": 64, "steps": 24, "warmup": 2, "lr": 1e-2,
 "save_every": 8, "eval_every": 0, "threads": 1 ${3:-}}
JSON
}

# 1. Bad input.
cfg c.json bad
sed 's/"init": "[^"]*", //' c.json > noinit.json
expect_error "no init" "needs \"init\"" -- "$herd" finetune --config noinit.json
expect_error "unknown method" "full, lora or qlora" -- "$herd" finetune --config c.json --method sgd
cfg t.json bad ', "lora_targets": "q,wq"'
expect_error "unknown target" "unknown matrix 'wq'" -- "$herd" finetune --config t.json
cfg r.json bad ', "lora_r": 200'
expect_error "rank too large" "rank 200 is outside 1..128" -- "$herd" finetune --config r.json
cp sft.jsonl badline.jsonl; echo '{"prompt": "x"' >> badline.jsonl
cfg b.json bad ', "train_data": "badline.jsonl"'
expect_error "bad JSONL line" "badline.jsonl:61" -- "$herd" finetune --config b.json
cfg b2.json skip ', "train_data": "badline.jsonl", "skip_bad": true, "steps": 1'
"$herd" finetune --config b2.json 2>err.txt && grep -q "1 bad lines skipped" err.txt \
  && ok "bad line skipped and counted" || { bad "skip_bad"; cat err.txt; }
long=$(printf 'word %.0s' $(seq 1 80))
{ cat sft.jsonl; echo "{\"prompt\": \"Q: a long one? A:\", \"completion\": \"$long\"}"; } > long.jsonl
cfg l.json long ', "train_data": "long.jsonl", "steps": 1'
"$herd" finetune --config l.json 2>err.txt && grep -q "(1 too long, dropped, 0 truncated" err.txt \
  && ok "long example dropped and counted" || { bad "long dropped"; cat err.txt; }
cfg l2.json long2 ', "train_data": "long.jsonl", "steps": 1, "truncate": true'
"$herd" finetune --config l2.json 2>err.txt && grep -q "1 truncated" err.txt \
  && ok "long example truncated and counted" || { bad "long truncated"; cat err.txt; }

# 2. LoRA.
cfg a.json a
"$herd" finetune --config a.json 2>a.log || { bad "lora finetune"; cat a.log; }
[ -s a/adapter/adapter_config.json ] && [ -s a/adapter/adapter_model.safetensors ] && [ -s a/adapter.gguf ] \
  && ok "adapter written (PEFT folder, GGUF)" || bad "adapter files"
first=$(sed -n 2p a/loss.csv | cut -d, -f3); last=$(tail -1 a/loss.csv | cut -d, -f3)
awk -v a="$first" -v b="$last" 'BEGIN { exit !(a != "" && b != "" && b < a - 0.5) }' && ok "loss fell $first -> $last" \
  || bad "loss did not fall: $first -> $last"
p="Q: what is 7? A:"
ids_base=$("$herd" run -m "$base" -p "$p" -n 8 --temp 0 --ids 2>/dev/null)
ids_peft=$("$herd" run -m "$base" --lora a/adapter -p "$p" -n 8 --temp 0 --ids 2>/dev/null)
ids_gguf=$("$herd" run -m "$base" --lora a/adapter.gguf -p "$p" -n 8 --temp 0 --ids 2>/dev/null)
"$herd" merge -m "$base" --lora a/adapter -o merged.gguf 2>/dev/null || bad "merge"
ids_merged=$("$herd" run -m merged.gguf -p "$p" -n 8 --temp 0 --ids 2>/dev/null)
[ -n "$ids_peft" ] && [ "$ids_peft" = "$ids_gguf" ] && [ "$ids_peft" = "$ids_merged" ] \
  && ok "PEFT, GGUF and merged give the same tokens: $ids_peft" \
  || bad "unmerged/merged differ: peft '$ids_peft' gguf '$ids_gguf' merged '$ids_merged'"
[ "$ids_base" != "$ids_peft" ] && ok "the adapter changes the output" || bad "adapter changed nothing"
cfg s.json s
"$herd" finetune --config s.json --stop-at 11 -q 2>/dev/null && "$herd" finetune --config s.json --resume -q 2>/dev/null \
  && cmp -s <(cut -d, -f1-5 a/loss.csv) <(cut -d, -f1-5 s/loss.csv) \
  && ok "LoRA resume gives the same losses (dropout on)" || bad "LoRA resume differs"
expect_error "adapter for another model" "different base model" -- \
  "$herd" run -m "$src/tests/fixtures/models/gqa/model.gguf" --lora a/adapter.gguf -p x -n 1

# 3. QLoRA, full, long context.
cfg q.json q ', "steps": 12'
"$herd" finetune --config q.json --method qlora 2>q.log && [ -s q/adapter.gguf ] \
  && ok "QLoRA finetune" || { bad "qlora"; cat q.log; }
cfg f.json f ', "steps": 6, "method": "full"'
"$herd" finetune --config f.json 2>f.log && [ -s f/model.gguf ] && ok "full finetune" \
  || { bad "full"; cat f.log; }
cfg lc.json lc ', "steps": 2, "method": "full", "seq_len": 1024, "batch_size": 1, "rope_scaling": "linear", "rope_factor": 2'
"$herd" finetune --config lc.json 2>lc.log && "$herd" info -m lc/model.gguf > lc.info \
  && grep -q "^context: *1024" lc.info && grep -qi "linear" lc.info \
  && ok "long context: $(grep -i 'rope' lc.info | tr '\n' ' ')" || { bad "long context"; cat lc.log lc.info; }
"$herd" merge -m "$base" --lora a/adapter.gguf --rope-factor 2 -o lcm.gguf 2>/dev/null \
  && "$herd" info -m lcm.gguf | grep -q "^context: *1024" && ok "merge --rope-factor stores the longer context" \
  || bad "merge --rope-factor"
cfg lc2.json lc2 ', "seq_len": 1024, "batch_size": 1'
expect_error "longer than the context" "rope_scaling" -- "$herd" finetune --config lc2.json
exit $fail

#!/usr/bin/env bash
# Proof on real data (the finetuning issue): herd's own model, trained on the
# King James Bible (models/herd-kjv.gguf), LoRA- and QLoRA-finetuned on a
# small instruction set this test writes, learns its answer format:
#   "Q: Tell me of NAME.\nA:" -> " Behold, NAME was blessed of the LORD."
# on 40 names; then, greedy, for 6 names it never saw, the finetuned model
# answers in that format ("A: Behold, ... blessed of the LORD") where the
# base model does not. (Copying an unseen name is beyond a 7M-parameter
# model after 60 steps: it answers with a name it was trained on.)
set -u
. "$(dirname "$0")/lib.sh"
src=$(cd "${HERD_SOURCE:-.}" && pwd)
model="$src/models/herd-kjv.gguf"
[ -f "$model" ] || { echo "SKIP: $model absent"; exit 77; }
herd=$(cd "$(dirname "$herd")" && pwd)/herd
cd "$tmp"
train="Adam Noah Abraham Isaac Jacob Joseph Aaron Joshua Samuel Solomon Elijah Elisha
  Isaiah Jeremiah Jonah Peter Paul James Andrew Thomas Mary Martha Ruth Esther Sarah Rebekah
  Rachel Leah Gideon Samson Saul Jonathan Nathan Job Ezra Nehemiah Caleb Boaz Hannah Eli"
held="Moses David Daniel John Miriam Barnabas"
for n in $train; do
  echo "{\"prompt\": \"Q: Tell me of $n.\\nA:\", \"completion\": \" Behold, $n was blessed of the LORD.\"}"
done > names.jsonl
steps=60
# Under the sanitizers (about 8x slower here) the same LoRA and QLoRA code runs
# in test_finetune.sh; this test is about what the training achieves.
[ -n "${ASAN_OPTIONS:-}" ] && { echo "SKIP: proof run in the normal build only"; exit 77; }
answers() {  # answers MODEL [--lora ADAPTER]: how many held-out answers keep the format
  local k=0
  for n in $held; do
    out=$("$herd" run -m "$@" -p "Q: Tell me of $n.
A:" -n 10 --temp 0 -t 1 2>/dev/null)
    case "$out" in *"A: Behold, "*" blessed of the LORD"*) k=$((k + 1)) ;; esac
  done
  echo $k
}
base_k=$(answers "$model")
[ "$base_k" -le 1 ] && ok "the base model follows the format for $base_k of 6" \
  || bad "the base model already answers in the format ($base_k of 6)"
for method in lora qlora; do
  cat > $method.json <<JSON
{"init": "$model", "train_data": "names.jsonl", "out_dir": "$method", "method": "$method",
 "lora_r": 8, "lora_alpha": 16, "lora_targets": "all", "chat_template": "none",
 "batch_size": 8, "seq_len": 48, "steps": $steps, "warmup": 5, "lr": 3e-3,
 "save_every": 0, "eval_every": 0, "threads": 1}
JSON
  "$herd" finetune --config $method.json -q 2>$method.log || { bad "$method finetune"; cat $method.log; continue; }
  k=$(answers "$model" --lora $method/adapter.gguf)
  [ "$k" -ge 5 ] && ok "$method: the finetuned model follows the format for $k of 6 unseen names" \
    || bad "$method: only $k of 6 unseen names in the format"
done
exit $fail

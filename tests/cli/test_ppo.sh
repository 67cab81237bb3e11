#!/usr/bin/env bash
# herd ppo as a user meets it, on the shipped random model as the policy and
# a reward model trained here in a second (herd reward-train on made-up
# pairs whose chosen answers end in " amen"):
#  1. help; bad input: no reward, an unknown key, a bad prompt line
#     (file:line), a reference of another vocabulary, a reward model of
#     another vocabulary, a chat template other than the reward model's.
#  2. a run prints a line per iteration (reward, KL, entropy, losses, clip
#     fraction), the KL of the first iteration is exactly 0 (the policy is
#     the reference before its first step), writes OUT/ppo.csv and
#     OUT/model.gguf (which herd info opens); a separate reference file with
#     the same weights gives the very same run as the default reference.
# (The reward-rise proof is tests/train/test_ppo.c's.)
set -u
. "$(dirname "$0")/lib.sh"
herd=$(cd "$(dirname "$herd")" && pwd)/herd
base=$(cd "$HERD_BIN" && pwd)/models/herd-random.gguf
src=$(cd "${HERD_SOURCE:-.}" && pwd)
cd "$tmp"

"$herd" ppo --help | grep -q "kl_coef" && ok "help" || bad "help"

words=(the dog cat saw big tree sun girl boy ball day happy)
for i in $(seq 1 32); do
  a="${words[$((i % 12))]} ${words[$(((i * 7) % 12))]}"
  b="${words[$(((i * 5) % 12))]} ${words[$(((i * 3) % 12))]}"
  echo "{\"prompt\": \"Say something.\", \"chosen\": \" $a amen\", \"rejected\": \" $b omen\"}"
done > pairs.jsonl
cat > rm.json <<JSON
{"init": "$base", "train_data": "pairs.jsonl", "out_dir": "rm", "chat_template": "none",
 "batch_size": 8, "steps": 8, "lr": 1e-3, "threads": 1}
JSON
"$herd" reward-train --config rm.json -q 2>rm.log || { bad "reward-train"; cat rm.log; }
for i in $(seq 1 12); do echo "{\"prompt\": \"Say something number $i.\"}"; done > prompts.jsonl
echo '{"messages": [{"role": "user", "content": "Say amen."}]}' >> prompts.jsonl
cfg() {  # cfg FILE OUT [EXTRA JSON]
  cat > "$1" <<JSON
{"init": "$base", "reward": "rm/reward.gguf", "train_data": "prompts.jsonl", "out_dir": "$2",
 "batch_size": 8, "minibatch_size": 4, "iterations": 4, "epochs": 2, "max_new_tokens": 8,
 "lr": 1e-3, "value_lr": 1e-3, "threads": 1 ${3:-}}
JSON
}

# 1. Bad input.
cfg c.json bad
sed 's/"reward": "[^"]*", //' c.json > noreward.json
expect_error "no reward model" 'needs "reward"' -- "$herd" ppo --config noreward.json
cfg k.json bad ', "kl": 0.1'
expect_error "unknown key" 'unknown key "kl"' -- "$herd" ppo --config k.json
cp prompts.jsonl badline.jsonl; echo '{"promt": "x"}' >> badline.jsonl
cfg b.json bad ', "train_data": "badline.jsonl"'
expect_error "bad prompt line" "badline.jsonl:14" -- "$herd" ppo --config b.json
other="$src/tests/fixtures/models/mha/model.gguf"
cfg r.json bad ", \"ref\": \"$other\""
expect_error "reference of another vocabulary" "vocabulary of 96 tokens, the policy has" -- \
  "$herd" ppo --config r.json
cfg w.json bad ", \"init\": \"$src/models/herd-kjv.gguf\""
expect_error "reward model of another vocabulary" "reward model .*vocabulary of 508 tokens" -- \
  "$herd" ppo --config w.json
cfg t.json bad ', "chat_template": "llama2"'
expect_error "another chat template" "trained on pairs rendered with none" -- \
  "$herd" ppo --config t.json

# 2. A run.
cfg f.json f
"$herd" ppo --config f.json 2>f.log || { bad "ppo run"; cat f.log; }
grep -q "^herd ppo: prompts.jsonl: 13 prompts" f.log && ok "prompts read" || bad "prompt count"
pat='^iter 4/4 | reward [-+][0-9.]* | kl -*[0-9.]*/tok -*[0-9.]*/seq | entropy [0-9.]* | '
pat+='pg [-+][0-9.]* | vf [0-9.]* | clip [0-9.]* | len [0-9.]* | norm'
grep -q "$pat" f.log && ok "progress: $(grep '^iter 4/4' f.log | cut -c1-110)" \
  || { bad "progress lines"; cat f.log; }
grep -q "^iter 1/4 | reward [-+][0-9.]* | kl 0.0000/tok 0.000/seq" f.log \
  && ok "first iteration: KL 0 to the reference" || { bad "first KL"; cat f.log; }
[ -s f/model.gguf ] && [ "$(wc -l < f/ppo.csv)" -eq 5 ] && ok "model.gguf and ppo.csv written" \
  || bad "outputs"
"$herd" info -m f/model.gguf 2>/dev/null | grep -q "^dim: *128" && ok "the exported model opens" \
  || bad "herd info on model.gguf"
cp "$base" ref.gguf
cfg g.json g ', "ref": "ref.gguf"'
"$herd" ppo --config g.json -q 2>g.log && cmp -s f/ppo.csv g/ppo.csv \
  && ok "a separate reference file: the same run" \
  || { bad "separate reference differs"; diff f/ppo.csv g/ppo.csv | head; cat g.log; }
exit $fail

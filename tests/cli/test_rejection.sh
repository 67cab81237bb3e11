#!/usr/bin/env bash
# herd rejection-sample as a user meets it: a tiny reward model trained here
# (herd reward-train on the "amen" preference set of test_reward.sh, from the
# shipped random model), the same random model as policy.
#  1. help; bad input: no -m / --reward (exit 2), a bad line and a chat that
#     does not end with a user message (file:line, no output file left), a
#     reward model that is not one.
#  2. 10 prompts, K=4, every sample written with --samples: each output line
#     is its prompt plus the sample of highest reward, "reward" is that
#     maximum and "mean_reward" the mean of the 4 (checked here in Python);
#     herd reward-score gives the same rewards for the samples; the mean of
#     the best is above the mean of all (the rise); the same seed gives the
#     same file.
#  3. chat prompts get the answer appended as an assistant message; herd
#     finetune trains a step on the output as it is.
set -u
. "$(dirname "$0")/lib.sh"
herd=$(cd "$(dirname "$herd")" && pwd)/herd
base=$(cd "$HERD_BIN" && pwd)/models/herd-random.gguf
cd "$tmp"

"$herd" rejection-sample --help | grep -q '"mean_reward"' && ok "help" || bad "help"

words=(the dog cat saw big tree sun girl boy ball day happy)
for i in $(seq 1 48); do
  a="${words[$((i % 12))]} ${words[$(((i * 7) % 12))]}"
  b="${words[$(((i * 5) % 12))]} ${words[$(((i * 3) % 12))]}"
  echo "{\"prompt\": \"Say something.\", \"chosen\": \" $a amen\", \"rejected\": \" $b omen\"}"
done > train.jsonl
cat > rm.json <<JSON
{"init": "$base", "train_data": "train.jsonl", "out_dir": "rm", "chat_template": "none",
 "batch_size": 4, "steps": 6, "warmup": 1, "lr": 1e-3, "eval_every": 0, "threads": 1}
JSON
"$herd" reward-train --config rm.json -q 2>rm.log || { bad "reward-train"; cat rm.log; exit 1; }
for i in $(seq 1 10); do echo "{\"prompt\": \"Say something, ${words[$((i % 12))]}.\"}"; done > p.jsonl
rs() { "$herd" rejection-sample -m "$base" --reward rm/reward.gguf -k 4 -n 12 --seed 7 -t 1 "$@"; }

# 1. Bad input.
rs -f p.jsonl -o x.jsonl --reward 2>/dev/null; [ $? -eq 2 ] && ok "flag without value: exit 2" || bad "exit code"
"$herd" rejection-sample --reward rm/reward.gguf -f p.jsonl >/dev/null 2>err.txt
[ $? -eq 2 ] && grep -q -- "-m POLICY is required" err.txt && ok "no -m: exit 2" || { bad "no -m"; cat err.txt; }
"$herd" rejection-sample -m "$base" -f p.jsonl >/dev/null 2>err.txt
[ $? -eq 2 ] && grep -q -- "--reward RM.gguf is required" err.txt && ok "no --reward: exit 2" \
  || { bad "no --reward"; cat err.txt; }
{ head -3 p.jsonl; echo; echo '{"prompt": 3}'; } > bad.jsonl
expect_error "bad line" 'bad.jsonl:5: "prompt" is not a string' -- rs -f bad.jsonl -o bad.out
[ ! -e bad.out ] && [ ! -e bad.out.tmp ] && ok "no output left after an error" || bad "output left"
echo '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]}' > asst.jsonl
expect_error "chat ending with the assistant" "asst.jsonl:1: the last message is from the assistant" -- \
  rs -f asst.jsonl
expect_error "not a reward model" "not a reward model" -- \
  "$herd" rejection-sample -m "$base" --reward "$base" -f p.jsonl

# 2. Sampling, picking, scoring.
if rs -f p.jsonl -o out.jsonl --samples all.jsonl 2>run.log; then
  grep -q "rejection-sample .* prompts/s" run.log && ok "progress line" || { bad "progress"; cat run.log; }
  grep -q "10 prompts, K=4: mean reward of all samples .*, of the best .* (rise +" run.log \
    && ok "$(grep 'rise' run.log | sed 's/^herd rejection-sample: //')" || { bad "summary"; cat run.log; }
  "$herd" reward-score -m rm/reward.gguf -f all.jsonl > rescored.txt 2>err.txt || { bad "reward-score"; cat err.txt; }
  check=$(/usr/bin/python3 - p.jsonl out.jsonl all.jsonl rescored.txt <<'PY'
import json, sys
ps, out, samples, rescored = ([json.loads(l) for l in open(f, encoding="utf-8")] for f in sys.argv[1:])
assert len(out) == 10 and len(samples) == 40 and len(rescored) == 40, (len(out), len(samples))
for s, r in zip(samples, rescored):   # the rewards reward-score gives the same texts
    assert abs(s["reward"] - r["reward"]) <= 1e-5 * max(1, abs(r["reward"])), (s, r)
all_mean = best_mean = 0
for i, (p, o) in enumerate(zip(ps, out)):
    mine = samples[4 * i:4 * i + 4]
    assert all(s["prompt"] == p["prompt"] for s in mine)
    assert set(o) == {"prompt", "completion", "reward", "mean_reward"} and o["prompt"] == p["prompt"]
    rs = [r["reward"] for r in rescored[4 * i:4 * i + 4]]
    top = max(rs)
    assert abs(o["reward"] - top) <= 1e-5 * max(1, abs(top)), (o, rs)
    assert o["completion"] in [s["response"] for s, r in zip(mine, rs) if r == top], o
    mean = sum(rs) / 4
    assert abs(o["mean_reward"] - mean) <= 1e-5 * max(1, abs(mean)), (o, rs)
    all_mean += mean / 10
    best_mean += top / 10
assert best_mean > all_mean, (best_mean, all_mean)
print("yes: mean of all %.4f, of the best %.4f, rise %.4f" % (all_mean, best_mean, best_mean - all_mean))
PY
)
  case "$check" in yes*) ok "best of 4 by reward-score's scores, ${check#yes: }" ;;
                   *) bad "picking: $check" ;; esac
  rs -f p.jsonl -q > again.jsonl 2>/dev/null && cmp -s out.jsonl again.jsonl \
    && ok "same seed, same output" || bad "not reproducible"
else
  bad "rejection-sample"; cat run.log
fi

# 3. Chat prompts, and finetuning on the output.
cat > chat.jsonl <<'JSON'
{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say something."}], "id": 1}
{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "More?"}], "id": 2}
JSON
if rs -f chat.jsonl -o chat.out -q 2>err.txt; then
  check=$(/usr/bin/python3 - chat.jsonl chat.out <<'PY'
import json, sys
ins, outs = ([json.loads(l) for l in open(f, encoding="utf-8")] for f in sys.argv[1:])
ok = len(outs) == 2 and all(
    o["messages"][:-1] == i["messages"] and o["messages"][-1]["role"] == "assistant"
    and isinstance(o["messages"][-1]["content"], str) and o["id"] == i["id"]
    and o["reward"] >= o["mean_reward"] - 1e-6 for i, o in zip(ins, outs))
print("yes" if ok else "no: %s" % outs)
PY
)
  [ "$check" = yes ] && ok "chat prompts answered as assistant messages" || bad "chat output $check"
else
  bad "chat prompts"; cat err.txt
fi
cat out.jsonl chat.out > sft.jsonl 2>/dev/null
cat > ft.json <<JSON
{"init": "$base", "train_data": "sft.jsonl", "out_dir": "ft", "method": "full",
 "chat_template": "none", "batch_size": 2, "seq_len": 96, "steps": 1, "warmup": 0,
 "lr": 1e-4, "eval_every": 0, "threads": 1}
JSON
"$herd" finetune --config ft.json 2>ft.log && grep -q "sft.jsonl: 12 examples (0 too long" ft.log \
  && ok "herd finetune trains on the output" || { bad "finetune on the output"; cat ft.log; }
exit $fail

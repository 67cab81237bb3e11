#!/usr/bin/env bash
# herd reward-train and herd reward-score as a user meets them, on the
# shipped random model and a made-up preference set:
#  1. help; bad input: an unknown config key, no init, an identical pair
#     (stops with file:line), a model without a reward head.
#  2. a short training run prints progress and the held-out accuracy and
#     writes reward.gguf (still a model herd info opens) and loss.csv.
#  3. reward-score prints one JSON line per input line: {"reward"} for a
#     prompt/response line, {"chosen", "rejected"} for a pair, the same
#     numbers for the same texts either way; a bad line names file:line.
set -u
. "$(dirname "$0")/lib.sh"
herd=$(cd "$(dirname "$herd")" && pwd)/herd
base=$(cd "$HERD_BIN" && pwd)/models/herd-random.gguf
cd "$tmp"

"$herd" reward-train --help | grep -q "ranking loss" && ok "reward-train help" || bad "reward-train help"
"$herd" reward-score --help | grep -q '"reward"' && ok "reward-score help" || bad "reward-score help"

words=(the dog cat saw big tree sun girl boy ball day happy)
for i in $(seq 1 48); do
  a="${words[$((i % 12))]} ${words[$(((i * 7) % 12))]}"
  b="${words[$(((i * 5) % 12))]} ${words[$(((i * 3) % 12))]}"
  echo "{\"prompt\": \"Say something.\", \"chosen\": \" $a amen\", \"rejected\": \" $b omen\"}"
done > pairs.jsonl
head -40 pairs.jsonl > train.jsonl
tail -8 pairs.jsonl > val.jsonl
cfg() {  # cfg FILE [EXTRA JSON]
  cat > "$1" <<JSON
{"init": "$base", "train_data": "train.jsonl", "val_data": "val.jsonl", "out_dir": "rm",
 "chat_template": "none", "batch_size": 4, "steps": 6, "warmup": 1, "lr": 1e-3,
 "eval_every": 3, "threads": 1 ${2:-}}
JSON
}

# 1. Bad input.
cfg u.json ', "learning_rate": 1'
expect_error "unknown key" 'unknown key "learning_rate"' -- "$herd" reward-train --config u.json
cfg c.json
sed 's/"init": "[^"]*", //' c.json > noinit.json
expect_error "no init" '"init"' -- "$herd" reward-train --config noinit.json
{ head -3 train.jsonl; echo '{"prompt": "Q", "chosen": " same", "rejected": " same"}'; } > ident.jsonl
cfg i.json ', "train_data": "ident.jsonl"'
expect_error "identical pair" "ident.jsonl:4: chosen and rejected are identical" -- \
  "$herd" reward-train --config i.json
echo '{"prompt": "Q", "response": " x"}' > one.jsonl
expect_error "no reward head" "not a reward model" -- "$herd" reward-score -m "$base" -f one.jsonl
expect_error "no model" "-m REWARD.gguf is required" -- "$herd" reward-score -f one.jsonl

# 2. Training.
cfg c.json
if "$herd" reward-train --config c.json 2>train.log; then
  grep -q "^step 3/6 | loss [0-9.]* | acc [0-9.]* | val loss [0-9.]* acc [0-9.]* | lr .* tok/s | ETA" train.log \
    && ok "progress lines" || { bad "progress lines"; cat train.log; }
  grep -q "held-out accuracy [0-9.]* (8 pairs)" train.log && ok "$(grep held-out train.log)" \
    || { bad "held-out accuracy"; cat train.log; }
  [ -s rm/reward.gguf ] && [ "$(wc -l < rm/loss.csv)" -eq 7 ] && ok "reward.gguf and loss.csv" \
    || bad "outputs"
  "$herd" info -m rm/reward.gguf | grep -q "^dim: *128" && ok "reward.gguf opens as a model" \
    || bad "herd info on reward.gguf"
else
  bad "reward-train"; cat train.log
fi

# 3. Scoring.
{
  echo '{"prompt": "Say something.", "response": " the dog amen"}'
  echo '{"prompt": "Say something.", "chosen": " the dog amen", "rejected": " the dog omen"}'
  echo
  echo '{"prompt": "Say something.", "response": " the dog omen"}'
} > score.jsonl
if "$herd" reward-score -m rm/reward.gguf -f score.jsonl > scores.txt 2>err.txt; then
  [ "$(wc -l < scores.txt)" -eq 3 ] && ok "one line per input" || { bad "line count"; cat scores.txt; }
  check=$(/usr/bin/python3 - scores.txt <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ok = (set(rows[0]) == {"reward"} and set(rows[1]) == {"chosen", "rejected"}
      and set(rows[2]) == {"reward"}
      and abs(rows[0]["reward"] - rows[1]["chosen"]) < 1e-6
      and abs(rows[2]["reward"] - rows[1]["rejected"]) < 1e-6
      and rows[0]["reward"] != rows[2]["reward"])
print("yes" if ok else "no: %s" % rows)
PY
)
  [ "$check" = yes ] && ok "reward-score JSON: $(tr '\n' ' ' < scores.txt)" || bad "reward-score JSON $check"
else
  bad "reward-score"; cat err.txt
fi
{ cat score.jsonl; echo '{"prompt": "Q"}'; } > badscore.jsonl
expect_error "bad scoring line" "badscore.jsonl:5: no \"chosen\"" -- \
  "$herd" reward-score -m rm/reward.gguf -f badscore.jsonl
exit $fail

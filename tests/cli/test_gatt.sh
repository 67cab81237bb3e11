#!/usr/bin/env bash
# herd gatt as a user meets it, its output read back by Python's json:
#  1. help; prompts: the instruction + "\n\n" before every user message,
#     other keys kept; train: the instruction in the system prompt (or with
#     --in-user the first user message) only, "train": false on every
#     answer but the last; the prompts output is valid train input (same
#     result); to a file with -o.
#  2. --instructions: each line's instruction drawn from the file, the same
#     for the same --seed, the same in both views, another for another seed.
#  3. herd finetune reads "train": false: on three identical turns the train
#     view trains a third of the tokens that the same chats train unflagged.
#  4. Bad flags exit 2; bad data (no instruction, no user message, bad JSON)
#     exit 1 naming file:line, and leave no -o file behind.
set -u
. "$(dirname "$0")/lib.sh"
py=/usr/bin/python3
[ -x "$py" ] || { echo "SKIP: no /usr/bin/python3"; exit 77; }
base=$(cd "$HERD_BIN" && pwd)/models/herd-random.gguf

"$herd" gatt --help | grep -q "usage: herd gatt" && ok "help" || bad "help"
"$herd" --help | grep -q "gatt" && ok "herd --help lists gatt" || bad "herd --help"

cat >"$tmp/in.jsonl" <<'EOF'
{"id": 7, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Ciao"}, {"role": "user", "content": "?"}]}

{"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}, {"from": "human", "value": "c"}, {"from": "gpt", "value": "d"}], "instruction": "Use emojis."}
EOF
I="Always answer as Napoleon."
"$herd" gatt prompts "$tmp/in.jsonl" --instruction "$I" >"$tmp/p.jsonl" 2>"$tmp/err" \
  && grep -q "2 dialogues in the prompts view" "$tmp/err" || { bad "prompts"; cat "$tmp/err"; }
"$herd" gatt train "$tmp/in.jsonl" --instruction "$I" -o "$tmp/t.jsonl" -q 2>"$tmp/err" \
  || { bad "train"; cat "$tmp/err"; }
"$herd" gatt train "$tmp/in.jsonl" --instruction "$I" --in-user -q >"$tmp/u.jsonl" \
  || bad "train --in-user"
"$herd" gatt train "$tmp/p.jsonl" -q >"$tmp/tp.jsonl" || bad "train from prompts"
"$herd" gatt prompts "$tmp/p.jsonl" -q >"$tmp/pp.jsonl" || bad "prompts from prompts"

# The expected views, written out by hand.
"$py" - "$tmp" "$I" <<'PY' && ok "prompts and train views as specified" || bad "views"
import json, sys
d, I = sys.argv[1], sys.argv[2]
rd = lambda n: [json.loads(l) for l in open(f"{d}/{n}")]
S, U, A = "system", "user", "assistant"
m = lambda r, c, **k: dict(role=r, content=c, **k)
want_p = [
    {"messages": [m(S, "Be brief."), m(U, I + "\n\nHi"), m(A, "Hello"), m(U, I + "\n\nBye"),
                  m(A, "Ciao"), m(U, I + "\n\n?")], "instruction": I, "id": 7},
    {"messages": [m(U, "Use emojis.\n\na"), m(A, "b"), m(U, "Use emojis.\n\nc"), m(A, "d")],
     "instruction": "Use emojis."}]
want_t = [
    {"messages": [m(S, I + "\n\nBe brief."), m(U, "Hi"), m(A, "Hello", train=False), m(U, "Bye"),
                  m(A, "Ciao")], "instruction": I, "id": 7},
    {"messages": [m(S, "Use emojis."), m(U, "a"), m(A, "b", train=False), m(U, "c"), m(A, "d")],
     "instruction": "Use emojis."}]
want_u = [
    {"messages": [m(S, "Be brief."), m(U, I + "\n\nHi"), m(A, "Hello", train=False), m(U, "Bye"),
                  m(A, "Ciao")], "instruction": I, "id": 7},
    {"messages": [m(U, "Use emojis.\n\na"), m(A, "b", train=False), m(U, "c"), m(A, "d")],
     "instruction": "Use emojis."}]
for name, want in [("p", want_p), ("pp", want_p), ("t", want_t), ("tp", want_t), ("u", want_u)]:
    got = rd(name + ".jsonl")
    assert got == want, (name, got, want)
PY

# 2. Instructions drawn per line.
printf 'Answer in French.\n\nUse emojis.\r\nAct as Napoleon.\nSpeak like a pirate.\n' >"$tmp/pool.txt"
for i in $(seq 1 30); do
  echo "{\"messages\": [{\"role\": \"user\", \"content\": \"q$i\"}, {\"role\": \"assistant\", \"content\": \"a\"}, {\"role\": \"user\", \"content\": \"r\"}, {\"role\": \"assistant\", \"content\": \"b\"}]}"
done >"$tmp/many.jsonl"
for run in "p1 prompts 5" "p1b prompts 5" "t1 train 5" "p2 prompts 6"; do
  set -- $run
  "$herd" gatt "$2" "$tmp/many.jsonl" --instructions "$tmp/pool.txt" --seed "$3" -o "$tmp/$1.jsonl" 2>"$tmp/err" \
    && grep -q "30 with instructions drawn from 4" "$tmp/err" || { bad "draw $1"; cat "$tmp/err"; }
done
"$py" - "$tmp" <<'PY' && ok "--instructions: drawn per line, deterministic per seed" || bad "draws"
import json, sys
d = sys.argv[1]
pool = ["Answer in French.", "Use emojis.", "Act as Napoleon.", "Speak like a pirate."]
rd = lambda n: [json.loads(l) for l in open(f"{d}/{n}.jsonl")]
ins = {n: [r["instruction"] for r in rd(n)] for n in ("p1", "p1b", "t1", "p2")}
assert ins["p1"] == ins["p1b"] == ins["t1"], ins
assert ins["p1"] != ins["p2"]
assert set(ins["p1"]) == set(pool), set(ins["p1"])
for i, r in enumerate(rd("p1")):
    I = r["instruction"]
    assert [x["content"] for x in r["messages"] if x["role"] == "user"] == \
        [f"{I}\n\nq{i + 1}", f"{I}\n\nr"]
for r in rd("t1"):
    assert r["messages"][0] == {"role": "system", "content": r["instruction"]}
    assert [x.get("train", True) for x in r["messages"] if x["role"] == "assistant"] == [False, True]
PY

# 3. herd finetune trains only the last answer of the train view.
for i in $(seq 1 8); do
  echo '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "yes"}, {"role": "user", "content": "x"}, {"role": "assistant", "content": "yes"}, {"role": "user", "content": "x"}, {"role": "assistant", "content": "yes"}]}'
done >"$tmp/same.jsonl"
"$herd" gatt train "$tmp/same.jsonl" --instruction "Be kind." --in-user -q -o "$tmp/same_t.jsonl"
sed 's/,"train":false//g' "$tmp/same_t.jsonl" >"$tmp/same_all.jsonl"
trained() {  # trained FILE: the trained-token count herd finetune reports
  cat >"$tmp/c.json" <<JSON
{"init": "$base", "train_data": "$1", "out_dir": "$tmp/ft", "method": "lora",
 "chat_template": "none", "batch_size": 1, "seq_len": 256, "steps": 1, "warmup": 0,
 "lr": 1e-3, "save_every": 0, "eval_every": 0, "threads": 1}
JSON
  "$herd" finetune --config "$tmp/c.json" -q 2>&1 | sed -n 's/.* \([0-9][0-9]*\) trained.*/\1/p' | head -n 1
}
a=$(trained "$tmp/same_all.jsonl"); t=$(trained "$tmp/same_t.jsonl")
[ -n "$a" ] && [ -n "$t" ] && [ "$t" -gt 0 ] && [ $((3 * t)) -eq "$a" ] \
  && ok "finetune: train view trains $t tokens, unflagged $a" \
  || bad "finetune trained counts: train view '$t', unflagged '$a'"

# 4. Bad flags and bad data.
expect_error "no view" "unknown view" -- "$herd" gatt sample "$tmp/in.jsonl"
expect_error "no input" "no INPUT" -- "$herd" gatt train --instruction x
expect_error "both instruction flags" "do not go together" -- \
  "$herd" gatt train "$tmp/in.jsonl" --instruction x --instructions "$tmp/pool.txt"
expect_error "combine without a pool" "needs --instructions" -- \
  "$herd" gatt train "$tmp/in.jsonl" --combine 2
expect_error "combine too many" "holds 4" -- \
  "$herd" gatt train "$tmp/many.jsonl" --instructions "$tmp/pool.txt" --combine 5
for rc_case in "unknown option:--frob" "bad seed:--seed -1"; do
  "$herd" gatt train "$tmp/in.jsonl" ${rc_case#*:} >/dev/null 2>&1; rc=$?
  [ $rc = 2 ] && ok "${rc_case%%:*}: exit 2" || bad "${rc_case%%:*}: exit $rc"
done
printf '\n \n' >"$tmp/empty_pool.txt"
expect_error "empty pool" "no instructions" -- \
  "$herd" gatt train "$tmp/in.jsonl" --instructions "$tmp/empty_pool.txt"
sed -n 3p "$tmp/in.jsonl" >"$tmp/b1.jsonl"; echo '{"messages": [{"role": "user", "content": "x"}]}' >>"$tmp/b1.jsonl"
expect_error "no instruction" "b1.jsonl:2: no instruction" -- "$herd" gatt prompts "$tmp/b1.jsonl" -o "$tmp/o1.jsonl"
[ ! -e "$tmp/o1.jsonl" ] && ok "no output left behind" || bad "output left behind"
printf '{"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]}\n' >"$tmp/b2.jsonl"
expect_error "no user message" "b2.jsonl:1: no user message" -- "$herd" gatt prompts "$tmp/b2.jsonl" --instruction x
printf '{"messages": [{"role": "user", "content": "x"}]}\n{"messages": [\n' >"$tmp/b3.jsonl"
expect_error "bad JSON" "b3.jsonl:2: not valid JSON" -- "$herd" gatt prompts "$tmp/b3.jsonl" --instruction x
expect_error "train without answers" "b3.jsonl:1: no assistant message" -- \
  "$herd" gatt train "$tmp/b3.jsonl" --instruction x
expect_error "missing input" "cannot open" -- "$herd" gatt train "$tmp/none.jsonl" --instruction x
exit $fail

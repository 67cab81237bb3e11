#!/usr/bin/env bash
# herd perplexity as a user runs it: the numbers of tests/reference/ppl_ref.py
# (llama-perplexity's method on the float64 PyTorch Llama; live when
# /usr/bin/python3 has torch, else the committed figure), text and --ids
# agreeing, a real checkpoint scoring its own greedy text low and a shuffle
# of it high, and bad input giving a one-line error.
set -u
src="$HERD_SOURCE"
. "$(dirname "$0")/lib.sh"

# ppl_ref.py's lcg_ids: x -> (75 x + 74) mod 65537 from 1, id = x mod V.
lcg() { awk -v n="$1" -v v="$2" 'BEGIN { x = 1; for (i = 0; i < n; i++) {
  x = (75 * x + 74) % 65537; printf "%s%d", (i ? " " : ""), x % v } print "" }'; }
# final PPL printed on stdout
final() { sed -n 's/^Final estimate: PPL = \([0-9.]*\) +\/- \([0-9.]*\)$/\1 \2/p' "$1"; }
# rel_close A B TOL
rel_close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d;
  exit !(d <= t * (b < 0 ? -b : b)) }'; }

"$herd" perplexity --help | grep -q "usage: herd perplexity" && ok "--help" || bad "--help"
"$herd" --help | grep -q perplexity && ok "listed in herd --help" || bad "not in herd --help"

# 1. The golden gqa model against the committed reference (ppl_ref.py --cases,
# first case: 75 ids, -c 16, BOS 1): PPL 181.62662957897817 +/- 21.819166355416826.
gqa="$src/tests/fixtures/models/gqa/model.gguf"
lcg 75 128 >"$tmp/gqa.ids"
if "$herd" perplexity -m "$gqa" -f "$tmp/gqa.ids" --ids -c 16 -b 5 -t 2 >"$tmp/out" 2>"$tmp/err"; then
  read -r p e <<<"$(final "$tmp/out")"
  if rel_close "$p" 181.62662957897817 1e-4 && rel_close "$e" 21.819166355416826 1e-4 \
     && grep -q '^\[1\][0-9.]*,\[2\][0-9.]*,\[3\][0-9.]*,\[4\]181.62' "$tmp/out" \
     && grep -q "tok/s" "$tmp/err"; then
    ok "gqa -c 16: PPL $p +/- $e (reference 181.6266 +/- 21.81917)"
  else bad "gqa -c 16"; cat "$tmp/out" "$tmp/err"; fi
else bad "gqa -c 16 failed"; cat "$tmp/err"; fi

# 2. Live reference on other settings, when torch is there.
if /usr/bin/python3 -c "import torch, numpy" 2>/dev/null; then
  for args in "mha 90 12 5 5" "gqa 100 33 0 7"; do
    read -r model n ctx chunks b <<<"$args"
    v=$([ "$model" = mha ] && echo 96 || echo 128)
    lcg "$n" "$v" >"$tmp/live.ids"
    /usr/bin/python3 "$src/tests/reference/ppl_ref.py" --model "$model" --ids "$tmp/live.ids" \
      --ctx "$ctx" --chunks "$chunks" >"$tmp/ref" 2>"$tmp/referr" || { bad "ppl_ref.py $args"; cat "$tmp/referr"; continue; }
    ch=(); [ "$chunks" != 0 ] && ch=(--chunks "$chunks")
    "$herd" perplexity -m "$src/tests/fixtures/models/$model/model.gguf" -f "$tmp/live.ids" --ids \
      -c "$ctx" -b "$b" "${ch[@]}" >"$tmp/out" 2>"$tmp/err" || { bad "herd on $args"; cat "$tmp/err"; continue; }
    read -r p e <<<"$(final "$tmp/out")"
    rp=$(sed -n 's/^ppl //p' "$tmp/ref"); re=$(sed -n 's/^err //p' "$tmp/ref")
    # the running estimates, chunk by chunk
    got=$(head -n 1 "$tmp/out" | tr ',' '\n' | sed -n 's/^\[[0-9]*\]//p')
    want=$(sed -n 's/^running //p' "$tmp/ref" | tr ' ' '\n')
    same=1
    [ "$(echo "$got" | wc -l)" = "$(echo "$want" | wc -l)" ] || same=0
    while read -r g w; do rel_close "$g" "$w" 1e-4 || same=0; done < <(paste -d' ' <(echo "$got") <(echo "$want"))
    if rel_close "$p" "$rp" 1e-4 && rel_close "$e" "$re" 1e-4 && [ $same = 1 ]; then
      ok "live reference $model -c $ctx -b $b: PPL $p +/- $e, ppl_ref.py $rp +/- $re"
    else bad "live reference $args: herd $p +/- $e, ppl_ref.py $rp +/- $re"; cat "$tmp/out" "$tmp/ref"; fi
  done
else
  echo "skip: /usr/bin/python3 lacks torch: no live reference"
fi

# 3. Text: tokenized whole with BOS first, the same as giving those ids.
rnd="$HERD_BIN/models/herd-random.gguf"
for i in $(seq 1 40); do echo "Line $i: the quick brown fox jumps over the lazy dog."; done >"$tmp/text.txt"
"$herd" tokenize -m "$rnd" --bos <"$tmp/text.txt" >"$tmp/text.ids"
"$herd" perplexity -m "$rnd" -f "$tmp/text.txt" -c 64 --chunks 3 >"$tmp/a" 2>"$tmp/err" || { bad "text"; cat "$tmp/err"; }
"$herd" perplexity -m "$rnd" -f "$tmp/text.ids" --ids -c 64 --chunks 3 >"$tmp/b" 2>/dev/null
if [ -n "$(final "$tmp/a")" ] && cmp -s "$tmp/a" "$tmp/b" && grep -q "$(wc -w <"$tmp/text.ids") tokens" "$tmp/err"; then
  ok "text and its ids agree: $(final "$tmp/a")"
else bad "text and --ids differ"; cat "$tmp/a" "$tmp/b" "$tmp/err"; fi

# 4. A trained checkpoint: its own greedy text (BOS + 199 ids, twice, -c 200:
# each chunk is exactly what greedy decoding saw) scores low; shuffled, high.
st="$HERD_SHARED/models/stories260K.bin"
greedy="$HERD_SHARED/models/stories260K.greedy-ids.txt"
if [ -f "$st" ] && [ -f "$greedy" ]; then
  one=$(echo 1 $(cat "$greedy") | cut -d' ' -f1-200)
  echo "$one $one" >"$tmp/greedy.ids"
  echo "$one $one" | tr ' ' '\n' | awk 'BEGIN { srand(7) } { print rand() "\t" $0 }' \
    | sort -n | cut -f2 | tr '\n' ' ' >"$tmp/shuf.ids"
  "$herd" perplexity -m "$st" -f "$tmp/greedy.ids" --ids -c 200 >"$tmp/g" 2>"$tmp/err"
  "$herd" perplexity -m "$st" -f "$tmp/shuf.ids" --ids -c 200 >"$tmp/s" 2>>"$tmp/err"
  read -r pg _ <<<"$(final "$tmp/g")"; read -r ps _ <<<"$(final "$tmp/s")"
  if [ -n "$pg" ] && [ -n "$ps" ] && awk -v g="$pg" -v s="$ps" 'BEGIN { exit !(g > 1 && g < 3 && s > 10 * g) }'; then
    ok "stories260K: greedy text PPL $pg, shuffled $ps"
  else bad "stories260K: greedy '$pg', shuffled '$ps'"; cat "$tmp/g" "$tmp/s" "$tmp/err"; fi
  expect_error "no tokenizer, no --ids" "no tokenizer" -- "$herd" perplexity -m "$st" -f "$tmp/greedy.ids"
else
  echo "skip: $st not found"
fi

# 5. Bad input.
expect_error "missing file" "nope.txt" -- "$herd" perplexity -m "$gqa" -f "$tmp/nope.txt" --ids
: >"$tmp/empty.txt"
expect_error "empty file" "empty" -- "$herd" perplexity -m "$gqa" -f "$tmp/empty.txt" --ids
expect_error "empty text" "only 1 tokens" -- "$herd" perplexity -m "$rnd" -f "$tmp/empty.txt"
lcg 31 128 >"$tmp/short.ids"
expect_error "31 ids, -c 16" "at least 32" -- "$herd" perplexity -m "$gqa" -f "$tmp/short.ids" --ids -c 16
head -n 2 "$tmp/text.txt" >"$tmp/short.txt"
expect_error "short text, default -c 512" "at least 1024" -- "$herd" perplexity -m "$rnd" -f "$tmp/short.txt"
echo "1 2 3 x4 5" >"$tmp/alpha.ids"
expect_error "non-numeric id" "x4" -- "$herd" perplexity -m "$gqa" -f "$tmp/alpha.ids" --ids -c 3
echo "1 2 -3 4 5 6" >"$tmp/neg.ids"
expect_error "negative id" "not a token id" -- "$herd" perplexity -m "$gqa" -f "$tmp/neg.ids" --ids -c 3
{ lcg 40 128; echo 128; } >"$tmp/range.ids"
expect_error "id out of range" "outside the vocabulary" -- "$herd" perplexity -m "$gqa" -f "$tmp/range.ids" --ids -c 16
expect_error "no tokenizer, no --ids" "no tokenizer" -- "$herd" perplexity -m "$gqa" -f "$tmp/gqa.ids"
expect_error "no -f" "required" -- "$herd" perplexity -m "$gqa"
expect_error "-c 2" "-c" -- "$herd" perplexity -m "$gqa" -f "$tmp/gqa.ids" --ids -c 2
expect_error "unknown option" "unknown option" -- "$herd" perplexity -m "$gqa" -f "$tmp/gqa.ids" --frob
exit $fail

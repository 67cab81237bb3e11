#!/usr/bin/env bash
# herd's own model (models/herd-kjv.gguf, made by scripts/train_kjv.sh):
#  - herd run with no -m runs it, and its greedy text is King James English;
#  - its loss on the held-out chapters, remade from Debian's bible-kjv with
#    the same commands (the split is fixed by --seed), is the validation loss
#    the README states (to 0.01);
#  - quantized by herd quantize, its perplexity on Revelation stays within
#    0.5% of its F32 copy's in Q8_0 and within 5% in Q4_K_M (issue 4).
set -u
. "$(dirname "$0")/../cli/lib.sh"
src=$(cd "${HERD_SOURCE:-.}" && pwd)
model="$src/models/herd-kjv.gguf"
[ -f "$model" ] || { echo "SKIP: $model absent"; exit 77; }
out=$("$herd" run -p "In the beginning" -n 24 --temp 0 -t 1 2>"$tmp/err")
echo "$out"
grep -q "herd-kjv.gguf" "$tmp/err" && ok "herd run without -m runs herd's own model" \
  || bad "default model: $(cat "$tmp/err")"
words=$(echo "$out" | grep -o -w -E "the|and|of|God|LORD|unto|he|that|in" | wc -l)
[ "$words" -ge 4 ] && ok "greedy text is English ($words common words)" || bad "greedy text: $out"
command -v bible >/dev/null || { echo "SKIP: the bible program (Debian's bible-kjv) is absent"; exit $fail; }
want=$(sed -n 's/.*validation loss \([0-9.]*\) .*/\1/p' "$src/README.md" | head -1)
bible -l0 gen1:1-rev22:21 2>/dev/null | awk '
    /^[^ ].* [0-9]+$/ { if (n++) print ""; print; next }
    /^ *[0-9]+ / { sub(/^ *[0-9]+ /, ""); print }' > "$tmp/kjv.txt"
"$herd" prepare -m "$model" -i "$tmp/kjv.txt" -o "$tmp/kjv" --doc-sep blank --seed 1 -q >/dev/null
cat > "$tmp/eval.json" <<JSON
{"init": "$model", "train_data": "$tmp/kjv.train.bin", "val_data": "$tmp/kjv.val.bin",
 "out_dir": "$tmp/out", "batch_size": 16, "seq_len": 256}
JSON
got=$("$herd" train --config "$tmp/eval.json" --eval -t 1 | sed -n 's/^val_loss \([0-9.]*\).*/\1/p')
awk -v a="$got" -v b="$want" 'BEGIN { exit !(a != "" && b != "" && (a - b < 0.01 && b - a < 0.01)) }' \
  && ok "validation loss $got (README: $want)" || bad "validation loss '$got', README says '$want'"

"$herd" quantize "$model" "$tmp/f32.gguf" F32 >/dev/null 2>&1
"$herd" quantize "$model" "$tmp/q8_0.gguf" Q8_0 >/dev/null 2>&1
"$herd" quantize "$model" "$tmp/q4_k_m.gguf" Q4_K_M >/dev/null 2>&1
sed -n '/^Revelation 1$/,$p' "$tmp/kjv.txt" > "$tmp/rev.txt"
ppl() { "$herd" perplexity -m "$1" -f "$tmp/rev.txt" -c 256 -t 1 2>/dev/null | sed -n 's/.*PPL = \([0-9.]*\).*/\1/p'; }
p32=$(ppl "$tmp/f32.gguf")
for q in q8_0:0.005 q4_k_m:0.05; do
  t=${q%%:*} lim=${q##*:} pq=$(ppl "$tmp/$t.gguf")
  awk -v a="$pq" -v b="$p32" -v l="$lim" 'BEGIN { r = a / b - 1; exit !(a != "" && b != "" && r < l && -r < l) }' \
    && ok "$t perplexity $pq vs F32 $p32 on Revelation (within $lim)" \
    || bad "$t perplexity '$pq' vs F32 '$p32' (limit $lim)"
done
exit $fail

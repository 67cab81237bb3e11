#!/usr/bin/env bash
# herd extend-vocab as a user meets it:
#  1. The shipped random model (SentencePiece vocabulary): help; --pieces
#     grows it; the new piece encodes to one new id, old texts to their old
#     ids; the grown model runs with herd run; --init zero; the tokenizer
#     alone (-z) and a tokenizer that does not match the model; errors: an
#     empty pieces file, a piece over 256 bytes, nothing new, an existing
#     output, bad flags.
#  2. With ../shared: Meta's llama2.c stories260K.bin grown with -z; Llama
#     3's byte-level BPE refused.
#  3. With python3-sentencepiece, the reference: the Llama 2 tokenizer
#     extended by --pieces and by --from (a model herd train-tokenizer
#     learned on new text) loads in sentencepiece, which gives herd's ids
#     for ~120 texts holding new pieces each; texts holding none encode
#     as with the original tokenizer.
# Exit 77 after part 1 when ../shared or sentencepiece is absent.
set -u
shared="${HERD_SHARED:-../shared}"
py=/usr/bin/python3
. "$(dirname "$0")/lib.sh"
rnd="$HERD_BIN/models/herd-random.gguf"
SP=$'\xe2\x96\x81'

# ---- 1. the shipped model ----
"$herd" extend-vocab --help >"$tmp/out" 2>&1 && grep -q "usage: herd extend-vocab" "$tmp/out" \
  && ok "--help" || bad "--help"
"$herd" --help | grep -q "extend-vocab" && ok "herd --help lists it" || bad "herd --help"

printf ' little girl\n caf\xc3\xa9\n the\n\n' >"$tmp/p.txt"
"$herd" extend-vocab -m "$rnd" -o "$tmp/x.gguf" --pieces "$tmp/p.txt" 2>"$tmp/err" \
  && grep -q "8 pieces added (2 given, 1 characters, 5 prefixes), 1 skipped" "$tmp/err" \
  && grep -q "vocabulary 508 -> 516" "$tmp/err" \
  && ok "grown: $(head -n 1 "$tmp/err")" || { bad "grow the shipped model"; cat "$tmp/err"; }
"$herd" info -m "$tmp/x.gguf" | grep -q "vocab_size: *516" && ok "info: vocab_size 516" \
  || bad "info of the grown model"
got=$("$herd" tokenize -m "$tmp/x.gguf" --pieces -p "little girl")
[ "$got" = "\"${SP}little${SP}girl\"" ] && ok "\"little girl\" is one new piece" \
  || bad "little girl: $got"
[ "$("$herd" tokenize -m "$tmp/x.gguf" -p "little girl")" = 512 ] \
  && ok "... with id 512 (508 + 4 prefixes before it)" || bad "id of little girl"
[ "$("$herd" tokenize -m "$tmp/x.gguf" -p "caf$(printf '\xc3\xa9')")" = 515 ] \
  && ok "café: id 515" || bad "id of café"
t="Once upon a time, the little cat saw a big dog. She said: fun!"
[ "$("$herd" tokenize -m "$tmp/x.gguf" -p "$t")" = "$("$herd" tokenize -m "$rnd" -p "$t")" ] \
  && ok "a text without new pieces keeps its ids" || bad "old text ids changed"
"$herd" run -m "$tmp/x.gguf" -p "the little girl" -n 8 --temp 0 >"$tmp/out" 2>"$tmp/err" \
  && [ -s "$tmp/out" ] && ok "herd run on the grown model" || { bad "herd run"; cat "$tmp/err"; }
"$herd" extend-vocab -m "$rnd" -o "$tmp/z.gguf" --pieces "$tmp/p.txt" --init zero -q \
  && "$herd" run -m "$tmp/z.gguf" -p "little girl" -n 4 --temp 0 >/dev/null 2>&1 \
  && ok "--init zero" || bad "--init zero"

# The tokenizer alone: a tokenizer.model from the model's (via herd
# convert) grown to 512 pieces; it no longer matches the 508-token model.
"$herd" convert -m "$rnd" -o "$tmp/hf" -q 2>/dev/null
printf 'zq\nzv\nzw\nzx\n' >"$tmp/p4.txt"
"$herd" extend-vocab -z "$tmp/hf/tokenizer.model" -o "$tmp/tok512.model" --pieces "$tmp/p4.txt" \
  2>"$tmp/err" && grep -q "508 -> 512" "$tmp/err" && ok "tokenizer alone: 508 -> 512" \
  || { bad "tokenizer alone"; cat "$tmp/err"; }
got=$("$herd" tokenize -z "$tmp/tok512.model" --pieces -p "azq" | tr -d '\n')
[ "$got" = "\"${SP}a\"\"zq\"" ] && ok "tok512: \"azq\" is \"${SP}a\" \"zq\"" || bad "tok512 azq: $got"
expect_error "a tokenizer that does not match the model" "512 tokens but the model's vocabulary is 508" -- \
  "$herd" extend-vocab -m "$rnd" -z "$tmp/tok512.model" -o "$tmp/e.gguf" --pieces "$tmp/p.txt"
: >"$tmp/empty.txt"
expect_error "empty pieces file" "no pieces" -- \
  "$herd" extend-vocab -m "$rnd" -o "$tmp/e.gguf" --pieces "$tmp/empty.txt"
head -c 300 /dev/zero | tr '\0' 'x' >"$tmp/long.txt"
expect_error "a piece over 256 bytes" "longer than 256" -- \
  "$herd" extend-vocab -m "$rnd" -o "$tmp/e.gguf" --pieces "$tmp/long.txt"
printf ' the\n' >"$tmp/old.txt"
expect_error "nothing new" "nothing to add" -- \
  "$herd" extend-vocab -m "$rnd" -o "$tmp/e.gguf" --pieces "$tmp/old.txt"
[ ! -e "$tmp/e.gguf" ] && ! ls "$tmp"/e.gguf* >/dev/null 2>&1 && ok "failures leave no output" \
  || bad "a failure left output"
expect_error "an existing output" "already exists" -- \
  "$herd" extend-vocab -m "$rnd" -o "$tmp/x.gguf" --pieces "$tmp/p.txt"
"$herd" extend-vocab -m "$rnd" -o "$tmp/x.gguf" --pieces "$tmp/p.txt" -f -q && ok "-f replaces" \
  || bad "-f"
for args in "-o $tmp/e.gguf --pieces $tmp/p.txt" "-m $rnd --pieces $tmp/p.txt" \
            "-m $rnd -o $tmp/e.gguf" "-m $rnd -o $tmp/e.gguf --pieces $tmp/p.txt --from $tmp/x" \
            "-m $rnd -o $tmp/e.gguf --pieces $tmp/p.txt --init bogus"; do
  "$herd" extend-vocab $args >/dev/null 2>&1
  [ $? = 2 ] && ok "bad flags exit 2: ${args//$tmp\//}" || bad "bad flags: $args"
done

# ---- 2. ../shared: llama2.c with -z, byte-level BPE ----
l2="$shared/tokenizers/llama2/tokenizer.model"
l3="$shared/tokenizers/llama3/tokenizer.json"
s260="$shared/models/stories260K.bin"
if [ ! -f "$l2" ] || [ ! -f "$l3" ] || [ ! -f "$s260" ]; then
  echo "SKIP: no ../shared tokenizers and models"; [ $fail = 0 ] && exit 77 || exit 1
fi
"$herd" extend-vocab -m "$s260" -z "$tmp/tok512.model" -o "$tmp/s.gguf" --pieces "$tmp/p.txt" -q \
  && "$herd" info -m "$tmp/s.gguf" | grep -q "vocab_size: *520" \
  && "$herd" run -m "$tmp/s.gguf" -p "little girl" -n 8 --temp 0 >/dev/null 2>&1 \
  && ok "llama2.c stories260K + -z grown to 520 and runs" || bad "llama2.c + -z"
ONE_LINE=1 expect_error "byte-level BPE refused" "only SentencePiece" -- \
  "$herd" extend-vocab -z "$l3" -o "$tmp/e.model" --pieces "$tmp/p.txt"
ONE_LINE=1 expect_error "--from a byte-level BPE refused" "only" -- \
  "$herd" extend-vocab -z "$l2" -o "$tmp/e.model" --from "$l3"

# ---- 3. python3-sentencepiece is the reference ----
if ! "$py" -c 'import sentencepiece' 2>/dev/null; then
  echo "SKIP: no python3-sentencepiece"; [ $fail = 0 ] && exit 77 || exit 1
fi
# New pieces: Chinese words (characters Llama 2 has and lacks), words run
# together across spaces, emoji, an accented word.
cat >"$tmp/zh.txt" <<'EOF'
 你好
 世界
 你好世界
 中华人民共和国
 鑫淼
 hello world
 machine learning
 🦙🦙
 naïveté
 the quick brown
EOF
"$herd" extend-vocab -z "$l2" -o "$tmp/ext.model" --pieces "$tmp/zh.txt" -q \
  && ok "llama2 + --pieces" || bad "llama2 + --pieces"
# A tokenizer learned on Chinese text, merged in with --from.
"$py" - "$tmp/corpus.txt" <<'PY'
import sys, random
random.seed(7)
words = ["你好", "世界", "我们", "中国", "学习", "机器", "语言", "模型", "今天", "天气",
         "很好", "喜欢", "读书", "羊驼", "北京", "上海", "人工智能", "大家"]
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for _ in range(400):
        f.write("".join(random.choice(words) for _ in range(random.randint(3, 12))) + "\n")
PY
"$herd" train-tokenizer -i "$tmp/corpus.txt" -o "$tmp/zh.model" --vocab-size 400 -q 2>/dev/null \
  && "$herd" extend-vocab -z "$l2" -o "$tmp/from.model" --from "$tmp/zh.model" 2>"$tmp/err" \
  && ok "llama2 + --from: $(head -n 1 "$tmp/err")" || { bad "llama2 + --from"; cat "$tmp/err"; }

cat >"$tmp/cmp.py" <<'PY'
import sys, json, random, sentencepiece as spm
l2, ext, out, mode = sys.argv[1:5]
old = spm.SentencePieceProcessor(model_file=l2)
new = spm.SentencePieceProcessor(model_file=ext)
n_old = old.vocab_size()
new_pieces = [new.id_to_piece(i) for i in range(n_old, new.vocab_size())]
assert all(new.id_to_piece(i) == old.id_to_piece(i) for i in range(n_old)), "old ids moved"
random.seed(11)
surfaces = [p.replace("\u2581", " ") for p in new_pieces]
fill = ["the", "a", "cat", "模型", "很", "and", "好", "学习", "!", "123", "world", "hello",
        "é", "🙂", "\n", "  ", "你"]
texts = []
for k in range(120):
    parts = [random.choice(surfaces if random.random() < 0.5 else fill)
             for _ in range(random.randint(1, 8))]
    parts.insert(random.randint(0, len(parts)), random.choice(surfaces))
    texts.append("".join(p if random.random() < 0.5 else " " + p for p in parts))
with open(out + ".jsonl", "w", encoding="utf-8") as f:
    for t in texts:
        f.write(json.dumps(t) + "\n")
with open(out + ".want", "w") as f:
    for t in texts:
        f.write(json.dumps(new.encode(t)) + "\n")
uses_new = sum(any(i >= n_old for i in new.encode(t)) for t in texts)
# Texts in whose normalized form no new piece occurs encode as before.
plain = ["Hello world, this is an old vocabulary.", "naive cafe", "日本語のテキスト",
         "machine  learning is fun", "hello, world", "the quick fox", "Ελληνικά 123",
         "Good morning!\n\tTabs and  spaces ", "你们", "emoji 😀 and ¿qué?"]
norm = lambda t: "\u2581" + t.replace(" ", "\u2581")  # Llama 2 keeps runs of spaces
same = [t for t in plain if not any(p in norm(t) for p in new_pieces)]
assert len(same) >= 6, same
diff = [t for t in same if old.encode(t) != new.encode(t)]
# A new piece on its own is its new id.
solo = [p for p in new_pieces if p.startswith("\u2581")][-1]
solo_ok = mode != "pieces" or new.encode(solo.replace("\u2581", " ").lstrip()) == [new.piece_to_id(solo)]
print(json.dumps({"uses_new": uses_new, "n": len(texts), "unchanged_bad": diff,
                  "plain": len(same), "solo_ok": solo_ok}))
PY
for ext in ext from; do
  mode=pieces; [ $ext = from ] && mode=from
  "$py" "$tmp/cmp.py" "$l2" "$tmp/$ext.model" "$tmp/$ext" $mode >"$tmp/$ext.res" \
    || { bad "$ext: sentencepiece could not use it"; continue; }
  "$herd" tokenize -z "$tmp/$ext.model" --jsonl <"$tmp/$ext.jsonl" >"$tmp/$ext.got" 2>"$tmp/err" \
    || { bad "$ext: herd tokenize"; cat "$tmp/err"; }
  if "$py" -c 'import sys, json
a = [json.loads(l) for l in open(sys.argv[1])]; b = [json.loads(l) for l in open(sys.argv[2])]
sys.exit(a != b or len(a) < 100)' "$tmp/$ext.want" "$tmp/$ext.got"; then
    ok "$ext: herd's ids are sentencepiece's for $(wc -l <"$tmp/$ext.want") texts: $(cat "$tmp/$ext.res")"
  else
    bad "$ext: ids differ from sentencepiece's"
    diff "$tmp/$ext.want" "$tmp/$ext.got" | head -6
  fi
  "$py" -c 'import sys, json; r = json.load(open(sys.argv[1]))
sys.exit(not (r["uses_new"] >= 100 and not r["unchanged_bad"] and r["solo_ok"]))' "$tmp/$ext.res" \
    && ok "$ext: new pieces used, texts without them unchanged (sentencepiece)" \
    || bad "$ext: $(cat "$tmp/$ext.res")"
done
exit $fail

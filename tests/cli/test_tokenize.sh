#!/usr/bin/env bash
# herd tokenize / herd detokenize against independent references: Debian's
# python3-sentencepiece on the Llama 2 tokenizer, and the Hugging Face
# tokenizers golden ids in tests/fixtures/bpe_llama3*.txt for Llama 3 (both
# its tokenizer.json and Meta's tokenizer.model). Also exact-byte round trips,
# --jsonl both ways, --special, and bad input giving a clear error and exit 1.
# Exit 77 when ../shared's tokenizers or python3-sentencepiece are absent.
set -u
herd="$HERD_BIN/herd"
src="${HERD_SOURCE:-.}"
shared="${HERD_SHARED:-}"
py=/usr/bin/python3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }

# expect_error DESCRIPTION RC PATTERN -- command... (stdin from $tmp/in):
# exits RC (not a signal) and stderr matches PATTERN.
expect_error() {
  local what="$1" want="$2" pat="$3"; shift 4
  "$@" <"$tmp/in" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -ne "$want" ]; then bad "$what: exit $rc, want $want"; cat "$tmp/err"; return; fi
  if ! grep -qi -- "$pat" "$tmp/err"; then bad "$what: stderr lacks '$pat'"; cat "$tmp/err"; return; fi
  ok "$what: $(head -n 1 "$tmp/err")"
}

for cmd in tokenize detokenize; do
  "$herd" $cmd --help >"$tmp/out" 2>&1 && grep -q "usage: herd $cmd" "$tmp/out" \
    && ok "$cmd --help" || bad "$cmd --help"
done
"$herd" --help | grep -q "detokenize" && ok "herd --help lists detokenize" || bad "herd --help"

# The shipped model's tokenizer (no -m, no -z): a round trip.
printf 'Hello world\n' >"$tmp/in"
"$herd" tokenize <"$tmp/in" >"$tmp/ids" 2>"$tmp/err" && "$herd" detokenize <"$tmp/ids" >"$tmp/back" \
  && cmp -s "$tmp/in" "$tmp/back" && ok "shipped model round trip" \
  || { bad "shipped model round trip"; cat "$tmp/err"; }

l2="$shared/tokenizers/llama2/tokenizer.model"
l3j="$shared/tokenizers/llama3/tokenizer.json"
l3m="$shared/tokenizers/llama3/tokenizer.model"
if [ ! -f "$l2" ] || [ ! -f "$l3j" ] || [ ! -f "$l3m" ] || \
   ! "$py" -c 'import sentencepiece' 2>/dev/null; then
  echo "SKIP: no shared tokenizers or no /usr/bin/python3 with sentencepiece"
  [ $fail = 0 ] && exit 77 || exit 1
fi

# ---- the references, prepared by Python in one go ----
# text<i>: texts of every UTF-8 width, emoji, newlines, spaces at the ends,
#   with .ids, .pieces (escaped as herd prints them) and .bos from
#   sentencepiece (Llama 2);
# l3text<k> / l3text<k>.ids: every 100th line of bpe_llama3.txt, unescaped;
# l3.jsonl / l3.want: every 8th line as JSON strings / JSON arrays of ids;
# sp.jsonl / sp.special / sp.plain: bpe_llama3_special.txt likewise, ids
#   with special tokens parsed and as plain text.
cat >"$tmp/prep.py" <<'PY'
import sys, os, re, json, sentencepiece as s
l2, d, fx = sys.argv[1], sys.argv[2], sys.argv[3]
texts = [
    "Hello world",
    "  leading spaces and trailing  ",
    "line one\nline two\n\n\ttabbed\r\n",
    "héllo wörld — ça va? Ελληνικά кириллица",
    "日本語のテキスト、中文文本，한국어 텍스트",
    "emoji 😀👍🏽 and 👨\u200d👩\u200d👧 family",
    "numbers 1234567 3.14159 and 12,345",
    "\n",
    "x",
    "<s>not a control token</s> [INST] <<SYS>>",
]
sp = s.SentencePieceProcessor(model_file=l2)
def esc(p):
    m = {"\n": "\\n", "\t": "\\t", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
    return '"' + "".join(m.get(ch) or ("\\x%02X" % ord(ch) if ord(ch) < 0x20 or ord(ch) == 0x7f
                                       else ch) for ch in p) + '"'
def put(name, data):
    open(os.path.join(d, name), "wb").write(data.encode() if isinstance(data, str) else data)
for i, t in enumerate(texts):
    ids = sp.encode(t)
    put("text%d" % i, t)
    put("text%d.ids" % i, " ".join(map(str, ids)) + "\n")
    put("text%d.pieces" % i, "".join(esc(sp.id_to_piece(x)) + "\n" for x in ids))
    put("text%d.bos" % i, " ".join(map(str, [sp.bos_id()] + ids + [sp.eos_id()])) + "\n")
put("t.jsonl", "".join(json.dumps(t) + "\n" for t in texts))
def rows(name):
    return [l.rstrip("\n").split("\t") for l in open(os.path.join(fx, name), encoding="utf-8")
            if not l.startswith("#")]
def unescape(x):
    return re.sub(r"\\(\\|t|n|r|u\{([0-9a-f]+)\})", lambda m: {"\\\\": "\\", "\\t": "\t",
        "\\n": "\n", "\\r": "\r"}.get(m.group(0)) or chr(int(m.group(2), 16)), x)
arr = lambda ids: "[" + ",".join(ids.split()) + "]\n"
r = rows("bpe_llama3.txt")
for k, (text, ids) in enumerate(r[::100]):
    put("l3text%d" % k, unescape(text))
    put("l3text%d.ids" % k, ids + "\n")
put("l3.jsonl", "".join(json.dumps(unescape(t)) + "\n" for t, _ in r[::8]))
put("l3.want", "".join(arr(ids) for _, ids in r[::8]))
r = rows("bpe_llama3_special.txt")
put("sp.jsonl", "".join(json.dumps(unescape(t)) + "\n" for t, _, _ in r))
put("sp.special", "".join(arr(ids) for _, ids, _ in r))
put("sp.plain", "".join(arr(ids) for _, _, ids in r))
PY
"$py" "$tmp/prep.py" "$l2" "$tmp" "$src/tests/fixtures" || { echo "FAIL: prep.py"; exit 1; }
texts=$(ls "$tmp"/text[0-9] | sort -V)
# same_json A B: the files hold the same JSON values, line by line.
same_json() {
  "$py" -c 'import sys, json
a = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
b = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
sys.exit(a != b)' "$1" "$2"
}

# ---- Llama 2: sentencepiece is the reference ----
n=0
for f in $texts; do
  "$herd" tokenize -z "$l2" <"$f" >"$tmp/got" 2>"$tmp/err" && cmp -s "$f.ids" "$tmp/got" \
    || { bad "llama2 ids of $(basename "$f"): want $(cat "$f.ids") got $(cat "$tmp/got")"; cat "$tmp/err"; }
  "$herd" tokenize -z "$l2" --pieces <"$f" >"$tmp/got" && cmp -s "$f.pieces" "$tmp/got" \
    || { bad "llama2 pieces of $(basename "$f")"; diff "$f.pieces" "$tmp/got" | head; }
  "$herd" detokenize -z "$l2" <"$f.ids" >"$tmp/back" && cmp -s "$f" "$tmp/back" \
    || bad "llama2 detokenize of $(basename "$f")"
  n=$((n + 1))
done
ok "llama2: ids, pieces and detokenize of $n texts as sentencepiece gives them"
f="$tmp/text3"
"$herd" tokenize -z "$l2" --bos --eos -p "$(cat "$f")" >"$tmp/got" && cmp -s "$f.bos" "$tmp/got" \
  && ok "llama2 --bos --eos: $(cut -c1-40 "$tmp/got")..." || bad "llama2 --bos --eos"
# sentencepiece's decode of ids with BOS/EOS gives the text alone.
"$herd" detokenize -z "$l2" <"$tmp/got" >"$tmp/back" && cmp -s "$f" "$tmp/back" \
  && ok "llama2 detokenize skips <s> and </s>" || bad "llama2 detokenize of BOS ... EOS"

# ---- Llama 3: the Hugging Face golden ids, tokenizer.json and Meta's file ----
for tok in "$l3j" "$l3m"; do
  name=$(basename "$tok")
  n=0; nbad=0
  # (tokenizer.json takes a quarter second to load: plain mode on 3 lines)
  files=$(ls "$tmp"/l3text[0-9]* | grep -v ids | sort -V)
  [ "$tok" = "$l3j" ] && files=$(echo "$files" | head -n 3)
  for f in $files; do
    "$herd" tokenize -z "$tok" <"$f" >"$tmp/got" 2>"$tmp/err" && cmp -s "$f.ids" "$tmp/got" \
      || { nbad=1; bad "llama3 $name $(basename "$f"): want $(cat "$f.ids") got $(cat "$tmp/got") $(cat "$tmp/err")"; }
    "$herd" detokenize -z "$tok" <"$f.ids" >"$tmp/back" && cmp -s "$f" "$tmp/back" \
      || { nbad=1; bad "llama3 $name detokenize of $(basename "$f")"; }
    n=$((n + 1))
  done
  [ $nbad = 0 ] && ok "llama3 $name: $n golden lines tokenize and detokenize exactly"
  "$herd" tokenize -z "$tok" --jsonl <"$tmp/l3.jsonl" >"$tmp/got" && cmp -s "$tmp/l3.want" "$tmp/got" \
    && ok "llama3 $name --jsonl: $(wc -l <"$tmp/got") golden lines" \
    || { bad "llama3 $name tokenize --jsonl"; diff "$tmp/l3.want" "$tmp/got" | head -5; }
  "$herd" detokenize -z "$tok" --jsonl <"$tmp/l3.want" >"$tmp/got" 2>"$tmp/err" \
    && same_json "$tmp/l3.jsonl" "$tmp/got" && ok "llama3 $name detokenize --jsonl gives the texts" \
    || { bad "llama3 $name detokenize --jsonl"; cat "$tmp/err"; }
  # Special tokens: parsed with --special, plain text without.
  "$herd" tokenize -z "$tok" --jsonl --special <"$tmp/sp.jsonl" >"$tmp/got" \
    && cmp -s "$tmp/sp.special" "$tmp/got" && ok "llama3 $name --special: $(wc -l <"$tmp/got") golden lines" \
    || { bad "llama3 $name --special"; diff "$tmp/sp.special" "$tmp/got" | head -5; }
  "$herd" tokenize -z "$tok" --jsonl <"$tmp/sp.jsonl" >"$tmp/got" \
    && cmp -s "$tmp/sp.plain" "$tmp/got" && ok "llama3 $name special tokens as plain text" \
    || { bad "llama3 $name special tokens as text"; diff "$tmp/sp.plain" "$tmp/got" | head -5; }
done
got=$("$herd" tokenize -z "$l3m" --special -p "<|eot_id|>")
[ "$got" = 128009 ] && ok "--special <|eot_id|> = 128009" || bad "--special <|eot_id|>: $got"
got=$("$herd" tokenize -z "$l3m" -p "<|eot_id|>")
[ "$(echo "$got" | wc -w)" -gt 3 ] && ok "<|eot_id|> as text: $got" || bad "<|eot_id|> as text: $got"
got=$("$herd" tokenize -z "$l3m" --bos --eos -p "Hi")
[ "$got" = "128000 13347 128001" ] && ok "llama3 --bos --eos: $got" || bad "llama3 --bos --eos: $got"
got=$("$herd" tokenize -z "$l3m" --pieces -p $'a\tb\n"q" \\ é\xff')
want=$'"a"\n"\\tb"\n"\\n"\n"\\""\n"q"\n"\\""\n" \\\\"\n" é"\n"\\xFF"'
[ "$got" = "$want" ] && ok "llama3 --pieces escapes" || { bad "llama3 --pieces"; echo "$got"; }

# ---- exact round trips: every text, invalid UTF-8 too ----
printf 'bad \xff\xfe utf-8 \xe2\x82 cut \xf0\x9f\x98' >"$tmp/text_bad"
n=0
for f in $texts "$tmp/text_bad"; do
  for tok in "$l2" "$l3m"; do
    "$herd" tokenize -z "$tok" <"$f" | "$herd" detokenize -z "$tok" >"$tmp/back" \
      && cmp -s "$f" "$tmp/back" || bad "round trip of $(basename "$f") with $tok"
    n=$((n + 1))
  done
done
for f in "$tmp/text5" "$tmp/text_bad"; do
  "$herd" tokenize -z "$l3j" <"$f" | "$herd" detokenize -z "$l3j" >"$tmp/back" \
    && cmp -s "$f" "$tmp/back" || bad "round trip of $(basename "$f") with $l3j"
  n=$((n + 1))
done
ok "$n round trips give the exact bytes"

# --jsonl round trip of the texts.
for tok in "$l2" "$l3m"; do
  "$herd" tokenize -z "$tok" --jsonl <"$tmp/t.jsonl" | "$herd" detokenize -z "$tok" --jsonl >"$tmp/got" \
    && [ "$(wc -l <"$tmp/got")" = 10 ] && same_json "$tmp/t.jsonl" "$tmp/got" \
    && ok "--jsonl round trip, $tok" || bad "--jsonl round trip, $tok"
done
# Each --jsonl line gives the ids sentencepiece gives for that text.
"$herd" tokenize -z "$l2" --jsonl <"$tmp/t.jsonl" >"$tmp/got"
for f in $texts; do echo "[$(tr ' ' ',' <"$f.ids")]"; done >"$tmp/want"
cmp -s "$tmp/want" "$tmp/got" && ok "llama2 --jsonl lines as sentencepiece" \
  || { bad "llama2 --jsonl"; diff "$tmp/want" "$tmp/got"; }

# detokenize --jsonl of ids that cut a character: U+FFFD, as Python's
# errors='replace' decodes the same bytes, and a warning.
ids=$("$herd" tokenize -z "$l3m" <"$tmp/text_bad" | tr ' ' ',')
echo "[$ids]" | "$herd" detokenize -z "$l3m" --jsonl >"$tmp/got" 2>"$tmp/err"
"$py" -c 'import sys, json
sys.exit(json.loads(open(sys.argv[2]).read()) != open(sys.argv[1], "rb").read().decode("utf-8", "replace"))' \
  "$tmp/text_bad" "$tmp/got" && grep -q "U+FFFD" "$tmp/err" \
  && ok "invalid UTF-8 in --jsonl output: U+FFFD like Python, warned" || { bad "invalid UTF-8 in --jsonl"; cat "$tmp/got" "$tmp/err"; }
# Byte tokens (GPT-2's byte order: 188 = 0x00, 189 = 0x01, 197 = \t, 198 = \n,
# 1 = ", 59 = \, 221 = 0x7F) come back escaped, NUL included.
echo '[188, 189, 197, 198, 1, 59, 221]' | "$herd" detokenize -z "$l3m" --jsonl >"$tmp/got"
"$py" -c 'import sys, json
sys.exit(json.loads(open(sys.argv[1]).read()) != "\x00\x01\t\n\"\\\x7f")' "$tmp/got" \
  && grep -qF '"\u0000\u0001\t\n\"\\' "$tmp/got" \
  && ok "detokenize --jsonl escapes: $(cat -v "$tmp/got")" || { bad "detokenize --jsonl escapes"; cat -A "$tmp/got"; }
printf '"\\u0001\\t\\"x\\""\n' | "$herd" tokenize -z "$l3m" --jsonl | "$herd" detokenize -z "$l3m" --jsonl >"$tmp/got"
[ "$(cat "$tmp/got")" = '"\u0001\t\"x\""' ] && ok "control characters survive --jsonl" || { bad "control chars --jsonl"; cat "$tmp/got"; }

# ---- bad input: a clear error naming the line, exit 1 ----
printf '"fine"\n{"not": "a string"}\n' >"$tmp/in"
expect_error "tokenize --jsonl: an object" 1 "line 2" -- "$herd" tokenize -z "$l3m" --jsonl
printf '"fine"\n"unterminated\n' >"$tmp/in"
expect_error "tokenize --jsonl: malformed" 1 "line 2: not a JSON string" -- "$herd" tokenize -z "$l2" --jsonl
printf '"a" "b"\n' >"$tmp/in"
expect_error "tokenize --jsonl: two values" 1 "line 1" -- "$herd" tokenize -z "$l2" --jsonl
printf '"a\\u0000b"\n' >"$tmp/in"
expect_error "tokenize --jsonl: NUL" 1 "line 1.*u0000" -- "$herd" tokenize -z "$l2" --jsonl
printf '1 2 3\n4 32000 5\n' >"$tmp/in"
expect_error "detokenize: id out of range" 1 "line 2: token id 32000 is out of range" -- "$herd" detokenize -z "$l2"
printf '1 2\n\n3 x4\n' >"$tmp/in"
expect_error "detokenize: not a number" 1 "line 3: 'x4' is not a token id" -- "$herd" detokenize -z "$l2"
printf -- '-1\n' >"$tmp/in"
expect_error "detokenize: negative" 1 "line 1" -- "$herd" detokenize -z "$l2"
printf '99999999999999999999999\n' >"$tmp/in"
expect_error "detokenize: huge" 1 "out of range" -- "$herd" detokenize -z "$l3m"
printf '[1, 2]\n[1, 128256]\n' >"$tmp/in"
expect_error "detokenize --jsonl: id out of range" 1 "line 2: token id 128256" -- "$herd" detokenize -z "$l3m" --jsonl
printf '[1, 2]\n[1, 2]\n[1.5]\n' >"$tmp/in"
expect_error "detokenize --jsonl: fraction" 1 "line 3.*whole number" -- "$herd" detokenize -z "$l3m" --jsonl
printf '[1, "2"]\n' >"$tmp/in"
expect_error "detokenize --jsonl: a string id" 1 "line 1: element 2" -- "$herd" detokenize -z "$l3m" --jsonl
printf '[1, 2\n' >"$tmp/in"
expect_error "detokenize --jsonl: malformed" 1 "line 1: not a JSON array" -- "$herd" detokenize -z "$l3m" --jsonl
printf '[1e300]\n' >"$tmp/in"
expect_error "detokenize --jsonl: 1e300" 1 "line 1" -- "$herd" detokenize -z "$l3m" --jsonl
: >"$tmp/in"
expect_error "missing tokenizer file" 1 "nope.model" -- "$herd" tokenize -z "$tmp/nope.model"
expect_error "both -m and -z" 2 "not both" -- "$herd" tokenize -z "$l2" -m "$l2"
expect_error "--pieces with --jsonl" 2 "do not go together" -- "$herd" tokenize -z "$l2" --pieces --jsonl
expect_error "unknown option" 2 "unknown option" -- "$herd" detokenize --bos
expect_error "flag without value" 2 "needs a value" -- "$herd" tokenize -z
# Empty input: no ids, nothing back.
got=$("$herd" tokenize -z "$l3m" </dev/null) && [ -z "$got" ] && ok "empty text: no ids" || bad "empty text"
exit $fail

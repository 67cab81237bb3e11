#!/usr/bin/env bash
# herd prepare as a user meets it, its shards read back by a Python reader
# written here from the format in src/train/data.h:
#  1. help; the shipped model's tokenizer (-m) gives uint16 shards;
#     bad flags exit 2; a bad JSONL line names file:line and exits 1 (or is
#     skipped and counted with --skip-bad); empty input, one document and a
#     missing file exit 1 and leave no shard (nor a .tmp) behind.
#  2. With the Llama 2 tokenizer (../shared) and python3-sentencepiece: the
#     documents of every --doc-sep mode and of JSONL, as the test cut them,
#     are exactly the shards' documents (train and validation together),
#     each BOS + sentencepiece's ids + EOS; the totals equal herd tokenize's
#     --bos --eos; the split is deterministic in --seed, near
#     --val-fraction, and never leaves a side empty.
#  3. With Llama 3's tokenizer.model: uint32 shards, ids as herd tokenize.
# Exit 77 (after part 1) without ../shared's tokenizers or sentencepiece.
set -u
src="${HERD_SOURCE:-.}"
shared="${HERD_SHARED:-../shared}"
py=/usr/bin/python3
l2="$shared/tokenizers/llama2/tokenizer.model"
l3="$shared/tokenizers/llama3/tokenizer.model"
. "$(dirname "$0")/lib.sh"
[ -x "$py" ] || { echo "SKIP: no /usr/bin/python3"; exit 77; }

# read_shard FILE: the header checked against the file's size and layout,
# then one JSON line {"width", "vocab", "docs": [[ids...], ...]}.
cat >"$tmp/read_shard.py" <<'PY'
import sys, struct, json
b = open(sys.argv[1], "rb").read()
magic, ver, width, vocab, res, nt, nd = struct.unpack_from("<8sIIIIQQ", b, 0)
assert magic == b"HERDTOK1" and ver == 1 and res == 0 and width in (2, 4), (magic, ver, width)
assert (width == 2) == (vocab <= 65536), (width, vocab)
fmt = "<%d%s" % (nt, "H" if width == 2 else "I")
ids = list(struct.unpack_from(fmt, b, 40))
off_at = (40 + nt * width + 7) // 8 * 8
assert len(b) == off_at + 8 * (nd + 1), "size"
offs = struct.unpack_from("<%dQ" % (nd + 1), b, off_at)
assert offs[0] == 0 and offs[-1] == nt and all(x < y for x, y in zip(offs, offs[1:]))
assert all(0 <= i < vocab for i in ids)
docs = [ids[offs[k]:offs[k + 1]] for k in range(nd)]
print(json.dumps({"width": width, "vocab": vocab, "docs": docs}))
PY
shard() { "$py" "$tmp/read_shard.py" "$1"; }
# ndocs PREFIX SIDE: documents in PREFIX.SIDE.bin
ndocs() { shard "$1.$2.bin" | "$py" -c 'import sys, json; print(len(json.load(sys.stdin)["docs"]))'; }
# no_output PREFIX: neither shard nor a temporary file exists
no_output() { ! ls "$1".train.bin* "$1".val.bin* >/dev/null 2>&1; }

# ---- 1. the command line ----
"$herd" prepare --help >"$tmp/out" && grep -q "usage: herd prepare" "$tmp/out" \
  && ok "prepare --help" || bad "prepare --help"
"$herd" --help | grep -q prepare && ok "herd --help lists prepare" || bad "herd --help lists prepare"

rand="$HERD_BIN/models/herd-random.gguf"
printf 'First paragraph,\nstill the first.\n\n\n  \nSecond one.\n\nThird\r\nwith CRLF.\r\n' >"$tmp/a.txt"
"$herd" prepare -m "$rand" -i "$tmp/a.txt" -o "$tmp/r" -q >"$tmp/out" 2>"$tmp/err" \
  && shard "$tmp/r.train.bin" >"$tmp/t.json" && shard "$tmp/r.val.bin" >"$tmp/v.json" \
  && grep -q '"width": 2' "$tmp/t.json" && [ "$(ndocs "$tmp/r" train)" -ge 1 ] \
  && [ $(( $(ndocs "$tmp/r" train) + $(ndocs "$tmp/r" val) )) = 3 ] \
  && grep -q "3 documents.*tokens/s" "$tmp/out" && [ ! -s "$tmp/err" ] \
  && ok "shipped model's tokenizer: 3 paragraphs, uint16, -q: $(head -n 1 "$tmp/out")" \
  || { bad "prepare with the shipped model"; cat "$tmp/out" "$tmp/err"; }
# The documents end where the test says: each is BOS + herd tokenize + EOS.
printf '%s\n' '"First paragraph,\nstill the first."' '"Second one."' '"Third\r\nwith CRLF."' >"$tmp/a.jsonl"
"$herd" tokenize -m "$rand" --jsonl --bos --eos <"$tmp/a.jsonl" >"$tmp/want"
cat "$tmp/t.json" "$tmp/v.json" >"$tmp/tv.json"
"$py" -c 'import sys, json
got = sorted(d for l in open(sys.argv[1]) for d in json.loads(l)["docs"])
want = sorted(json.loads(l) for l in open(sys.argv[2]))
sys.exit(got != want)' "$tmp/tv.json" "$tmp/want" 2>"$tmp/err" \
  && ok "paragraph documents equal herd tokenize --bos --eos of each" \
  || { bad "paragraph documents"; cat "$tmp/err" "$tmp/tv.json" "$tmp/want"; }

ONE_LINE=0
expect_error "no tokenizer" "-z TOKENIZER or -m MODEL" -- "$herd" prepare -i "$tmp/a.txt" -o "$tmp/x"
expect_error "no output" "-o PREFIX" -- "$herd" prepare -m "$rand" -i "$tmp/a.txt"
expect_error "bad --doc-sep" "not file, line or blank" -- "$herd" prepare -m "$rand" -i "$tmp/a.txt" -o "$tmp/x" --doc-sep para
expect_error "bad --val-fraction" "val-fraction" -- "$herd" prepare -m "$rand" -i "$tmp/a.txt" -o "$tmp/x" --val-fraction 1.5
"$herd" prepare -i "$tmp/a.txt" -o "$tmp/x" 2>/dev/null; [ $? = 2 ] && ok "bad flags exit 2" || bad "bad flags exit code"
printf '{"text": "one"}\n\n{"text": "two"}\n{"text": 3}\n{"text": "four"}\n{"txt": "five"}\nnot json\n' >"$tmp/bad.jsonl"
expect_error "bad JSONL line" "bad.jsonl:4: no \"text\" string" -- "$herd" prepare -m "$rand" -i "$tmp/bad.jsonl" -o "$tmp/x" -q
no_output "$tmp/x" && ok "no shard after a bad line" || bad "a shard left after a bad line"
"$herd" prepare -m "$rand" -i "$tmp/bad.jsonl" -o "$tmp/x" -q --skip-bad >"$tmp/out" 2>"$tmp/err" \
  && grep -q "3 documents.*3 bad lines skipped" "$tmp/out" \
  && [ $(( $(ndocs "$tmp/x" train) + $(ndocs "$tmp/x" val) )) = 3 ] \
  && ok "--skip-bad: $(head -n 1 "$tmp/out")" || { bad "--skip-bad"; cat "$tmp/out" "$tmp/err"; }
rm -f "$tmp"/x.*
: >"$tmp/empty.txt"
printf '\n  \n\n' >"$tmp/blank.txt"
expect_error "empty input" "no documents" -- "$herd" prepare -m "$rand" -i "$tmp/empty.txt" -i "$tmp/blank.txt" -o "$tmp/x"
no_output "$tmp/x" && ok "no shard after empty input" || bad "a shard left after empty input"
printf 'just one\n' >"$tmp/one.txt"
expect_error "one document" "need at least 2 documents" -- "$herd" prepare -m "$rand" -i "$tmp/one.txt" -o "$tmp/x"
no_output "$tmp/x" && ok "no shard after one document" || bad "a shard left after one document"
expect_error "missing input" "nope.txt" -- "$herd" prepare -m "$rand" -i "$tmp/nope.txt" -o "$tmp/x"
expect_error "unwritable output" "no/such" -- "$herd" prepare -m "$rand" -i "$tmp/a.txt" -o "$tmp/no/such/x"
printf '{"text": "a\\u0000b"}\n{"text": "c"}\n' >"$tmp/nul.jsonl"
expect_error "NUL in JSONL" "nul.jsonl:1:.*NUL" -- "$herd" prepare -m "$rand" -i "$tmp/nul.jsonl" -o "$tmp/x"

if [ ! -f "$l2" ] || [ ! -f "$l3" ] || ! "$py" -c 'import sentencepiece' 2>/dev/null; then
  echo "SKIP: no shared tokenizers or no python3-sentencepiece"
  [ $fail = 0 ] && exit 77 || exit 1
fi

# ---- 2. Llama 2: the documents against sentencepiece ----
# The test cuts the corpus itself: docs.json holds the documents of each
# input as they must come out, the files hold them joined for each mode.
cat >"$tmp/make.py" <<'PY'
import sys, os, json, random
d = sys.argv[1]
r = random.Random(5)
words = ["the", "cat", "sat", "héllo", "wörld", "日本語", "😀", "über", "on", "a",
         "mat", "1234", "x", "—", "naïve", "кот", "and", "then", "\t", "3.14"]
def line():
    while True: # a line of only whitespace would end the paragraph
        l = " ".join(r.choice(words) for _ in range(r.randint(1, 12)))
        if l.strip():
            return l
def para():
    return "\n".join(line() for _ in range(r.randint(1, 3)))
paras = [para() for _ in range(150)]
paras[3] = "  indented start, trailing space "
seps = ["\n\n", "\n\n\n", "\n \n", "\n\t\n\n"]
text = paras[0]
for p in paras[1:]:
    text += r.choice(seps) + p
open(os.path.join(d, "p.txt"), "w").write("\n\n" + text + "\n")
lines = [l for p in paras for l in p.split("\n") if l.strip()]
open(os.path.join(d, "l.txt"), "w").write("\n".join(lines) + "\n")
files = paras[:5]
for i, f in enumerate(files):
    open(os.path.join(d, "f%d.txt" % i), "w").write(f + "\n")
jl = paras[5:60]
with open(os.path.join(d, "c.jsonl"), "w") as f:
    for i, t in enumerate(jl):
        f.write(json.dumps({"id": i, "text": t}, ensure_ascii=i % 2 == 0) + "\n")
json.dump({"blank": paras, "line": lines, "file": [f + "\n" for f in files], "jsonl": jl},
          open(os.path.join(d, "docs.json"), "w"))
PY
"$py" "$tmp/make.py" "$tmp" || { echo "FAIL: make.py"; exit 1; }

# check PREFIX MODE: the shards hold exactly BOS + sp.encode(doc) + EOS for
# each document of MODE, the validation share is sane, both sides non-empty.
cat >"$tmp/check.py" <<'PY'
import sys, json, sentencepiece as s
sp = s.SentencePieceProcessor(model_file=sys.argv[1])
prefix, mode, frac = sys.argv[2], sys.argv[3], float(sys.argv[4])
want = sorted([sp.bos_id()] + sp.encode(t) + [sp.eos_id()] for t in json.load(open(sys.argv[5]))[mode])
tr, va = (json.loads(l)["docs"] for l in sys.stdin)
got = sorted(tr + va)
if got != want:
    print("documents differ: %d got, %d want; first differing: %s" % (len(got), len(want),
          next(((g, w) for g, w in zip(got, want) if g != w), None)))
    sys.exit(1)
n = len(want)
if not tr or not va or abs(len(va) - frac * n) > 4 * (frac * (1 - frac) * n) ** 0.5 + 1:
    print("split %d / %d for fraction %g" % (len(tr), len(va), frac)); sys.exit(1)
print("%d documents, %d tokens, %d for validation" % (n, sum(map(len, got)), len(va)))
PY
check() { # check PREFIX MODE FRACTION
  { shard "$1.train.bin"; shard "$1.val.bin"; } | "$py" "$tmp/check.py" "$l2" "$1" "$2" "$3" "$tmp/docs.json"
}
for mode in blank line; do
  f=$([ $mode = blank ] && echo p.txt || echo l.txt)
  "$herd" prepare -z "$l2" -i "$tmp/$f" --doc-sep $mode --val-fraction 0.2 -o "$tmp/$mode" -q >"$tmp/out" 2>&1 \
    && r=$(check "$tmp/$mode" $mode 0.2) && ok "--doc-sep $mode: $r as sentencepiece" \
    || { bad "--doc-sep $mode: $r"; cat "$tmp/out"; }
done
"$herd" prepare -z "$l2" $(for i in 0 1 2 3 4; do echo -i "$tmp/f$i.txt"; done) --doc-sep file -o "$tmp/file" \
  --val-fraction 0.5 -q >"$tmp/out" 2>&1 && r=$(check "$tmp/file" file 0.5) && ok "--doc-sep file: $r" \
  || { bad "--doc-sep file: $r"; cat "$tmp/out"; }
"$herd" prepare -z "$l2" -i "$tmp/c.jsonl" -o "$tmp/jsonl" --val-fraction 0.1 -t 2 >"$tmp/out" 2>"$tmp/err" \
  && r=$(check "$tmp/jsonl" jsonl 0.1) && ok "JSONL: $r" || { bad "JSONL: $r"; cat "$tmp/out"; }
grep -q "prepare .*MB/s" "$tmp/err" && ok "progress line: $(tr '\r' '\n' <"$tmp/err" | tail -n 1)" \
  || { bad "no progress line"; cat "$tmp/err"; }

# The token totals as herd tokenize counts them, and the summary says so.
"$py" -c 'import json, sys; [print(json.dumps(t)) for t in json.load(open(sys.argv[1]))["blank"]]' \
  "$tmp/docs.json" >"$tmp/blank.jsonl"
want=$("$herd" tokenize -z "$l2" --jsonl --bos --eos <"$tmp/blank.jsonl" | tr -cd ',\n' | wc -c)
got=$({ shard "$tmp/blank.train.bin"; shard "$tmp/blank.val.bin"; } | "$py" -c 'import sys, json
print(sum(len(d) for l in sys.stdin for d in json.loads(l)["docs"]))')
"$herd" prepare -z "$l2" -i "$tmp/p.txt" --val-fraction 0.2 -o "$tmp/blank" -q >"$tmp/out"
sumline=$(sed -n 's/^ *\(train\|validation\): *[0-9]* documents, \([0-9]*\) tokens.*/\2/p' "$tmp/out" | paste -sd+)
sumline=$((${sumline:-0}))
[ "$got" = "$want" ] && [ "$sumline" = "$want" ] && ok "$got tokens in all, as herd tokenize --bos --eos and the summary say" \
  || bad "token totals: shards $got, herd tokenize $want, summary $sumline"

# The split: deterministic in the seed, another seed another split.
"$herd" prepare -z "$l2" -i "$tmp/p.txt" --val-fraction 0.2 -o "$tmp/again" -q >/dev/null \
  && cmp -s "$tmp/blank.train.bin" "$tmp/again.train.bin" && cmp -s "$tmp/blank.val.bin" "$tmp/again.val.bin" \
  && ok "the same inputs and seed give the same bytes" || bad "prepare is not deterministic"
"$herd" prepare -z "$l2" -i "$tmp/p.txt" --val-fraction 0.2 --seed 7 -o "$tmp/seed7" -q >/dev/null \
  && ! cmp -s "$tmp/blank.val.bin" "$tmp/seed7.val.bin" && r=$(check "$tmp/seed7" blank 0.2) \
  && ok "--seed 7 splits otherwise: $r" || bad "--seed 7: $r"
for frac in 0 1; do
  "$herd" prepare -z "$l2" -i "$tmp/f0.txt" -i "$tmp/f1.txt" -i "$tmp/f2.txt" --doc-sep file \
    --val-fraction $frac -o "$tmp/edge$frac" -q >/dev/null \
    && t=$(ndocs "$tmp/edge$frac" train) && v=$(ndocs "$tmp/edge$frac" val) \
    && [ $((t + v)) = 3 ] && [ "$t" -ge 1 ] && [ "$v" -ge 1 ] \
    && ok "--val-fraction $frac still gives each side a document ($t / $v)" || bad "--val-fraction $frac"
done

# ---- 3. Llama 3: uint32 ----
"$py" -c 'import json, sys; [print(json.dumps(t)) for t in json.load(open(sys.argv[1]))["jsonl"]]' \
  "$tmp/docs.json" >"$tmp/j.jsonl"
"$herd" tokenize -z "$l3" --jsonl --bos --eos <"$tmp/j.jsonl" >"$tmp/want3"
"$herd" prepare -z "$l3" -i "$tmp/c.jsonl" -o "$tmp/l3" -q >"$tmp/out" 2>&1 \
  && { shard "$tmp/l3.train.bin"; shard "$tmp/l3.val.bin"; } >"$tmp/got3" \
  && "$py" -c 'import sys, json
a = [json.loads(l) for l in open(sys.argv[1])]
assert all(x["width"] == 4 and x["vocab"] == 128256 for x in a)
got = sorted(d for x in a for d in x["docs"])
want = sorted(json.loads(l) for l in open(sys.argv[2]))
assert want[0][0] == 128000 and want[0][-1] == 128001
sys.exit(got != want)' "$tmp/got3" "$tmp/want3" \
  && ok "llama3: uint32 shards, documents as herd tokenize --bos --eos" \
  || { bad "llama3 shards"; cat "$tmp/out"; }
exit $fail

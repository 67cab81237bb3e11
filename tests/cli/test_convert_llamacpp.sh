#!/usr/bin/env bash
# The proof that llama.cpp reads what herd convert writes: llama.cpp itself
# (../shared/bench's llamacpp_bench over node-llama-cpp's prebuilt
# libraries; installed by bench/llamacpp.sh, never by this test: skipped
# when absent) loads herd's GGUF files and its greedy ids from BOS equal
# herd's and equal its own on the source file, for
#  - a Llama 2 shaped model with Meta's SentencePiece tokenizer
#    (../shared/bench/gguf_write.py random), GGUF -> HF folder -> GGUF;
#  - the same weights in BF16 (llama.cpp rounds activations to BF16 for
#    BF16 weights, herd does not: random weights have close logits, so only
#    the first ids must agree);
#  - a Llama 3 shaped one (vocabulary 128256, tied, F16) given Meta's
#    Llama 3 tokenizer.model with -z: GGUF "gpt2" metadata with the merges
#    herd derives, then through a Hugging Face folder (tokenizer.json) and
#    back; the ids must also equal herd's on the source with that tokenizer
#    (BOS 128000); the folder's tokenizer encodes as the original.
# And llama.cpp's own tokenizer on herd's GGUF metadata (a small program
# built here against the peer's libraries, when its headers are there):
# Llama 3 texts of tests/fixtures/bpe_llama3.txt give Hugging Face's ids
# (the golden ones), Llama 2 texts give python3-sentencepiece's.
set -u
herd="$HERD_BIN/herd"
shared="${HERD_SHARED:-../shared}"
peer="${HERD_LLAMACPP:-$HOME/.cache/herd-bench/llamacpp/bin/llamacpp_bench}"
gw="$shared/bench/gguf_write.py"
tok2="$shared/tokenizers/llama2/tokenizer.model"
tok3="$shared/tokenizers/llama3/tokenizer.model"
if [ ! -x "$peer" ]; then echo "SKIP: llama.cpp peer not installed ($peer; bench/llamacpp.sh installs it)"; exit 77; fi
if ! /usr/bin/python3 -c 'import numpy, sentencepiece' 2>/dev/null || [ ! -f "$gw" ]; then
  echo "SKIP: python3-numpy, python3-sentencepiece or $gw missing"; exit 77
fi
if [ ! -f "$tok2" ] || [ ! -f "$tok3" ]; then echo "SKIP: shared tokenizers missing"; exit 77; fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }
N=24

llamacpp_ids() { "$peer" -m "$1" -gen $N -fa off -kv f32 -t 2 2>"$tmp/peer.err" | sed -n 's/^ids=//p'; }
herd_ids() { "$herd" run -m "$@" --temp 0 -n $N --ids -t 2 2>/dev/null | tr -s ' \n' ' ' | sed 's/ $//'; }

# same_ids WHAT FILE [REFERENCE_IDS [HOW_MANY]]: llama.cpp on FILE gives
# herd's ids (and the reference's), all N or the first HOW_MANY.
same_ids() {
  local what="$1" file="$2" want="${3:-}" k="${4:-$N}" l h
  l=$(llamacpp_ids "$file" | cut -d' ' -f1-$k); h=$(herd_ids "$file" | cut -d' ' -f1-$k)
  want=$(echo "$want" | cut -d' ' -f1-$k)
  if [ -z "$l" ]; then bad "$what: llama.cpp did not load $file"; tail -5 "$tmp/peer.err"; return; fi
  if [ "$l" != "$h" ]; then bad "$what: llama.cpp [$l] vs herd [$h]"; return; fi
  if [ -n "$want" ] && [ "$l" != "$want" ]; then bad "$what: [$l], the source gave [$want]"; return; fi
  ok "$what: llama.cpp = herd = [$(echo "$l" | cut -d' ' -f1-8) ...]"
}

# ---- Llama 2 shape, SentencePiece ----
/usr/bin/python3 "$gw" random --dim 64 --hidden-dim 172 --n-layers 2 --n-heads 4 --n-kv-heads 2 \
  --vocab 32000 --ctx 128 --std 0.5 --tokenizer "$tok2" --quiet --out "$tmp/src2.gguf" >/dev/null
want2=$(llamacpp_ids "$tmp/src2.gguf")
[ -n "$want2" ] && ok "llama.cpp on gguf_write.py's model: [$(echo "$want2" | cut -d' ' -f1-8) ...]" \
  || bad "llama.cpp on the source"
"$herd" convert -q -m "$tmp/src2.gguf" -o "$tmp/l2-hf" && "$herd" convert -q -m "$tmp/l2-hf" -o "$tmp/l2.gguf" \
  && same_ids "Llama 2: GGUF -> HF -> GGUF" "$tmp/l2.gguf" "$want2" || bad "Llama 2 conversions"
"$herd" convert -q -m "$tmp/l2-hf" -o "$tmp/l2-bf16.gguf" --type bf16 \
  && same_ids "Llama 2: HF -> GGUF BF16 (first 8 ids)" "$tmp/l2-bf16.gguf" "$want2" 8 || bad "BF16 conversion"
text="Hello world, naïve café: 1234 tokens"
a=$("$herd" tokenize -m "$tmp/l2-hf" -p "$text"); b=$("$herd" tokenize -z "$tok2" -p "$text")
[ -n "$a" ] && [ "$a" = "$b" ] && ok "Llama 2: the folder's tokenizer.model encodes as Meta's" || bad "Llama 2 tokenizer: [$a] vs [$b]"

# ---- Llama 3 shape, Meta's tiktoken tokenizer given with -z ----
/usr/bin/python3 "$gw" random --dim 64 --hidden-dim 128 --n-layers 2 --n-heads 4 --n-kv-heads 1 \
  --vocab 128256 --ctx 128 --std 0.5 --tied --type f16 --rope-theta 500000 --tokenizer "$tok2" \
  --quiet --out "$tmp/src3.gguf" >/dev/null
want3=$(herd_ids "$tmp/src3.gguf" -z "$tok3")
[ -n "$want3" ] || bad "herd on the Llama 3 shaped source"
"$herd" convert -q -m "$tmp/src3.gguf" -z "$tok3" --type f16 -o "$tmp/l3.gguf" \
  && same_ids "Llama 3: GGUF + tokenizer.model -> GGUF (gpt2, derived merges)" "$tmp/l3.gguf" "$want3" \
  || bad "Llama 3 conversion"
"$herd" convert -q -m "$tmp/l3.gguf" -o "$tmp/l3-hf" --type f16 && "$herd" convert -q -m "$tmp/l3-hf" -o "$tmp/l3-again.gguf" --type f16 \
  && same_ids "Llama 3: GGUF -> HF (tokenizer.json) -> GGUF" "$tmp/l3-again.gguf" "$want3" || bad "Llama 3 round trip"
[ -f "$tmp/l3-hf/tokenizer.json" ] && [ ! -e "$tmp/l3-hf/tokenizer.model" ] && ok "Llama 3 folder has tokenizer.json" || bad "Llama 3 folder's tokenizer files"
text="Hello world!  It's 2024: naïve café, 東京, 🦙 <|eot_id|>"
a=$("$herd" tokenize -m "$tmp/l3-hf" -p "$text" --special); b=$("$herd" tokenize -z "$tok3" -p "$text" --special)
[ -n "$a" ] && [ "$a" = "$b" ] && ok "Llama 3: the folder's tokenizer.json encodes as Meta's tokenizer.model" \
  || bad "Llama 3 tokenizer: [$a] vs [$b]"
# ---- llama.cpp's tokenizer on herd's metadata ----
pdir=$(cd "$(dirname "$peer")/.." && pwd)
bins="$pdir/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"
inc="$pdir/llama.cpp-src"
if [ ! -f "$inc/include/llama.h" ] || ! ls "$bins"/libllama.v*.so >/dev/null 2>&1; then
  echo "note: the peer's headers or libraries are missing: skipping llama.cpp tokenization"
  exit $fail
fi
cat >"$tmp/lltok.c" <<'EOC'
/* Tokenizes the text before the first tab of each line with llama.cpp. */
#include "llama.h"
#include "ggml-backend.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void quiet(enum ggml_log_level l, const char *t, void *u) { (void)l; (void)t; (void)u; }
int main(int argc, char **argv) {
    if (argc != 3) return 2;
    llama_log_set(quiet, NULL);
    const char *bdir = getenv("PEER_LLAMACPP_BINS");
    if (bdir) ggml_backend_load_all_from_path(bdir); else ggml_backend_load_all();
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = true;
    struct llama_model *m = llama_model_load_from_file(argv[1], mp);
    if (!m) { fprintf(stderr, "cannot load %s\n", argv[1]); return 1; }
    const struct llama_vocab *v = llama_model_get_vocab(m);
    FILE *f = fopen(argv[2], "r");
    if (!f) return 1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int max = 1 << 20;
    llama_token *t = malloc(sizeof *t * (size_t)max);
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n') line[--n] = 0;
        char *tab = strchr(line, '\t');
        int k = llama_tokenize(v, line, tab ? (int)(tab - line) : (int)n, t, max, false, false);
        for (int i = 0; i < k; i++) printf(i ? " %d" : "%d", t[i]);
        printf("\n");
    }
    return 0;
}
EOC
libllama=$(cd "$bins" && ls libllama.v*.so | head -1); libggml=$(cd "$bins" && ls libggml.v*.so | head -1)
if ! gcc -O1 -std=c11 -D_DEFAULT_SOURCE -I"$inc/include" -I"$inc/ggml/include" "$tmp/lltok.c" \
     -L"$bins" -l:"$libllama" -l:"$libggml" -l:libggml-base.so -Wl,-rpath,"$bins" -o "$tmp/lltok" 2>"$tmp/cc.err"; then
  bad "building the llama.cpp tokenizer probe"; cat "$tmp/cc.err"; exit 1
fi
lltok() { PEER_LLAMACPP_BINS="$bins" "$tmp/lltok" "$@"; }
# compare_ids WHAT CASES GGUF: lines "text TAB ids"; llama.cpp's ids must equal the ids column.
compare_ids() {
  if ! lltok "$3" "$2" >"$tmp/got" 2>"$tmp/lltok.err"; then bad "$1: llama.cpp did not load $3"; cat "$tmp/lltok.err"; return; fi
  cut -f2 "$2" >"$tmp/want"
  local n diff; n=$(wc -l <"$tmp/want"); diff=$(paste -d'|' "$tmp/got" "$tmp/want" | awk -F'|' '$1 != $2' | wc -l)
  [ "$n" -gt 100 ] && [ "$diff" -eq 0 ] && ok "$1: llama.cpp's tokenizer gives the reference ids on $n texts" \
    || { bad "$1: $diff of $n texts tokenized differently by llama.cpp"; paste -d'|' "$tmp/got" "$tmp/want" | awk -F'|' '$1 != $2' | head -3; }
}
# Llama 3: the golden texts that need no escapes, with Hugging Face's ids.
grep -v '^#' "${HERD_SOURCE:-.}/tests/fixtures/bpe_llama3.txt" | grep -v '\\' | cut -f1,2 >"$tmp/l3.cases"
compare_ids "Llama 3 GGUF (gpt2, derived merges)" "$tmp/l3.cases" "$tmp/l3.gguf"
compare_ids "Llama 3 GGUF through tokenizer.json" "$tmp/l3.cases" "$tmp/l3-again.gguf"
# Llama 2: the same texts, ids from python3-sentencepiece.
cut -f1 "$tmp/l3.cases" | /usr/bin/python3 -c '
import sys, sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
for line in sys.stdin.read().split("\n")[:-1]:
    print(line + "\t" + " ".join(map(str, sp.encode(line))))' "$tok2" >"$tmp/l2.cases"
compare_ids "Llama 2 GGUF through tokenizer.model" "$tmp/l2.cases" "$tmp/l2.gguf"
exit $fail

#!/usr/bin/env bash
# llama.cpp reads herd's GGUF LoRA adapters as herd means them. A small
# program built here with gcc against the peer's prebuilt libllama (as
# ../shared/bench/setup-llamacpp.sh builds llamacpp_bench; skipped when the
# peer is not installed) loads a model and, with llama_adapter_lora_init +
# llama_set_adapters_lora, an adapter, evaluates a few tokens and prints the
# logits of the last position. On a tiny Llama (gguf_write.py random, with
# Meta's SentencePiece vocabulary, which llama.cpp needs) and a random
# adapter of rank 4 on all seven matrices written by herd
# (test_adapter llamacpp):
#  (a) llama.cpp accepts the adapter (F32 and F16);
#  (b) the logits change with it (B != 0);
#  (c) they equal, to 1e-4, llama.cpp's logits of the MERGED model
#      (W + alpha/r B A in every matrix, written as an F32 GGUF through
#      herd's GGUF writer) without an adapter, and herd's own logits of the
#      merged model; the F16 adapter's within F16 rounding;
#  (d) herd's logits with the adapter attached (herd_model_add_lora), from
#      the GGUF file and from the PEFT folder of the same adapter (q/k rows
#      through Hugging Face's order and back), equal llama.cpp's to 1e-4.
set -u
shared="${HERD_SHARED:-../shared}"
peer="${HERD_LLAMACPP:-$HOME/.cache/herd-bench/llamacpp/bin/llamacpp_bench}"
gw="$shared/bench/gguf_write.py"
tok2="$shared/tokenizers/llama2/tokenizer.model"
pdir=$(cd "$(dirname "$peer")/.." 2>/dev/null && pwd)
bins="$pdir/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"
src="$pdir/llama.cpp-src"
if [ ! -f "$src/include/llama.h" ] || ! ls "$bins"/libllama.v*.so >/dev/null 2>&1; then
  echo "SKIP: llama.cpp peer not installed ($pdir; bench/llamacpp.sh installs it)"; exit 77
fi
if ! /usr/bin/python3 -c 'import numpy, sentencepiece' 2>/dev/null || [ ! -f "$gw" ] || [ ! -f "$tok2" ]; then
  echo "SKIP: python3-numpy, python3-sentencepiece, $gw or $tok2 missing"; exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fail=1; }

cat >"$tmp/lllora.c" <<'EOC'
/* lllora MODEL ADAPTER|- TOKEN...: the logits after the last token, one a
 * line, with the LoRA adapter applied at scale 1 (or none for "-"). */
#include "llama.h"
#include "ggml-backend.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void quiet(enum ggml_log_level l, const char *t, void *u) {
    (void)u;
    if (l >= GGML_LOG_LEVEL_ERROR) fputs(t, stderr);
}
int main(int argc, char **argv) {
    if (argc < 4) return 2;
    llama_log_set(quiet, NULL);
    const char *bdir = getenv("PEER_LLAMACPP_BINS");
    if (bdir) ggml_backend_load_all_from_path(bdir); else ggml_backend_load_all();
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *m = llama_model_load_from_file(argv[1], mp);
    if (!m) { fprintf(stderr, "cannot load the model %s\n", argv[1]); return 1; }
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = 64; cp.n_batch = 64; cp.n_ubatch = 64; cp.n_threads = 2; cp.n_threads_batch = 2;
    cp.type_k = GGML_TYPE_F32; cp.type_v = GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context *ctx = llama_init_from_model(m, cp);
    if (!ctx) { fprintf(stderr, "cannot make a context\n"); return 1; }
    if (strcmp(argv[2], "-") != 0) {
        struct llama_adapter_lora *a = llama_adapter_lora_init(m, argv[2]);
        if (!a) { fprintf(stderr, "llama.cpp rejected the adapter %s\n", argv[2]); return 3; }
        float scale = 1.0f;
        if (llama_set_adapters_lora(ctx, &a, 1, &scale) != 0) {
            fprintf(stderr, "llama_set_adapters_lora failed\n"); return 3;
        }
    }
    int n = argc - 3;
    llama_token *t = malloc(sizeof *t * (size_t)n);
    for (int i = 0; i < n; i++) t[i] = atoi(argv[3 + i]);
    if (llama_decode(ctx, llama_batch_get_one(t, n)) != 0) { fprintf(stderr, "decode failed\n"); return 1; }
    const float *lg = llama_get_logits_ith(ctx, -1);
    int nv = llama_vocab_n_tokens(llama_model_get_vocab(m));
    for (int i = 0; i < nv; i++) printf("%.9g\n", lg[i]);
    llama_free(ctx);
    llama_model_free(m);
    return 0;
}
EOC
libllama=$(cd "$bins" && ls libllama.v*.so | head -1); libggml=$(cd "$bins" && ls libggml.v*.so | head -1)
if ! gcc -O1 -std=c11 -D_DEFAULT_SOURCE -I"$src/include" -I"$src/ggml/include" "$tmp/lllora.c" \
     -L"$bins" -l:"$libllama" -l:"$libggml" -l:libggml-base.so -Wl,-rpath,"$bins" -o "$tmp/lllora" 2>"$tmp/cc.err"; then
  bad "building the llama.cpp LoRA probe"; cat "$tmp/cc.err"; exit 1
fi
lllora() { PEER_LLAMACPP_BINS="$bins" "$tmp/lllora" "$@"; }

toks="1 450 4996 17354 1701 29916 8763 338"
/usr/bin/python3 "$gw" random --dim 64 --hidden-dim 172 --n-layers 2 --n-heads 8 --n-kv-heads 2 \
  --vocab 32000 --ctx 64 --std 0.2 --tokenizer "$tok2" --quiet --out "$tmp/base.gguf" >/dev/null \
  || { bad "gguf_write.py"; exit 1; }
# shellcheck disable=SC2086
if ! "$HERD_BIN/test_adapter" llamacpp "$tmp/base.gguf" "$tmp" $toks >"$tmp/herd.out" 2>&1; then
  bad "herd writing the adapter and the merged model"; cat "$tmp/herd.out"; exit 1
fi

run() { # run NAME MODEL ADAPTER
  # shellcheck disable=SC2086
  lllora "$2" "$3" $toks >"$tmp/$1.txt" 2>"$tmp/$1.err"; local rc=$?
  if [ $rc -ne 0 ] || [ ! -s "$tmp/$1.txt" ]; then bad "$1: llama.cpp exit $rc"; cat "$tmp/$1.err"; return 1; fi
}
run base "$tmp/base.gguf" - || exit 1
run lora "$tmp/base.gguf" "$tmp/adapter.gguf" && ok "(a) llama.cpp accepts herd's F32 adapter"
run lora16 "$tmp/base.gguf" "$tmp/adapter-f16.gguf" && ok "(a) llama.cpp accepts herd's F16 adapter"
run merged "$tmp/merged.gguf" - || exit 1

/usr/bin/python3 - "$tmp" <<'EOP' || fail=1
import sys, numpy as np
d = sys.argv[1]
L = {k: np.loadtxt(f"{d}/{k}.txt", dtype=np.float64) for k in ("base", "lora", "lora16", "merged", "herd-merged",
                                                  "herd-lora", "herd-peft")}
def rel(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))
bad = 0
def check(cond, what):
    global bad
    print(("ok: " if cond else "FAIL: ") + what)
    bad |= not cond
check(len(set(map(len, L.values()))) == 1 and len(L["base"]) == 32000, f"{len(L['base'])} logits each")
ch = rel(L["lora"], L["base"])
check(ch > 1e-2, f"(b) the adapter changes llama.cpp's logits (max relative change {ch:.3g})")
e = rel(L["lora"], L["merged"])
check(e <= 1e-4, f"(c) llama.cpp with the adapter = llama.cpp on the merged model (max rel diff {e:.2g})")
e = rel(L["lora"], L["herd-merged"])
check(e <= 1e-4, f"(c) llama.cpp with the adapter = herd on the merged model (max rel diff {e:.2g})")
for k, what in (("herd-lora", "GGUF"), ("herd-peft", "PEFT")):
    e = rel(L[k], L["lora"])
    check(e <= 1e-4, f"(d) herd with the {what} adapter (herd_model_add_lora) = llama.cpp with "
          f"the GGUF adapter (max rel diff {e:.2g})")
e16 = rel(L["lora16"], L["merged"])
check(e16 <= 2e-2 * ch, f"F16 adapter close to the merged model (max rel diff {e16:.2g})")
sys.exit(1 if bad else 0)
EOP
exit $fail

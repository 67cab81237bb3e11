#!/usr/bin/env bash
# herd convert as a user meets it: help; every kind of bad request gives a
# one-line error, a non-zero exit and no partial output (an existing output
# is never damaged, also when a write fails half-way: a file size limit
# makes it fail); --force replaces a file or a model folder, never another
# folder. Then the Hugging Face folders herd writes, read without herd:
# tests/reference/llama_ref.py (float64 PyTorch, transformers' rotate_half
# layout) on their config.json and model.safetensors (read with numpy)
# must give the golden logits, and python3-sentencepiece must encode with
# the tokenizer.model herd wrote exactly as with Meta's original.
set -u
src="${HERD_SOURCE:-.}"
fix="$src/tests/fixtures/models"
shared="${HERD_SHARED:-../shared}"
. "$(dirname "$0")/lib.sh"
# No OUT.tmp* or OUT.old* left beside anything in a folder.
no_leftovers() {
  if ls -a "$1" | grep -q '\.tmp\|\.old'; then bad "$2: leftovers: $(ls -a "$1" | tr '\n' ' ')"; else ok "$2: nothing left behind"; fi
}

"$herd" convert --help >"$tmp/out" && grep -q "usage: herd convert" "$tmp/out" && ok "convert --help" || bad "convert --help"
"$herd" --help | grep -q convert && ok "herd --help lists convert" || bad "herd --help lists convert"

m="$fix/gqa/model.gguf"
mkdir "$tmp/w"
expect_error "missing input" "no such file" -- "$herd" convert -m "$tmp/nope.gguf" -o "$tmp/w/a.gguf"
expect_error "no -o" "required" -- "$herd" convert -m "$m"
expect_error "unknown --type" "unknown type" -- "$herd" convert -m "$m" -o "$tmp/w/a.gguf" --type q4_0
expect_error "unknown option" "unknown option" -- "$herd" convert -m "$m" -o "$tmp/w/a.gguf" --frob
expect_error "output folder missing" "no such file" -- "$herd" convert -q -m "$m" -o "$tmp/nodir/a.gguf"
expect_error "HF output folder missing" "no such file" -- "$herd" convert -q -m "$m" -o "$tmp/nodir/hf"
: >"$tmp/w/file"
expect_error "output under a file" "not a directory" -- "$herd" convert -q -m "$m" -o "$tmp/w/file/a.gguf"
expect_error "tokenizer of another vocabulary" "32000" -- "$herd" convert -q -m "$m" \
  -z "$shared/tokenizers/llama2/tokenizer.model" -o "$tmp/w/a.gguf"
rm "$tmp/w/file"
[ -z "$(ls -A "$tmp/w")" ] && ok "failed conversions wrote nothing" || bad "leftovers: $(ls -A "$tmp/w")"

echo keep >"$tmp/w/a.gguf"
expect_error "GGUF output exists" "already exists" -- "$herd" convert -q -m "$m" -o "$tmp/w/a.gguf"
[ "$(cat "$tmp/w/a.gguf")" = keep ] && ok "existing GGUF untouched" || bad "existing GGUF changed"
mkdir "$tmp/w/hf"; echo keep >"$tmp/w/hf/notes.txt"
expect_error "HF output exists" "already exists" -- "$herd" convert -q -m "$m" -o "$tmp/w/hf"
expect_error "--force on a folder that is no model" "without config.json" -- \
  "$herd" convert -q -m "$m" -o "$tmp/w/hf" --force
[ "$(cat "$tmp/w/hf/notes.txt")" = keep ] && ok "unrelated folder untouched" || bad "unrelated folder changed"
mkdir "$tmp/w/hf.gguf"
expect_error "GGUF output is a folder" "is a folder" -- "$herd" convert -q -m "$m" -o "$tmp/w/hf.gguf" --force
rm -rf "$tmp/w/hf" "$tmp/w/hf.gguf"

# A write that fails half-way (file size limit, SIGXFSZ ignored: EFBIG).
fails_midway() { (ulimit -f 64; trap '' XFSZ; exec "$herd" convert -q -m "$m" "$@"); }
fails_midway -o "$tmp/w/a.gguf" --force >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] && grep -qi "too large\|write failed" "$tmp/err" && ok "GGUF write failing half-way: $(head -n1 "$tmp/err")" \
  || { bad "GGUF write failing half-way"; cat "$tmp/err"; }
[ "$(cat "$tmp/w/a.gguf")" = keep ] && ok "existing GGUF survives a failed --force" || bad "existing GGUF damaged"
fails_midway -o "$tmp/w/new.gguf" >/dev/null 2>&1
[ ! -e "$tmp/w/new.gguf" ] && ok "no GGUF after a failed write" || bad "partial GGUF left"
fails_midway -o "$tmp/w/newhf" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] && [ ! -e "$tmp/w/newhf" ] && ok "no HF folder after a failed write: $(head -n1 "$tmp/err")" \
  || { bad "HF write failing half-way"; cat "$tmp/err"; }
no_leftovers "$tmp/w" "failed writes"

# --force replaces a GGUF file and a model folder.
"$herd" convert -q -m "$m" -o "$tmp/w/a.gguf" --force && [ "$(head -c 4 "$tmp/w/a.gguf")" = GGUF ] \
  && ok "--force replaces a GGUF" || bad "--force replaces a GGUF"
"$herd" convert -q -m "$m" -o "$tmp/w/hf" && "$herd" convert -q -m "$fix/mha/model.gguf" -o "$tmp/w/hf" --force \
  && grep -q '"hidden_size":[[:space:]]*64' "$tmp/w/hf/config.json" \
  && grep -q '"num_attention_heads":[[:space:]]*4' "$tmp/w/hf/config.json" \
  && ok "--force replaces a model folder" || bad "--force replaces a model folder"
no_leftovers "$tmp/w" "--force"
"$herd" convert -m "$m" -o "$tmp/w/p.gguf" 2>"$tmp/err" && grep -q "tensor 30/30" "$tmp/err" \
  && grep -qi "warning: .*no tokenizer" "$tmp/err" && ok "progress and the no-tokenizer warning" \
  || { bad "progress on stderr"; cat "$tmp/err"; }

# ---- without herd: the HF folders against the float64 reference ----
if ! /usr/bin/python3 -c 'import numpy, torch' 2>/dev/null; then
  echo "note: python3-numpy or python3-torch missing: skipping the reference checks"
  exit $fail
fi
pairs=()
for spec in "llama31 model.gguf f32" "linear model-f16.gguf f16" "gqa_tied hf-bf16 bf16" \
            "mqa model.bin f32" "mha model.bin bf16" "theta hf f16"; do
  set -- $spec
  "$herd" convert -q -m "$fix/$1/$2" -o "$tmp/ref-$1-$3" --type "$3" 2>/dev/null \
    || bad "convert $1/$2 to HF $3"
  pairs+=("$tmp/ref-$1-$3=$fix/$1")
done
/usr/bin/python3 - "$src/tests/reference" "${pairs[@]}" >"$tmp/py" 2>&1 <<'EOF' \
  && ok "HF folders through llama_ref.py: $(tr '\n' ';' <"$tmp/py")" || { bad "HF folders through llama_ref.py"; cat "$tmp/py"; }
import json, struct, sys
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
import llama_ref

def read_st(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h, data, w = json.loads(b[8:8 + n]), b[8 + n:], {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        raw = data[s:e]
        if v["dtype"] == "F32":
            a = np.frombuffer(raw, "<f4")
        elif v["dtype"] == "F16":
            a = np.frombuffer(raw, "<f2").astype(np.float32)
        else:
            assert v["dtype"] == "BF16", v["dtype"]
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        w[k] = torch.from_numpy(a.astype(np.float64).reshape(v["shape"]))
    return w

def check(out, fix):
    c = json.load(open(out + "/config.json"))
    rs = c.get("rope_scaling") or {}
    kw = {}
    if rs:
        kw = {"rope_scaling": rs["rope_type"], "rope_factor": rs["factor"]}
        if rs["rope_type"] == "llama3":
            kw.update(rope_low_freq_factor=rs["low_freq_factor"], rope_high_freq_factor=rs["high_freq_factor"],
                      rope_orig_ctx=rs["original_max_position_embeddings"])
    cfg = llama_ref.Config(dim=c["hidden_size"], hidden_dim=c["intermediate_size"],
                           n_layers=c["num_hidden_layers"], n_heads=c["num_attention_heads"],
                           n_kv_heads=c["num_key_value_heads"], vocab_size=c["vocab_size"],
                           seq_len=c["max_position_embeddings"], norm_eps=c["rms_norm_eps"],
                           rope_theta=c["rope_theta"], tied=c["tie_word_embeddings"], **kw)
    hw = read_st(out + "/model.safetensors")
    names = {"attention_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
             "attention.wq": "self_attn.q_proj", "attention.wk": "self_attn.k_proj",
             "attention.wv": "self_attn.v_proj", "attention.wo": "self_attn.o_proj",
             "feed_forward.w1": "mlp.gate_proj", "feed_forward.w2": "mlp.down_proj",
             "feed_forward.w3": "mlp.up_proj"}
    w = {"tok_embeddings": hw.pop("model.embed_tokens.weight"), "norm": hw.pop("model.norm.weight")}
    if not cfg.tied:
        w["output"] = hw.pop("lm_head.weight")
    for l in range(cfg.n_layers):
        for meta, hf in names.items():
            w[f"layers.{l}.{meta}"] = hw.pop(f"model.layers.{l}.{hf}.weight")
    assert not hw, f"unexpected tensors {list(hw)}"
    meta = json.load(open(fix + "/meta.json"))
    tokens = meta["tokens"]
    want = np.fromfile(fix + "/logits.f32", dtype="<f4").reshape(len(tokens), -1)
    got = llama_ref.forward(cfg, w, tokens, "hf").numpy()
    err = (np.abs(got - want) / np.maximum(1, np.abs(want))).max()
    return err

for arg in sys.argv[2:]:
    out, fix = arg.split("=")
    err = check(out, fix)
    print(f"{out.rsplit('/', 1)[1]}: worst relative error {err:.2e}")
    assert err < 1e-4, f"{out}: logits off"
EOF

# ---- without herd: the tokenizer.model herd writes, in sentencepiece ----
spm="$shared/tokenizers/llama2/tokenizer.model"
if [ -f "$spm" ] && /usr/bin/python3 -c 'import sentencepiece' 2>/dev/null \
   && [ -f "$shared/bench/gguf_write.py" ]; then
  /usr/bin/python3 "$shared/bench/gguf_write.py" random --dim 16 --hidden-dim 32 --n-layers 1 \
    --n-heads 2 --n-kv-heads 1 --vocab 32000 --ctx 32 --tokenizer "$spm" --tied --quiet \
    --out "$tmp/spm.gguf" >/dev/null
  "$herd" convert -q -m "$tmp/spm.gguf" -o "$tmp/spm-hf" \
    && /usr/bin/python3 - "$spm" "$tmp/spm-hf/tokenizer.model" >"$tmp/py" 2>&1 <<'EOF' \
    && ok "sentencepiece reads herd's tokenizer.model: $(cat "$tmp/py")" || { bad "sentencepiece on herd's tokenizer.model"; cat "$tmp/py"; }
import sys
import sentencepiece as spm
a, b = spm.SentencePieceProcessor(model_file=sys.argv[1]), spm.SentencePieceProcessor(model_file=sys.argv[2])
assert a.get_piece_size() == b.get_piece_size() == 32000
for i in range(32000):
    assert a.id_to_piece(i) == b.id_to_piece(i) and a.get_score(i) == b.get_score(i), i
    assert (a.is_control(i), a.is_unknown(i), a.is_byte(i)) == (b.is_control(i), b.is_unknown(i), b.is_byte(i)), i
texts = ["Hello world", "  leading spaces", "tabs\tand\nnewlines\n\n", "naïve café 東京 🦙",
         "Once upon a time, there was a little girl named Lily.", "1234567 + 89 = ?", "\x00\x01 bytes", ""]
for t in texts:
    assert a.encode(t) == b.encode(t), t
    assert b.decode(b.encode(t)) == a.decode(a.encode(t)), t
print(f"{len(texts)} texts, 32000 pieces alike")
EOF
else
  echo "note: sentencepiece, gguf_write.py or the Llama 2 tokenizer missing: skipping"
fi
exit $fail

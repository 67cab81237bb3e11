#!/usr/bin/python3
"""Golden model fixtures for tests/model/test_golden.c.

    /usr/bin/python3 tests/reference/make_fixtures.py [--out DIR]

Writes tiny seeded-random Llama models to tests/fixtures/models/<name>/ in
every format herd reads, and the logits of llama_ref.py (float64 PyTorch) for
a fixed prompt. Every weight is a multiple of 1/1024 (matrices) or 1/128
(norms) small enough to be exact in BF16 and F16, so all formats hold the very
same numbers and must give the same logits. Deterministic: a rerun writes
identical bytes. Needs numpy, torch and ../shared/bench/gguf_write.py; no
network.

Two models scale their rotary frequencies: "llama31" (Llama 3.1's llama3
scaling; GGUF stores it as llama.cpp does, a rope_freqs.weight tensor of
divisors) and "linear" (position interpolation; GGUF llama.rope.scaling.*).

Per model:
  model.bin        llama2.c legacy (version 0) checkpoint, float32; only when
                   the config is what llama2.c implies (eps 1e-5, theta 1e4,
                   no rope scaling)
  model.gguf       GGUF, float32 tensors (rope_freqs.weight F32)
  model-f16.gguf   GGUF, F16 matrices, F32 norms (and rope_freqs.weight)
  hf/              config.json + model.safetensors (F32)
  hf-bf16/         config.json + 2 BF16 shards + model.safetensors.index.json
  hf-f16/          config.json + model.safetensors (F16)
  tokens.txt       the prompt: token ids on one line
  logits.f32       little-endian float32 [n_tokens][vocab]: reference logits
  meta.json        config, prompt and the list of formats written
"""
import argparse
import json
import os
import struct
import sys
import zlib

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama_ref  # noqa: E402

SHARED = os.environ.get("HERD_SHARED", os.path.join(HERE, "../../../shared"))
sys.path.insert(0, os.path.join(SHARED, "bench"))
import gguf_write  # noqa: E402

DEFAULT_OUT = os.path.join(HERE, "../fixtures/models")

FIXTURES = [
    dict(name="mha", seed=101, dim=64, hidden_dim=160, n_layers=2, n_heads=4, n_kv_heads=4,
         vocab_size=96, norm_eps=1e-5, rope_theta=10000.0, tied=False),
    dict(name="gqa", seed=102, dim=64, hidden_dim=172, n_layers=3, n_heads=8, n_kv_heads=2,
         vocab_size=128, norm_eps=1e-6, rope_theta=10000.0, tied=False),
    dict(name="gqa_tied", seed=103, dim=64, hidden_dim=172, n_layers=2, n_heads=8, n_kv_heads=2,
         vocab_size=128, norm_eps=1e-6, rope_theta=10000.0, tied=True),
    dict(name="mqa", seed=104, dim=48, hidden_dim=128, n_layers=2, n_heads=6, n_kv_heads=1,
         vocab_size=80, norm_eps=1e-5, rope_theta=10000.0, tied=False),
    dict(name="theta", seed=105, dim=64, hidden_dim=160, n_layers=2, n_heads=4, n_kv_heads=2,
         vocab_size=96, norm_eps=1e-5, rope_theta=500000.0, tied=False),
    # Llama 3.1 scaling shrunk to the fixture: with head_dim 16 and theta 5e5 the
    # wavelengths are 6.3, 32, 167, ... so original context 48 (thresholds
    # 48/4 = 12 and 48/1 = 48) keeps pair 0, blends pair 1 and divides the rest.
    dict(name="llama31", seed=106, dim=64, hidden_dim=160, n_layers=2, n_heads=4, n_kv_heads=2,
         vocab_size=96, norm_eps=1e-5, rope_theta=500000.0, tied=True,
         rope_scaling="llama3", rope_factor=8.0, rope_low_freq_factor=1.0,
         rope_high_freq_factor=4.0, rope_orig_ctx=48),
    dict(name="linear", seed=107, dim=64, hidden_dim=144, n_layers=2, n_heads=8, n_kv_heads=4,
         vocab_size=112, norm_eps=1e-6, rope_theta=10000.0, tied=False,
         rope_scaling="linear", rope_factor=4.0),
]
SEQ_LEN = 64
MATRIX_STD = 0.08  # in units of 1, before rounding to multiples of 1/1024
PROMPT = [1, 17, 42, 5, 17, 63, 8, 42, 42, 0, 33]  # then vocab_size - 1


# ---------------------------------------------------------------- weights
def exact_matrix(rng, shape):
    """Multiples of 1/1024 with |k| <= 255: at most 8 significant bits."""
    k = np.clip(np.round(rng.standard_normal(shape) * MATRIX_STD * 1024), -255, 255)
    return (k / 1024).astype(np.float32)


def exact_norm(rng, shape):
    """1 + k/128 with |k| <= 32: in [0.75, 1.25], on BF16's grid there."""
    k = np.clip(np.round(rng.standard_normal(shape) * 8), -32, 32)
    return (1 + k / 128).astype(np.float32)


def bf16_round(x):
    return torch.from_numpy(x).to(torch.bfloat16).to(torch.float32).numpy()


def make_weights(c):
    """Meta-named float32 weights; each tensor from its own generator."""
    hd = c["dim"] // c["n_heads"]
    kvd, d, h = c["n_kv_heads"] * hd, c["dim"], c["hidden_dim"]
    shapes = {"tok_embeddings": (c["vocab_size"], d), "norm": (d,)}
    if not c["tied"]:
        shapes["output"] = (c["vocab_size"], d)
    for l in range(c["n_layers"]):
        p, a, f = f"layers.{l}.", f"layers.{l}.attention.", f"layers.{l}.feed_forward."
        shapes.update({p + "attention_norm": (d,), p + "ffn_norm": (d,),
                       a + "wq": (d, d), a + "wk": (kvd, d), a + "wv": (kvd, d), a + "wo": (d, d),
                       f + "w1": (h, d), f + "w2": (d, h), f + "w3": (h, d)})
    w = {}
    for name, shape in shapes.items():
        rng = np.random.default_rng([c["seed"], zlib.crc32(name.encode())])
        w[name] = (exact_norm if name.endswith("norm") else exact_matrix)(rng, shape)
        assert np.array_equal(w[name], bf16_round(w[name])), name + " not exact in bf16"
        assert np.array_equal(w[name], w[name].astype(np.float16).astype(np.float32)), name
    return w


def hf_permute(w, n_heads):
    """convert_llama_weights_to_hf.py's permute: Meta's adjacent pairs to HF's halves."""
    dim1, dim2 = w.shape
    return w.reshape(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(0, 2, 1, 3).reshape(dim1, dim2)


# ---------------------------------------------------------------- llama2.c
def scaling(c):
    return c.get("rope_scaling", "none")


def l2c_expressible(c):
    """llama2.c's header has no eps, theta or scaling: run.c assumes 1e-5, 10000, none."""
    return c["norm_eps"] == 1e-5 and c["rope_theta"] == 10000.0 and scaling(c) == "none"


def write_l2c(path, c, w):
    L = range(c["n_layers"])
    hd = c["dim"] // c["n_heads"]
    vocab = c["vocab_size"] if c["tied"] else -c["vocab_size"]
    hdr = struct.pack("<7i", c["dim"], c["hidden_dim"], c["n_layers"], c["n_heads"],
                      c["n_kv_heads"], vocab, SEQ_LEN)
    parts = [w["tok_embeddings"]]
    for kind in ["attention_norm", "attention.wq", "attention.wk", "attention.wv", "attention.wo",
                 "ffn_norm", "feed_forward.w1", "feed_forward.w2", "feed_forward.w3"]:
        parts += [w[f"layers.{l}.{kind}"] for l in L]
    parts.append(w["norm"])
    ang = llama_ref.rope_angles(hd, SEQ_LEN, c["rope_theta"]).numpy()
    parts += [np.cos(ang), np.sin(ang)]
    if not c["tied"]:
        parts.append(w["output"])
    with open(path, "wb") as f:
        f.write(hdr)
        for p in parts:
            f.write(np.ascontiguousarray(p, dtype="<f4").tobytes())


# ---------------------------------------------------------------- GGUF
GGUF_NAMES = {"attn_norm": "attention_norm", "attn_q": "attention.wq", "attn_k": "attention.wk",
              "attn_v": "attention.wv", "attn_output": "attention.wo", "ffn_norm": "ffn_norm",
              "ffn_gate": "feed_forward.w1", "ffn_down": "feed_forward.w2",
              "ffn_up": "feed_forward.w3"}


def llama3_rope_factors(c):
    """rope_freqs.weight as llama.cpp's convert_hf_to_gguf.py computes it for
    rope_type llama3: per pair, the divisor of theta^(-2i/hd)."""
    hd = c["dim"] // c["n_heads"]
    base, factor = c["rope_theta"], c["rope_factor"]
    low, high, old = c["rope_low_freq_factor"], c["rope_high_freq_factor"], c["rope_orig_ctx"]
    low_freq_wavelen, high_freq_wavelen = old / low, old / high
    factors = []
    for freq in (1.0 / base ** (np.arange(0, hd, 2, dtype=np.float64) / hd)).tolist():
        wavelen = 2 * np.pi / freq
        if wavelen < high_freq_wavelen:
            factors.append(1.0)
        elif wavelen > low_freq_wavelen:
            factors.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


def write_gguf(path, c, w, ftype):
    def get(name):
        if name == "token_embd.weight": return w["tok_embeddings"]
        if name == "output_norm.weight": return w["norm"]
        if name == "output.weight": return w["output"]
        _, l, kind, _ = name.split(".")
        return w[f"layers.{l}.{GGUF_NAMES[kind]}"]  # q/k rows stay in Meta's order
    g = gguf_write.GGUFWriter()
    gguf_write.add_hparams(g, "herd-golden-" + c["name"], ftype, c["dim"], c["hidden_dim"],
                           c["n_layers"], c["n_heads"], c["n_kv_heads"], c["vocab_size"],
                           SEQ_LEN, c["rope_theta"], c["norm_eps"])
    if scaling(c) == "linear":
        g.str("llama.rope.scaling.type", "linear")
        g.f32("llama.rope.scaling.factor", c["rope_factor"])
    if scaling(c) == "llama3":  # as llama.cpp stores it: no scaling keys, a tensor
        hd = c["dim"] // c["n_heads"]
        g.tensor("rope_freqs.weight", (hd // 2,), gguf_write.GGML_F32,
                 lambda: llama3_rope_factors(c))
    t = gguf_write.TYPES[ftype]
    gguf_write.add_tensors(g, get, c["dim"], c["hidden_dim"], c["n_layers"], c["n_heads"],
                           c["n_kv_heads"], c["vocab_size"], t, t, c["tied"])
    g.write(path, log=None)


# ---------------------------------------------------------------- Hugging Face
HF_NAMES = {"attention_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
            "attention.wq": "self_attn.q_proj", "attention.wk": "self_attn.k_proj",
            "attention.wv": "self_attn.v_proj", "attention.wo": "self_attn.o_proj",
            "feed_forward.w1": "mlp.gate_proj", "feed_forward.w3": "mlp.up_proj",
            "feed_forward.w2": "mlp.down_proj"}


def hf_weights(c, w):
    """HF-named float32 tensors, q_proj/k_proj rows permuted to rotate_half order."""
    out = {"model.embed_tokens.weight": w["tok_embeddings"], "model.norm.weight": w["norm"]}
    if not c["tied"]:
        out["lm_head.weight"] = w["output"]
    for l in range(c["n_layers"]):
        for meta, hf in HF_NAMES.items():
            t = w[f"layers.{l}.{meta}"]
            if meta == "attention.wq": t = hf_permute(t, c["n_heads"])
            if meta == "attention.wk": t = hf_permute(t, c["n_kv_heads"])
            out[f"model.layers.{l}.{hf}.weight"] = np.ascontiguousarray(t)
    return out


def encode(x, dtype):
    if dtype == "F32": return np.ascontiguousarray(x, dtype="<f4").tobytes()
    if dtype == "F16": return np.ascontiguousarray(x, dtype="<f2").tobytes()
    if dtype == "BF16":  # exact by construction: the low 16 bits are zero
        bits = np.ascontiguousarray(x, dtype="<f4").view("<u4")
        assert not np.any(bits & 0xFFFF)
        return (bits >> 16).astype("<u2").tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtype):
    """8-byte LE header length, JSON header (padded with spaces to 8), data."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        b = encode(tensors[name], dtype)
        header[name] = {"dtype": dtype, "shape": list(tensors[name].shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)
    return off


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def hf_rope_scaling(c):
    """Newer configs name the kind "rope_type", older ones "type": one of each."""
    if scaling(c) == "linear":
        return {"type": "linear", "factor": c["rope_factor"]}
    if scaling(c) == "llama3":
        return {"rope_type": "llama3", "factor": c["rope_factor"],
                "low_freq_factor": c["rope_low_freq_factor"],
                "high_freq_factor": c["rope_high_freq_factor"],
                "original_max_position_embeddings": c["rope_orig_ctx"]}
    return None


def hf_config(c, torch_dtype):
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "hidden_size": c["dim"], "intermediate_size": c["hidden_dim"],
            "num_hidden_layers": c["n_layers"], "num_attention_heads": c["n_heads"],
            "num_key_value_heads": c["n_kv_heads"], "vocab_size": c["vocab_size"],
            "max_position_embeddings": SEQ_LEN, "rms_norm_eps": c["norm_eps"],
            "rope_theta": c["rope_theta"], "tie_word_embeddings": c["tied"],
            "torch_dtype": torch_dtype, "hidden_act": "silu", "attention_bias": False,
            "mlp_bias": False, "rope_scaling": hf_rope_scaling(c), "bos_token_id": 1,
            "eos_token_id": 2}


def write_hf(d, c, hw, dtype, torch_dtype, shards):
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "config.json"), hf_config(c, torch_dtype))
    if shards == 1:
        write_safetensors(os.path.join(d, "model.safetensors"), hw, dtype)
        return
    # Two shards: the embedding and the first half of the layers, then the rest.
    half = (c["n_layers"] + 1) // 2
    def shard_of(name):
        if name.startswith("model.layers."):
            return 0 if int(name.split(".")[2]) < half else 1
        return 0 if name == "model.embed_tokens.weight" else 1
    files = [f"model-0000{i + 1}-of-00002.safetensors" for i in range(2)]
    total, weight_map = 0, {}
    for i, fn in enumerate(files):
        part = {n: t for n, t in hw.items() if shard_of(n) == i}
        total += write_safetensors(os.path.join(d, fn), part, dtype)
        weight_map.update({n: fn for n in part})
    write_json(os.path.join(d, "model.safetensors.index.json"),
               {"metadata": {"total_size": total}, "weight_map": weight_map})


# ---------------------------------------------------------------- reference
SCALING_KEYS = ("rope_factor", "rope_low_freq_factor", "rope_high_freq_factor", "rope_orig_ctx")


def to_ref(c):
    return llama_ref.Config(dim=c["dim"], hidden_dim=c["hidden_dim"], n_layers=c["n_layers"],
                            n_heads=c["n_heads"], n_kv_heads=c["n_kv_heads"],
                            vocab_size=c["vocab_size"], seq_len=SEQ_LEN, norm_eps=c["norm_eps"],
                            rope_theta=c["rope_theta"], tied=c["tied"],
                            rope_scaling=scaling(c), **{k: c[k] for k in SCALING_KEYS if k in c})


def hf_to_meta_names(c, hw):
    """The HF tensors under Meta's names, rows left in HF order (no unpermute)."""
    w = {"tok_embeddings": hw["model.embed_tokens.weight"], "norm": hw["model.norm.weight"]}
    if not c["tied"]:
        w["output"] = hw["lm_head.weight"]
    for l in range(c["n_layers"]):
        for meta, hf in HF_NAMES.items():
            w[f"layers.{l}.{meta}"] = hw[f"model.layers.{l}.{hf}.weight"]
    return w


def as_f64(w):
    return {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in w.items()}


def reference_logits(c, w, hw, tokens):
    cfg = to_ref(c)
    logits = llama_ref.forward(cfg, as_f64(w), tokens, "meta")
    # The HF layout (rotate_half on permuted rows) must be the same function...
    hf = llama_ref.forward(cfg, as_f64(hf_to_meta_names(c, hw)), tokens, "hf")
    err = (hf - logits).abs().max().item()
    assert err < 1e-10, f"{c['name']}: HF layout differs from Meta's by {err}"
    # ...and the check must be able to fail: Meta's rope on HF rows differs.
    wrong = llama_ref.forward(cfg, as_f64(hf_to_meta_names(c, hw)), tokens, "meta")
    assert (wrong - logits).abs().max().item() > 1e-2, c["name"] + ": permutation is a no-op?"
    # A rope base other than llama2.c's must show in the logits.
    if c["rope_theta"] != 10000.0:
        cfg.rope_theta = 10000.0
        other = llama_ref.forward(cfg, as_f64(w), tokens, "meta")
        assert (other - logits).abs().max().item() > 1e-2, c["name"] + ": theta does not matter"
        cfg.rope_theta = c["rope_theta"]
    if scaling(c) != "none":
        check_scaling(c, cfg, w, tokens, logits)
    return logits, err


def check_scaling(c, cfg, w, tokens, logits):
    """The scaling must show in the logits at these short positions, and
    llama.cpp's rope_freqs divisors (float32) must give Meta's frequencies."""
    hd = c["dim"] // c["n_heads"]
    if scaling(c) == "llama3":
        plain = llama_ref.rope_freqs(hd, c["rope_theta"]).numpy()
        scaled = llama_ref.rope_freqs(hd, c["rope_theta"], cfg).numpy()
        div = llama3_rope_factors(c).astype(np.float64)
        rel = np.abs(plain / div - scaled) / scaled
        assert rel.max() < 1e-6, f"{c['name']}: rope_freqs divisors off by {rel.max()}"
        assert div[0] == 1 and div[-1] == c["rope_factor"] and 1 < div[1] < c["rope_factor"], \
            f"{c['name']}: divisors {div} miss a keep, blend or divide region"
    cfg.rope_scaling = "none"
    other = llama_ref.forward(cfg, as_f64(w), tokens, "meta")
    cfg.rope_scaling = scaling(c)
    moved = (other - logits).abs().max().item()
    assert moved > 1e-2, f"{c['name']}: rope scaling moves the logits by only {moved}"


def make(c, out):
    d = os.path.join(out, c["name"])
    os.makedirs(d, exist_ok=True)
    w = make_weights(c)
    hw = hf_weights(c, w)
    tokens = PROMPT + [c["vocab_size"] - 1]
    logits, err = reference_logits(c, w, hw, tokens)

    formats = []
    if l2c_expressible(c):
        write_l2c(os.path.join(d, "model.bin"), c, w)
        formats.append("model.bin")
    write_gguf(os.path.join(d, "model.gguf"), c, w, "f32")
    write_gguf(os.path.join(d, "model-f16.gguf"), c, w, "f16")
    write_hf(os.path.join(d, "hf"), c, hw, "F32", "float32", 1)
    write_hf(os.path.join(d, "hf-bf16"), c, hw, "BF16", "bfloat16", 2)
    write_hf(os.path.join(d, "hf-f16"), c, hw, "F16", "float16", 1)
    formats += ["model.gguf", "model-f16.gguf", "hf", "hf-bf16", "hf-f16"]

    with open(os.path.join(d, "tokens.txt"), "w") as f:
        f.write(" ".join(map(str, tokens)) + "\n")
    with open(os.path.join(d, "logits.f32"), "wb") as f:
        f.write(logits.numpy().astype("<f4").tobytes())
    cfg = {k: c[k] for k in ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads",
                             "vocab_size", "norm_eps", "rope_theta")}
    cfg.update(seq_len=SEQ_LEN, tied_embeddings=c["tied"])
    if scaling(c) != "none":  # absent means none (and keeps older meta.json as it was)
        cfg.update(rope_scaling=scaling(c), **{k: c[k] for k in SCALING_KEYS if k in c})
    write_json(os.path.join(d, "meta.json"),
               {"name": c["name"], "seed": c["seed"], "config": cfg, "n_tokens": len(tokens),
                "tokens": tokens, "formats": formats,
                "logits_absmax": round(logits.abs().max().item(), 6),
                "logits_std": round(logits.std().item(), 6)})
    print(f"{c['name']:9s} tokens {len(tokens)}  logits std {logits.std().item():.3f} "
          f"absmax {logits.abs().max().item():.3f}  hf-vs-meta {err:.1e}  {' '.join(formats)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    a = ap.parse_args()
    torch.set_num_threads(1)  # one summation order: identical bytes on every run
    for c in FIXTURES:
        make(c, a.out)


if __name__ == "__main__":
    main()

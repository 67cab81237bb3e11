#!/usr/bin/python3
"""Reference side of tests/formats/test_gguf_python.c (not a test by itself).

Uses only numpy, sentencepiece and ../shared/bench/gguf_write.py, never herd:

  gguf_ref.py dump DIR SEED STD TYPE TOKENIZER NAME...
      writes DIR/NAME.f32: the float32 values gguf_write.py's `random` mode
      stores for tensor NAME (shape from DIR/shapes.txt lines "NAME ROWS COLS"),
      as TYPE (f32 / f16) gives them back; DIR/tok.txt: "n bos eos unk" then
      "id score type hexpiece" for a sample of ids; DIR/perm.txt: for head_dim 8
      and 3 heads, the HF row each Meta row takes (gguf_write.permute_hf2meta)
      and the Meta row each HF row takes (permute_meta2hf).
  gguf_ref.py check FILE SEED STD TOKENIZER DIM HIDDEN LAYERS HEADS KVHEADS CTX
      reads FILE (a GGUF written by herd) with its own small reader and checks
      the llama metadata, the tokenizer against sentencepiece and every tensor
      against the values gguf_write.py generated. Prints OK or the problems.
"""
import os, struct, sys, zlib
import numpy as np

BENCH = os.path.join(os.environ.get("HERD_SHARED", "../shared"), "bench")
sys.path.insert(0, BENCH)
import gguf_write  # noqa: E402


def random_tensor(name, shape, seed, std):
    """gguf_write.py random mode: norms are ones, the rest N(0, std) per name."""
    if name.endswith("norm.weight"):
        return np.ones(shape, dtype=np.float32)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    x = rng.standard_normal(shape, dtype=np.float32)
    x *= np.float32(std)
    return x


def dump(d, seed, std, typ, tok, names):
    shapes = {}
    for line in open(os.path.join(d, "shapes.txt")):
        n, r, c = line.split()
        shapes[n] = (int(r), int(c)) if int(r) > 1 else (int(c),)
    for n in names:
        x = random_tensor(n, shapes[n], seed, std)
        if typ == "f16" and not n.endswith("norm.weight"):
            x = x.astype("<f2").astype(np.float32)
        x.astype("<f4").tofile(os.path.join(d, n + ".f32"))
    toks, scores, types, sp = gguf_write.load_vocab_spm(tok)
    with open(os.path.join(d, "tok.txt"), "w") as f:
        f.write(f"{len(toks)} {sp['bos']} {sp['eos']} {sp['unk']}\n")
        for i in (0, 1, 2, 3, 13, 100, 258, 259, 500, 1000, 29871, 29900, len(toks) - 1):
            f.write(f"{i} {np.float32(scores[i]).item()!r} {types[i]} {toks[i].hex()}\n")
    rows = np.arange(24).reshape(24, 1)
    with open(os.path.join(d, "perm.txt"), "w") as f:
        f.write(" ".join(str(v) for v in gguf_write.permute_hf2meta(rows, 3)[:, 0]) + "\n")
        f.write(" ".join(str(v) for v in gguf_write.permute_meta2hf(rows, 3)[:, 0]) + "\n")


def read_gguf(path):
    d = open(path, "rb").read()
    o = 0

    def u(fmt):
        nonlocal o
        v = struct.unpack_from("<" + fmt, d, o)[0]
        o += struct.calcsize("<" + fmt)
        return v

    def s():
        nonlocal o
        n = u("Q")
        v = d[o:o + n]
        o += n
        return v

    fmts = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def val(t):
        if t == 8:
            return s()
        if t == 9:
            at, n = u("I"), u("Q")
            return [val(at) for _ in range(n)]
        return u(fmts[t])

    assert d[:4] == b"GGUF", "magic"
    o = 4
    version, nt, nkv = u("I"), u("Q"), u("Q")
    assert version == 3, version
    kv = {}
    for _ in range(nkv):
        k = s().decode()
        kv[k] = val(u("I"))
    infos = []
    for _ in range(nt):
        name = s().decode()
        ne = [u("Q") for _ in range(u("I"))]
        infos.append((name, ne, u("I"), u("Q")))
    align = kv.get("general.alignment", 32)
    start = (o + align - 1) // align * align
    tensors = {}
    for name, ne, t, off in infos:
        dt = {0: "<f4", 1: "<f2"}[t]
        n = int(np.prod(ne))
        assert start + off + n * np.dtype(dt).itemsize <= len(d), name
        a = np.frombuffer(d, dtype=dt, count=n, offset=start + off)
        tensors[name] = (a.reshape(list(reversed(ne))).astype(np.float32), t)
    return kv, tensors


def check(path, seed, std, tok, dim, hidden, nl, nh, nkv, ctx):
    kv, tensors = read_gguf(path)
    bad = []
    want = {"general.architecture": b"llama", "llama.embedding_length": dim,
            "llama.feed_forward_length": hidden, "llama.block_count": nl,
            "llama.attention.head_count": nh, "llama.attention.head_count_kv": nkv,
            "llama.context_length": ctx, "llama.rope.dimension_count": dim // nh,
            "general.alignment": 32, "tokenizer.ggml.model": b"llama"}
    for k, v in want.items():
        if kv.get(k) != v:
            bad.append(f"{k} = {kv.get(k)!r}, want {v!r}")
    toks, scores, types, sp = gguf_write.load_vocab_spm(tok)
    if kv.get("tokenizer.ggml.tokens") != toks:
        bad.append("tokens differ from sentencepiece's pieces")
    if kv.get("tokenizer.ggml.scores") != [float(np.float32(x)) for x in scores]:
        bad.append("scores differ")
    if kv.get("tokenizer.ggml.token_type") != types:
        bad.append("token types differ")
    for k, key in (("bos", "bos_token_id"), ("eos", "eos_token_id"), ("unk", "unknown_token_id")):
        if kv.get("tokenizer.ggml." + key) != sp[k]:
            bad.append(f"{key} = {kv.get('tokenizer.ggml.' + key)}, want {sp[k]}")
    names = ["token_embd.weight", "output_norm.weight"]
    for l in range(nl):
        names += [f"blk.{l}.{k}.weight" for k in ("attn_norm", "attn_q", "attn_k", "attn_v",
                  "attn_output", "ffn_norm", "ffn_gate", "ffn_down", "ffn_up")]
    if sorted(tensors) != sorted(names):
        bad.append(f"tensors {sorted(tensors)}")
    for n in names:
        if n not in tensors:
            continue
        x, t = tensors[n]
        ref = random_tensor(n, x.shape, seed, std)
        if t != 0 or not np.array_equal(x, ref):
            bad.append(f"{n}: type {t} or values differ")
    print("OK" if not bad else "\n".join(bad))
    return 0 if not bad else 1


def main():
    a = sys.argv
    if a[1] == "dump":
        dump(a[2], int(a[3]), float(a[4]), a[5], a[6], a[7:])
        return 0
    return check(a[2], int(a[3]), float(a[4]), a[5], *map(int, a[6:12]))


if __name__ == "__main__":
    sys.exit(main())

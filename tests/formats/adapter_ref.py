#!/usr/bin/python3
"""Reference side of tests/formats/test_adapter.c (not a test by itself).

    adapter_ref.py PEFT_DIR ADAPTER.gguf DIM HIDDEN LAYERS HEADS KV_HEADS R ALPHA

Reads, with its own small parsers (numpy only; no safetensors or gguf
package), a PEFT folder and a GGUF LoRA adapter that herd wrote from the
same adapter, and checks:
  - adapter_config.json has PEFT's LoRA fields;
  - adapter_model.safetensors holds exactly the tensors PEFT writes for a
    LlamaForCausalLM with all seven target modules
    (base_model.model.model.layers.L.self_attn.q_proj.lora_A.weight [r, in],
    ...lora_B.weight [out, r]), F32, metadata {"format": "pt"};
  - the GGUF has the metadata llama.cpp's llama-adapter.cpp requires and
    tensors blk.L.attn_q.weight.lora_a with ne [in, r], lora_b ne [r, out];
  - the values agree: A and the other B as they are, and q/k's B exactly as
    llama.cpp's convert_lora_to_gguf.py turns PEFT's into GGUF's: the
    LlamaModel.permute of convert_hf_to_gguf.py (n_head for q, n_head_kv
    for k) applied to the rows.
Prints OK, or the problems and exits 1.
"""
import json, os, struct, sys
import numpy as np

MODS = [("self_attn.q_proj", "attn_q"), ("self_attn.k_proj", "attn_k"),
        ("self_attn.v_proj", "attn_v"), ("self_attn.o_proj", "attn_output"),
        ("mlp.gate_proj", "ffn_gate"), ("mlp.up_proj", "ffn_up"), ("mlp.down_proj", "ffn_down")]
problems = []


def expect(cond, what):
    if not cond:
        problems.append(what)


def read_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    meta = header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        expect(e["dtype"] == "F32", f"{name}: dtype {e['dtype']}")
        expect(0 <= b <= end <= len(body), f"{name}: offsets out of the file")
        out[name] = np.frombuffer(body[b:end], dtype="<f4").reshape(e["shape"])
    return out, meta


def read_gguf(path):
    data = open(path, "rb").read()
    pos = 4

    def u(fmt):
        nonlocal pos
        v = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return v[0]

    def s():
        nonlocal pos
        n = u("Q")
        pos += n
        return data[pos - n:pos].decode()

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?",
              10: "Q", 11: "q", 12: "d"}

    def val(t):
        if t == 8:
            return s()
        if t == 9:
            et, n = u("I"), u("Q")
            return [val(et) for _ in range(n)]
        return u(scalar[t])

    assert data[:4] == b"GGUF", "not GGUF"
    version, nt, nkv = u("I"), u("Q"), u("Q")
    expect(version == 3, f"GGUF version {version}")
    kv = {}
    for _ in range(nkv):
        k = s()
        t = u("I")
        kv[k] = (t, val(t))
    infos = []
    for _ in range(nt):
        name = s()
        nd = u("I")
        ne = [u("Q") for _ in range(nd)]
        infos.append((name, ne, u("I"), u("Q")))
    align = kv.get("general.alignment", (4, 32))[1]
    start = (pos + align - 1) // align * align
    tensors = {}
    for name, ne, typ, off in infos:
        expect(typ == 0, f"{name}: ggml type {typ}")
        n = int(np.prod(ne))
        b = start + off
        expect(b % align == 0 and b + 4 * n <= len(data), f"{name}: data out of place")
        # ne[0] is the fastest dimension: row-major shape is reversed ne
        tensors[name] = (ne, np.frombuffer(data[b:b + 4 * n], dtype="<f4").reshape(ne[::-1]))
    return kv, tensors


def permute(w, n_head):
    """convert_hf_to_gguf.py LlamaModel.permute: HF rows -> Meta (GGUF) rows."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def main():
    peft, gguf_path = sys.argv[1], sys.argv[2]
    dim, hidden, nl, nh, nkv, r = map(int, sys.argv[3:9])
    alpha = float(sys.argv[9])
    hd = dim // nh
    shapes = {"attn_q": (dim, dim), "attn_k": (nkv * hd, dim), "attn_v": (nkv * hd, dim),
              "attn_output": (dim, dim), "ffn_gate": (hidden, dim), "ffn_up": (hidden, dim),
              "ffn_down": (dim, hidden)}

    cfg = json.load(open(os.path.join(peft, "adapter_config.json")))
    for k, v in [("peft_type", "LORA"), ("task_type", "CAUSAL_LM"), ("r", r), ("bias", "none"),
                 ("fan_in_fan_out", False), ("inference_mode", True)]:
        expect(cfg.get(k) == v, f"adapter_config.json {k} = {cfg.get(k)!r}, want {v!r}")
    expect(abs(cfg.get("lora_alpha", -1) - alpha) < 1e-6, f"lora_alpha {cfg.get('lora_alpha')}")
    expect(sorted(cfg.get("target_modules", [])) == sorted(m.split(".")[1] for m, _ in MODS),
           f"target_modules {cfg.get('target_modules')}")
    expect("lora_dropout" in cfg and "base_model_name_or_path" in cfg, "lora_dropout / base_model")

    st, meta = read_safetensors(os.path.join(peft, "adapter_model.safetensors"))
    expect(meta == {"format": "pt"}, f"__metadata__ {meta}")
    want = set()
    for l in range(nl):
        for hf, _ in MODS:
            want |= {f"base_model.model.model.layers.{l}.{hf}.lora_A.weight",
                     f"base_model.model.model.layers.{l}.{hf}.lora_B.weight"}
    expect(set(st) == want, f"safetensors names: extra {sorted(set(st) - want)[:3]}, "
           f"missing {sorted(want - set(st))[:3]}")

    kv, gg = read_gguf(gguf_path)
    for k, t, v in [("general.architecture", 8, "llama"), ("general.type", 8, "adapter"),
                    ("adapter.type", 8, "lora")]:
        expect(kv.get(k) == (t, v), f"GGUF {k} = {kv.get(k)}")
    expect(kv.get("adapter.lora.alpha", (0, 0))[0] == 6 and
           abs(kv["adapter.lora.alpha"][1] - alpha) < 1e-6,
           f"adapter.lora.alpha {kv.get('adapter.lora.alpha')}")
    expect(len(gg) == 2 * 7 * nl, f"{len(gg)} GGUF tensors, want {2 * 7 * nl}")

    for l in range(nl):
        for hf, gname in MODS:
            out, inn = shapes[gname]
            pa = st.get(f"base_model.model.model.layers.{l}.{hf}.lora_A.weight")
            pb = st.get(f"base_model.model.model.layers.{l}.{hf}.lora_B.weight")
            ga = gg.get(f"blk.{l}.{gname}.weight.lora_a")
            gb = gg.get(f"blk.{l}.{gname}.weight.lora_b")
            if pa is None or pb is None or ga is None or gb is None:
                problems.append(f"layer {l} {gname}: tensor missing")
                continue
            expect(pa.shape == (r, inn) and pb.shape == (out, r),
                   f"{hf} {l}: PEFT shapes {pa.shape} {pb.shape}")
            expect(ga[0] == [inn, r] and gb[0] == [r, out],
                   f"{gname} {l}: GGUF ne {ga[0]} {gb[0]}")
            expect(np.array_equal(pa, ga[1]), f"{gname} {l}: lora_A differs")
            if gname in ("attn_q", "attn_k"):
                heads = nh if gname == "attn_q" else nkv
                expect(np.array_equal(permute(pb, heads), gb[1]),
                       f"{gname} {l}: PEFT lora_B is not the HF permutation of GGUF's")
                expect(not np.array_equal(pb, gb[1]), f"{gname} {l}: lora_B not permuted at all")
            else:
                expect(np.array_equal(pb, gb[1]), f"{gname} {l}: lora_B differs")
    if problems:
        print("\n".join(problems[:20]))
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""quant_golden.py - golden quantized blocks for tests/quant/test_quant_golden.c.

Writes tests/fixtures/quant/ (little-endian, no headers):
  weights.f32          R rows of N float32: the inputs, with hard cases
                       (roundf ties, Q4_0 truncation edges, zeros, tiny and
                       huge scales, first-of-equal maxima, constant rows)
  acts.f32             A rows of N float32: activations
  q8_0.bin q4_0.bin    weights quantized by ../shared/bench/gguf_write.py, whose
                       quantizers are llama.cpp's quantize_row_q8_0_ref /
                       quantize_row_q4_0_ref reproduced in numpy
  q4_K.bin q6_K.bin    weights quantized by llama.cpp's own quantize_row_q4_K_ref /
                       quantize_row_q6_K_ref (libggml-base.so through ctypes)
  acts_q8_0.bin        activations by gguf_write.py's Q8_0
  acts_q8_K.bin        activations by llama.cpp's quantize_row_q8_K_ref
  blocks_<t>.bin       random bytes as blocks of each type (scales kept finite)
  blocks_<t>.f32       those dequantized by llama.cpp's dequantize_row_<t>
  dots_<t>.f32         R x A float32: llama.cpp's ggml_vec_dot_<t>_q8_{0,K}_generic
                       (libggml-cpu-x64.so) of each weight row with each activation

llama.cpp's libraries are the prebuilt ones ../shared/bench/setup-llamacpp.sh
installs from the npm registry (node-llama-cpp@3.22.1); point LLAMACPP_BINS at
their folder (default: its install folder). Without them only the Q8_0/Q4_0
files are rewritten. None of this imports or runs herd.

    /usr/bin/python3 tests/reference/quant_golden.py [--out DIR]
"""
import argparse, ctypes, importlib.util, os, sys
import numpy as np

N = 512          # values per row: 16 Q8_0 blocks, 2 K-quant super-blocks
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("HERD_SHARED", os.path.join(os.path.dirname(SRC), "shared"))
BINS = os.environ.get("LLAMACPP_BINS", os.path.expanduser(
    "~/.cache/herd-peers/llamacpp/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"))


def load_gguf_write():
    path = os.path.join(SHARED, "bench", "gguf_write.py")
    spec = importlib.util.spec_from_file_location("gguf_write", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def weights(rng):
    rows = []
    f = np.float32
    rows.append(rng.standard_normal(N))
    rows.append(rng.standard_normal(N) * 0.02)
    # roundf ties for Q8_0: max 127 gives d = 1, the rest are k + 0.5
    r = rng.integers(-126, 126, N) + 0.5
    r[::32] = 127
    r[16::64] = -127  # a negative maximum too (|max| equal: amax = 127)
    rows.append(r)
    # Q4_0 edges: max -8 gives d = 1, x + 8.5 lands on integers
    r = rng.integers(-15, 16, N) * 0.5
    r[::32] = -8
    rows.append(r)
    # zeros, tiny (f16-subnormal scales) and float-subnormal values
    r = np.zeros(N)
    r[64:128] = rng.standard_normal(64) * 1e-6
    r[128:160] = rng.standard_normal(32) * 1e-40
    r[256:512] = rng.standard_normal(256) * 3e-5
    rows.append(r)
    # large values, one block past the f16 range of Q8_0's scale
    r = rng.standard_normal(N) * 1e3
    r[32:64] *= 1e4
    rows.append(r)
    # sparse spikes
    r = np.zeros(N)
    r[rng.integers(0, N, 12)] = rng.standard_normal(12) * 5
    rows.append(r)
    rows.append(np.full(N, 0.75))
    rows.append(np.full(N, -0.3))
    rows.append(rng.standard_normal(N) ** 3)
    rows.append(rng.random(N))
    rows.append(-rng.random(N) * 2)
    # equal magnitudes of both signs: the first one sets Q4_0's sign
    r = rng.uniform(-1, 1, N)
    r[5::32] = 1.5
    r[9::32] = -1.5
    rows.append(r)
    r = rng.uniform(-1, 1, N)
    r[3::32] = -1.5
    r[20::32] = 1.5
    rows.append(r)
    rows.append(np.zeros(N))
    # zero sub-blocks of 16 and 32 inside normal data
    r = rng.standard_normal(N)
    r[16:32] = 0
    r[64:96] = 0
    r[300:316] = 0
    rows.append(r)
    # a sub-block far larger than the rest (small scales quantize to 0)
    r = rng.standard_normal(N) * 0.01
    r[200:216] *= 1e4
    rows.append(r)
    for i in range(15):
        rows.append(rng.standard_normal(N) * 10.0 ** rng.uniform(-3, 2) + rng.uniform(-1, 1))
    return np.array(rows, dtype=f)


def acts(rng):
    rows = [rng.standard_normal(N) * s for s in (1, 0.1, 3, 30)]
    rows.append(rng.standard_normal(N) ** 3)
    r = rng.standard_normal(N)
    r[:256] = 0  # a zero super-block
    rows.append(r)
    rows.append(np.full(N, 0.5))
    rows.append(rng.uniform(-1, 1, N))
    return np.array(rows, dtype=np.float32)


def random_blocks(rng, t, size, count):
    """Random bytes, the f16 scales' exponents kept below 16 (|d| < 2)."""
    b = rng.integers(0, 256, (count, size), dtype=np.uint8)
    hi = {"q8_0": [1], "q4_0": [1], "q4_K": [1, 3], "q6_K": [209]}.get(t, [])
    for i in hi:
        b[:, i] &= 0xbb  # sign kept; exponent bits 14 and 10 cleared
    if t == "q8_K":
        d = rng.uniform(-0.1, 0.1, count).astype("<f4")
        b[:, 0:4] = d.view(np.uint8).reshape(count, 4)
        b[:, 4:260][b[:, 4:260] == 128] = 129  # no -128 in Q8_K quants
    return b.tobytes()


class GGML:
    SIZES = {"q8_0": 34, "q4_0": 18, "q4_K": 144, "q6_K": 210, "q8_K": 292}
    BLCK = {"q8_0": 32, "q4_0": 32, "q4_K": 256, "q6_K": 256, "q8_K": 256}

    def __init__(self, bins):
        self.base = ctypes.CDLL(os.path.join(bins, "libggml-base.so"), mode=ctypes.RTLD_GLOBAL)
        self.cpu = ctypes.CDLL(os.path.join(bins, "libggml-cpu-x64.so"), mode=ctypes.RTLD_GLOBAL)
        self.cpu.ggml_cpu_init()  # fills the f16 table the dot products read scales through

    def quantize(self, t, x):
        fn = getattr(self.base, "quantize_row_%s_ref" % t)
        out = []
        for row in x:
            row = np.ascontiguousarray(row, dtype=np.float32)
            buf = ctypes.create_string_buffer(len(row) // self.BLCK[t] * self.SIZES[t])
            fn(row.ctypes.data_as(ctypes.c_void_p), buf, ctypes.c_int64(len(row)))
            out.append(buf.raw)
        return b"".join(out)

    def dequantize(self, t, raw):
        n = len(raw) // self.SIZES[t] * self.BLCK[t]
        out = np.zeros(n, dtype=np.float32)
        getattr(self.base, "dequantize_row_%s" % t)(raw, out.ctypes.data_as(ctypes.c_void_p),
                                                    ctypes.c_int64(n))
        return out

    def dots(self, wt, at, wq, aq, rows, cols):
        fn = getattr(self.cpu, "ggml_vec_dot_%s_%s_generic" % (wt, at))
        wb = len(wq) // rows
        ab = len(aq) // cols
        res = np.zeros((rows, cols), dtype=np.float32)
        s = ctypes.c_float()
        for r in range(rows):
            for c in range(cols):
                fn(ctypes.c_int(N), ctypes.byref(s), ctypes.c_size_t(0),
                   wq[r * wb:(r + 1) * wb], ctypes.c_size_t(0),
                   aq[c * ab:(c + 1) * ab], ctypes.c_size_t(0), ctypes.c_int(1))
                res[r, c] = s.value
        return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(SRC, "tests", "fixtures", "quant"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(20240607)
    w, a = weights(rng), acts(rng)
    gw = load_gguf_write()

    def put(name, data):
        with open(os.path.join(args.out, name), "wb") as f:
            f.write(data)
        print("wrote", name, len(data), "bytes")

    put("weights.f32", w.astype("<f4").tobytes())
    put("acts.f32", a.astype("<f4").tobytes())
    q = {"q8_0": gw.quant_q8_0(w), "q4_0": gw.quant_q4_0(w)}
    aq = {"q8_0": gw.quant_q8_0(a)}
    put("q8_0.bin", q["q8_0"])
    put("q4_0.bin", q["q4_0"])
    put("acts_q8_0.bin", aq["q8_0"])
    if not os.path.exists(os.path.join(BINS, "libggml-base.so")):
        print("no llama.cpp libraries in %s: K-quant files left as they are" % BINS)
        return
    g = GGML(BINS)
    for t in ("q8_0", "q4_0"):  # the two references agree
        assert g.quantize(t, w) == q[t], "gguf_write.py and llama.cpp disagree on " + t
    assert g.quantize("q8_0", a) == aq["q8_0"]
    q["q4_K"], q["q6_K"] = g.quantize("q4_K", w), g.quantize("q6_K", w)
    aq["q8_K"] = g.quantize("q8_K", a)
    put("q4_K.bin", q["q4_K"])
    put("q6_K.bin", q["q6_K"])
    put("acts_q8_K.bin", aq["q8_K"])
    for t in ("q8_0", "q4_0", "q4_K", "q6_K", "q8_K"):
        raw = random_blocks(rng, t, GGML.SIZES[t], 4096 // GGML.BLCK[t])
        put("blocks_%s.bin" % t, raw)
        put("blocks_%s.f32" % t, g.dequantize(t, raw).astype("<f4").tobytes())
    for t, at in (("q8_0", "q8_0"), ("q4_0", "q8_0"), ("q4_K", "q8_K"), ("q6_K", "q8_K")):
        d = g.dots(t, at, q[t], aq[at], len(w), len(a))
        put("dots_%s.f32" % t, d.astype("<f4").tobytes())


if __name__ == "__main__":
    sys.exit(main())

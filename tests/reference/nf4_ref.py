#!/usr/bin/python3
"""nf4_ref.py - NF4 with double quantization (QLoRA, Dettmers et al. 2023),
written from the paper in numpy, and golden files for tests/quant/test_nf4.c.

The format (the same choices src/quant/nf4.h documents; nothing here imports
or runs herd):
  * blocks of 64 weights; c = max |w| (float32); x = w / c in float32 (0 when
    c = 0); the index of the NEAREST of the 16 NF4 values (bitsandbytes'
    table), found here as an argmin of |x - code| in float64, the lower index
    on an exact tie;
  * two indices per byte, bitsandbytes' order: element 2k in the high nibble,
    2k + 1 in the low one;
  * double quantization of the constants: mean = float32(sum(c) / count), the
    sum in float64 in block order; d = c - mean (float32); per group of 256
    constants scale = max |d| / 448 (float32) and an 8-bit float per
    constant, FP8 E4M3 (fn: bias 7, subnormals, max 448, no inf), found here
    as the nearest of the 127 non-negative finite E4M3 magnitudes with the
    sign copied, ties to the even code, of clip(d / scale, -448, 448);
  * c' = e4m3(code) * scale + mean, w' = nf4[index] * c' (float32).

Writes tests/fixtures/quant/ (little-endian, no headers):
  nf4_w.f32       ROWS x COLS float32 weights (normal, outliers, zeros,
                  exact NF4 midpoints and their neighbours, odd blocks)
  nf4_qs.bin      their packed 4-bit indices, ROWS * COLS / 2 bytes
  nf4_absmax.bin  the E4M3 codes of the block constants, one per 64 weights
  nf4_scales.f32  the second-level scales, one per 256 constants, then mean
  nf4_deq.f32     the dequantized weights
  nf4_e4m3.f32    float32 values with hard cases of E4M3 rounding
  nf4_e4m3.bin    their E4M3 codes

    /usr/bin/python3 tests/reference/nf4_ref.py [--out DIR] [--stats]

--stats prints the quantization error of standard normal weights.
"""
import argparse, os
import numpy as np

ROWS, COLS = 192, 128     # 384 blocks: one full group of 256 and one of 128
BLOCK, GROUP = 64, 256
f32 = np.float32

NF4 = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
    0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0], dtype=f32)


def e4m3_magnitudes():
    """The 127 finite non-negative E4M3 values, by code 0x00..0x7e."""
    out = []
    for b in range(0x7f):
        e, m = b >> 3, b & 7
        out.append(m / 8 * 2.0 ** -6 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7))
    return np.array(out, dtype=np.float64)


E4M3 = e4m3_magnitudes()


def e4m3_decode(codes):
    codes = np.asarray(codes, dtype=np.uint8)
    mag = E4M3[np.minimum(codes & 0x7f, 0x7e)]
    return np.where(codes & 0x80, -mag, mag).astype(f32)


def e4m3_encode(x):
    """Nearest E4M3 byte of each float32 (|x| <= 448), ties to even."""
    x = np.asarray(x, dtype=f32)
    a = np.abs(x).astype(np.float64)
    dist = np.abs(a[:, None] - E4M3[None, :])
    best = dist.min(axis=1, keepdims=True)
    tied = dist == best
    # among the (one or two) nearest codes, the even one
    even = tied & (np.arange(0x7f)[None, :] % 2 == 0)
    code = np.where(even.any(axis=1), even.argmax(axis=1), tied.argmax(axis=1))
    return (code | np.where(np.signbit(x), 0x80, 0)).astype(np.uint8)


def quantize(w):
    w = np.asarray(w, dtype=f32).reshape(-1, BLOCK)
    c = np.abs(w).max(axis=1)
    safe = np.where(c > 0, c, f32(1))
    x = np.where(c[:, None] > 0, w / safe[:, None], f32(0)).astype(f32)
    d = np.abs(x.astype(np.float64)[:, :, None] - NF4.astype(np.float64)[None, None, :])
    idx = d.argmin(axis=2).astype(np.uint8)          # first index on a tie
    flat = idx.reshape(-1)
    qs = (flat[0::2] << 4 | flat[1::2]).astype(np.uint8)

    s = 0.0
    for v in c:                                      # float64, block order
        s += float(v)
    mean = f32(s / len(c))
    dev = (c - mean).astype(f32)
    codes, scales = np.zeros(len(c), np.uint8), []
    for g in range(0, len(c), GROUP):
        part = dev[g:g + GROUP]
        scale = f32(np.abs(part).max()) / f32(448)
        scales.append(scale)
        if scale > 0:
            codes[g:g + GROUP] = e4m3_encode(np.clip(part / scale, f32(-448), f32(448)))
    return qs, codes, np.array(scales, dtype=f32), mean


def dequantize(qs, codes, scales, mean):
    idx = np.empty(2 * len(qs), np.uint8)
    idx[0::2], idx[1::2] = qs >> 4, qs & 15
    group = np.arange(len(codes)) // GROUP
    c = (e4m3_decode(codes) * scales[group]).astype(f32) + mean
    return (NF4[idx].reshape(-1, BLOCK) * c.astype(f32)[:, None]).astype(f32).reshape(-1)


def weights(rng):
    w = (rng.standard_normal((ROWS, COLS)) * 0.02).astype(f32)
    out = rng.random((ROWS, COLS)) < 0.005
    w[out] *= 20                                     # outliers
    w[rng.random((ROWS, COLS)) < 0.03] = 0           # exact zeros
    w[1, :64] = 0                                    # an all-zero block
    w[1, 64:] = f32(0.5)                             # a constant block
    # NF4 midpoints (exact where float32 holds them) and their neighbours,
    # with c = 1 and c = -2 (w / c exact): ties and the values beside them
    mids = (NF4[:-1].astype(np.float64) + NF4[1:]) / 2
    hard = []
    for m in mids:
        m32 = f32(m)
        hard += [m32, np.nextafter(m32, f32(2)), np.nextafter(m32, f32(-2))]
    hard = np.array(hard, dtype=f32)
    for r, c in ((2, 1.0), (3, -2.0)):
        w[r, :] = np.clip(rng.standard_normal(COLS) * 0.3, -0.9, 0.9).astype(f32)
        w[r, 0] = f32(c)
        w[r, 1:1 + len(hard)] = hard * f32(abs(c))
        w[r, 64] = f32(-c)
        w[r, 65:65 + len(hard)] = -hard[::-1] * f32(abs(c))
    # w / c beside the midpoints for c not a power of two, where w / c and
    # w * (1 / c) part: the float32 division decides
    for r, c in ((5, 3.0), (6, 0.7), (7, -1.3)):
        w[r, :] = np.clip(rng.standard_normal(COLS) * 0.3, -0.6, 0.6).astype(f32) * f32(abs(c))
        for half, ms in ((0, mids[:8]), (1, mids[8:])):
            w[r, 64 * half] = f32(c)
            v = []
            for m in ms:
                t = f32(m * abs(c))
                for k in (-2, -1, 0, 1, 2):
                    u = t
                    for _ in range(abs(k)):
                        u = np.nextafter(u, f32(np.sign(k) * 9))
                    v.append(u)
            w[r, 64 * half + 1:64 * half + 1 + len(v)] = v
    w[4, :64] *= f32(1e-30)                          # tiny constants
    w[150, 64:] *= 50                                # a large one in group 1
    return w


def e4m3_cases(rng):
    v = []
    for i in range(0x7e):                            # midpoints and neighbours
        m = f32((E4M3[i] + E4M3[i + 1]) / 2)
        v += [m, np.nextafter(m, f32(1e9)), np.nextafter(m, f32(0))]
    v += list(E4M3.astype(f32)) + [f32(448), f32(0), f32(1e-30), f32(2.0 ** -10)]
    v += list((rng.standard_normal(200) * 30).astype(f32))
    v += list((rng.standard_normal(100) * 0.01).astype(f32))
    v = np.array(v, dtype=f32)
    return np.concatenate([v, -v])


def stats():
    rng = np.random.default_rng(1)
    w = rng.standard_normal(1 << 20).astype(f32)
    deq = dequantize(*quantize(w))
    err = np.abs(w.astype(np.float64) - deq)
    print("standard normal, 2^20 weights: mean |w - deq| / std = %.5f, rms / std = %.5f"
          % (err.mean(), np.sqrt((err ** 2).mean())))
    q = quantize(w)
    print("bits per weight: %.4f" % (8 * (len(q[0]) + len(q[1]) + 4 * len(q[2]) + 4) / len(w)))


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "fixtures", "quant"))
    ap.add_argument("--stats", action="store_true")
    a = ap.parse_args()
    if a.stats:
        stats()
        return
    rng = np.random.default_rng(20230523)
    w = weights(rng)
    qs, codes, scales, mean = quantize(w)
    deq = dequantize(qs, codes, scales, mean)
    cases = e4m3_cases(rng)
    files = {
        "nf4_w.f32": w.astype("<f4").tobytes(),
        "nf4_qs.bin": qs.tobytes(),
        "nf4_absmax.bin": codes.tobytes(),
        "nf4_scales.f32": np.append(scales, mean).astype("<f4").tobytes(),
        "nf4_deq.f32": deq.astype("<f4").tobytes(),
        "nf4_e4m3.f32": cases.astype("<f4").tobytes(),
        "nf4_e4m3.bin": e4m3_encode(cases).tobytes(),
    }
    for name, data in files.items():
        with open(os.path.join(a.out, name), "wb") as f:
            f.write(data)
    print("wrote %d files to %s (%d E4M3 cases)" % (len(files), a.out, len(cases)))


if __name__ == "__main__":
    main()

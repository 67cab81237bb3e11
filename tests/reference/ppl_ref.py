#!/usr/bin/python3
"""Reference perplexity, computed as llama.cpp's llama-perplexity does it
(tools/perplexity/perplexity.cpp, perplexity()), over a golden fixture model
and the float64 Llama of llama_ref.py. Shares no code with herd.

    /usr/bin/python3 tests/reference/ppl_ref.py [--model gqa] [--ctx 16]
        [--chunks N] [--bos 1] (--ids FILE | --lcg N) [--print-ids]
    /usr/bin/python3 tests/reference/ppl_ref.py --cases   # tests/infer/test_perplexity.c's table

The method: the ids are cut into n_chunk = len(ids) // ctx non-overlapping
chunks (at most --chunks; llama.cpp refuses fewer than 2 * ctx ids); in each,
the first id is replaced by BOS (--bos -1: kept), the chunk runs from
position 0, and positions first = ctx // 2 .. ctx - 2 are scored with
v = -log_softmax(logits[j])[chunk[j + 1]], ctx - first - 1 per chunk. The
running estimate after chunk i is exp(sum v / count); the final uncertainty
is ppl * sqrt((mean(v^2) - mean(v)^2) / (count - 1)).

The weights are rebuilt with make_fixtures.py's own generator (same seeds),
and checked against the fixture's committed logits.f32 before use. --lcg N
makes N ids x -> (75 x + 74) mod 65537 from x = 1, id = x mod vocab (the
ZX81 generator: every product fits a double, so C, awk and Python agree).
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama_ref  # noqa: E402
import make_fixtures  # noqa: E402

FIXTURES = os.path.join(HERE, "../fixtures/models")


def lcg_ids(n, vocab):
    x, out = 1, []
    for _ in range(n):
        x = (75 * x + 74) % 65537
        out.append(x % vocab)
    return out


def load(name):
    """(config, float64 weights) of a fixture, checked against its logits.f32."""
    c = next(f for f in make_fixtures.FIXTURES if f["name"] == name)
    cfg = make_fixtures.to_ref(c)
    w = make_fixtures.as_f64(make_fixtures.make_weights(c))
    d = os.path.join(FIXTURES, name)
    with open(os.path.join(d, "meta.json")) as f:
        tokens = json.load(f)["tokens"]
    want = np.fromfile(os.path.join(d, "logits.f32"), dtype="<f4").reshape(len(tokens), -1)
    got = llama_ref.forward(cfg, w, tokens, "meta").numpy()
    assert np.abs(got - want).max() < 1e-5, name + ": rebuilt weights do not give logits.f32"
    return cfg, w


def perplexity(cfg, w, ids, ctx, chunks=0, bos=1):
    """(nll sum, nll^2 sum, count, running estimates) as llama-perplexity computes them."""
    assert ctx >= 3 and len(ids) >= 2 * ctx, "llama.cpp needs at least 2 * ctx ids"
    n_chunk = len(ids) // ctx
    if chunks:
        n_chunk = min(n_chunk, chunks)
    first = ctx // 2
    nll = nll2 = 0.0
    count, running = 0, []
    for i in range(n_chunk):
        chunk = list(ids[i * ctx:(i + 1) * ctx])
        if bos >= 0:
            chunk[0] = bos
        logp = torch.log_softmax(llama_ref.forward(cfg, w, chunk, "meta"), dim=-1)
        for j in range(first, ctx - 1):
            v = -logp[j, chunk[j + 1]].item()
            nll += v
            nll2 += v * v
            count += 1
        running.append(math.exp(nll / count))
    return nll, nll2, count, running


def estimate(nll, nll2, count):
    mean = nll / count
    ppl = math.exp(mean)
    var = nll2 / count - mean * mean
    return ppl, (ppl * math.sqrt(var / (count - 1)) if count > 1 and var > 0 else 0.0)


# The cases of tests/infer/test_perplexity.c: (model, n ids, ctx, chunks, bos).
CASES = [("gqa", 75, 16, 0, 1), ("gqa", 75, 11, 3, 1), ("gqa", 40, 20, 0, -1),
         ("mha", 64, 7, 0, 1)]


def print_cases():
    print("/* Written by tests/reference/ppl_ref.py --cases. */")
    models = {}
    for name, n, ctx, chunks, bos in CASES:
        if name not in models:
            models[name] = load(name)
        cfg, w = models[name]
        nll, nll2, count, _ = perplexity(cfg, w, lcg_ids(n, cfg.vocab_size), ctx, chunks, bos)
        ppl, err = estimate(nll, nll2, count)
        print(f'    {{"{name}", {n}, {ctx}, {chunks}, {bos}, {count}, {nll!r}, {nll2!r}, '
              f'{ppl!r}, {err!r}}},')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="gqa")
    ap.add_argument("--ctx", type=int, default=16)
    ap.add_argument("--chunks", type=int, default=0)
    ap.add_argument("--bos", type=int, default=1)
    ap.add_argument("--ids", help="file of whitespace-separated ids")
    ap.add_argument("--lcg", type=int, help="use N generated ids")
    ap.add_argument("--print-ids", action="store_true", help="print the ids and stop")
    ap.add_argument("--cases", action="store_true")
    a = ap.parse_args()
    if a.cases:
        return print_cases()
    if a.print_ids:
        c = next(f for f in make_fixtures.FIXTURES if f["name"] == a.model)
        return print(" ".join(map(str, lcg_ids(a.lcg, c["vocab_size"]))))
    cfg, w = load(a.model)
    if a.ids:
        with open(a.ids) as f:
            ids = [int(t) for t in f.read().split()]
    else:
        ids = lcg_ids(a.lcg, cfg.vocab_size)
    nll, nll2, count, running = perplexity(cfg, w, ids, a.ctx, a.chunks, a.bos)
    ppl, err = estimate(nll, nll2, count)
    print("running " + " ".join(f"{r:.10g}" for r in running))
    print(f"count {count}\nnll {nll!r}\nnll2 {nll2!r}\nppl {ppl!r}\nerr {err!r}")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Golden training gradients for tests/model/test_grad_golden.c.

    /usr/bin/python3 tests/reference/grad_ref.py [--out DIR]

For some of make_fixtures.py's tiny models (weights rebuilt by its own
make_weights, then checked against the committed logits.f32), one fixed
micro-batch of B=2 rows of T=12 tokens as include/herd_train.h defines it:
row 0 is one document with two unscored targets (-1); row 1 packs three
documents starting at t = 0, 4 and 9 (no attention across a boundary, rotary
positions restart at 0 in each). The loss is the mean cross-entropy over the
scored targets, and torch.autograd gives the gradient of every parameter in
float64 (llama_ref.py's forward with a block-diagonal causal mask and
per-document positions). A tied model's token embedding gets the sum of both
uses, as autograd sums them.

Before writing, it proves the mask semantics in the reference itself: row 1's
summed loss and gradients equal those of its three documents run alone (to
1e-12), and differ without the document mask (so the check can fail).

Per model, tests/fixtures/grads/<name>/:
  batch.txt   line 1 "B T"; line 2 the B*T tokens; line 3 the B*T targets
              (-1: not scored); line 4 the B*T doc_start flags (0/1)
  loss.txt    the loss, %.17g
  layout.txt  one line per tensor of herd_train.h's flat layout, in order:
              "name rows cols" (GGUF names, a vector has rows 1)
  grads.f32   little-endian float32 d(loss)/d(param), that layout back to back
Deterministic: a rerun writes identical bytes. No herd code is used.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama_ref  # noqa: E402
import make_fixtures as mf  # noqa: E402

DEFAULT_OUT = os.path.join(HERE, "../fixtures/grads")
MODELS = ["mha", "gqa", "gqa_tied", "llama31"]

B, T = 2, 12
# Every id is below 96, the smallest vocabulary here; 95 (vocab - 1 of mha and
# llama31) and 0 appear. Targets are the next token within a document; a
# document's last target is an end token (2) or unscored.
TOKENS = [[1, 17, 42, 5, 17, 63, 8, 42, 42, 0, 33, 90],
          [1, 23, 71, 9, 1, 55, 3, 88, 14, 1, 60, 95]]
TARGETS = [[17, 42, -1, 17, 63, 8, 42, -1, 0, 33, 90, 7],
           [23, 71, 9, -1, 55, 3, 88, 14, 2, 60, 95, 2]]
DOC_START = [[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
             [1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]]

# herd_train.h's GGUF names of each layer's tensors and llama_ref's Meta names.
LAYER_TENSORS = [("attn_norm", "attention_norm"), ("attn_q", "attention.wq"),
                 ("attn_k", "attention.wk"), ("attn_v", "attention.wv"),
                 ("attn_output", "attention.wo"), ("ffn_norm", "ffn_norm"),
                 ("ffn_gate", "feed_forward.w1"), ("ffn_down", "feed_forward.w2"),
                 ("ffn_up", "feed_forward.w3")]


def layout(c):
    """(GGUF name, Meta name) of every tensor in herd_train.h's order."""
    out = [("token_embd", "tok_embeddings")]
    for l in range(c["n_layers"]):
        out += [(f"blk.{l}.{g}", f"layers.{l}.{m}") for g, m in LAYER_TENSORS]
    out.append(("output_norm", "norm"))
    if not c["tied"]:
        out.append(("output", "output"))
    return out


def doc_ids_positions(starts):
    """Each token's document index and its position inside the document."""
    docs, pos, d, p = [], [], -1, 0
    for t, s in enumerate(starts):
        if s or t == 0:
            d, p = d + 1, 0
        docs.append(d)
        pos.append(p)
        p += 1
    return docs, pos


def row_ce_sum(cfg, w, tokens, targets, starts, use_mask=True):
    """Summed cross-entropy of one row's scored targets and their count."""
    docs, pos = doc_ids_positions(starts)
    d = torch.tensor(docs)
    allowed = d[:, None] == d[None, :]
    if use_mask:
        logits = llama_ref.forward(cfg, w, tokens, "meta", positions=pos, allowed=allowed)
    else:
        logits = llama_ref.forward(cfg, w, tokens, "meta")
    tg = torch.tensor(targets)
    keep = tg >= 0
    ce = F.cross_entropy(logits[keep], tg[keep], reduction="sum")
    return ce, int(keep.sum())


def leaf_weights(w):
    return {k: torch.from_numpy(np.asarray(v, dtype=np.float64)).requires_grad_(True)
            for k, v in w.items()}


def grads_of(value, w):
    names = sorted(w)
    g = torch.autograd.grad(value, [w[n] for n in names], allow_unused=True)
    return {n: (torch.zeros_like(w[n]) if gi is None else gi) for n, gi in zip(names, g)}


def check_packing(c, cfg, w0):
    """Row 1 packed == its documents alone; and not so without the mask."""
    w = leaf_weights(w0)
    ce, _ = row_ce_sum(cfg, w, TOKENS[1], TARGETS[1], DOC_START[1])
    packed = grads_of(ce, w)
    starts = [t for t, s in enumerate(DOC_START[1]) if s] + [T]
    alone_ce = 0.0
    alone = {n: torch.zeros_like(v) for n, v in w.items()}
    for a, b in zip(starts, starts[1:]):
        wd = leaf_weights(w0)
        ced, _ = doc_ce_sum(cfg, wd, TOKENS[1][a:b], TARGETS[1][a:b])
        for n, g in grads_of(ced, wd).items():
            alone[n] += g
        alone_ce += ced.item()
    assert abs(ce.item() - alone_ce) <= 1e-12 * abs(alone_ce), (c["name"], ce.item(), alone_ce)
    for n in w:
        err = (packed[n] - alone[n]).abs().max().item()
        scale = max(alone[n].abs().max().item(), 1e-30)
        assert err <= 1e-12 * scale, f"{c['name']} {n}: packed differs from alone by {err}"
    unmasked, _ = row_ce_sum(cfg, leaf_weights(w0), TOKENS[1], TARGETS[1], DOC_START[1],
                             use_mask=False)
    assert abs(unmasked.item() - alone_ce) > 1e-3, c["name"] + ": the document mask is a no-op?"
    return abs(ce.item() - alone_ce)


def doc_ce_sum(cfg, w, tokens, targets):
    """One document alone: plain causal forward from position 0."""
    logits = llama_ref.forward(cfg, w, tokens, "meta")
    tg = torch.tensor(targets)
    keep = tg >= 0
    return F.cross_entropy(logits[keep], tg[keep], reduction="sum"), int(keep.sum())


def check_weights(c, cfg, w0):
    """The rebuilt weights are the committed model's: its logits.f32 agree."""
    d = os.path.join(HERE, "../fixtures/models", c["name"])
    tokens = [int(t) for t in open(os.path.join(d, "tokens.txt")).read().split()]
    want = np.fromfile(os.path.join(d, "logits.f32"), dtype="<f4")
    got = llama_ref.forward(cfg, mf.as_f64(w0), tokens, "meta").numpy().ravel()
    assert np.array_equal(got.astype("<f4"), want), c["name"] + ": weights differ from fixture"


def make(c, out):
    cfg = mf.to_ref(c)
    w0 = mf.make_weights(c)
    check_weights(c, cfg, w0)
    diff = check_packing(c, cfg, w0)

    w = leaf_weights(w0)
    total, n_scored = 0.0, 0
    for b in range(B):
        ce, n = row_ce_sum(cfg, w, TOKENS[b], TARGETS[b], DOC_START[b])
        total, n_scored = total + ce, n_scored + n
    loss = total / n_scored
    g = grads_of(loss, w)

    d = os.path.join(out, c["name"])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "batch.txt"), "w") as f:
        f.write(f"{B} {T}\n")
        for rows in (TOKENS, TARGETS, DOC_START):
            f.write(" ".join(str(v) for r in rows for v in r) + "\n")
    with open(os.path.join(d, "loss.txt"), "w") as f:
        f.write("%.17g\n" % loss.item())
    with open(os.path.join(d, "layout.txt"), "w") as lf, \
            open(os.path.join(d, "grads.f32"), "wb") as gf:
        n_floats = 0
        for gguf, meta in layout(c):
            t = g[meta]
            rows, cols = (1, t.shape[0]) if t.dim() == 1 else tuple(t.shape)
            lf.write(f"{gguf} {rows} {cols}\n")
            gf.write(np.ascontiguousarray(t.numpy(), dtype="<f4").tobytes())
            n_floats += rows * cols
    gnorm = torch.sqrt(sum((v * v).sum() for v in g.values())).item()
    print(f"{c['name']:9s} loss {loss.item():.6f}  scored {n_scored}  params {n_floats}  "
          f"grad norm {gnorm:.4f}  packed-vs-alone {diff:.1e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    a = ap.parse_args()
    torch.set_num_threads(1)  # one summation order: identical bytes on every run
    by_name = {c["name"]: c for c in mf.FIXTURES}
    for name in MODELS:
        make(by_name[name], a.out)


if __name__ == "__main__":
    main()

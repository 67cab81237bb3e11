#!/usr/bin/python3
"""Golden DPO loss and gradients for tests/train/test_dpo.c.

    /usr/bin/python3 tests/reference/dpo_ref.py [--out DIR]

DPO (Rafailov et al. 2023): with pc, pr the policy's and rc, rr the
reference's sequence log-probabilities of a pair's chosen and rejected
answers (summed over the answer tokens only),

    z    = beta * ((pc - rc) - (pr - rr))
    loss = mean over pairs of -log sigmoid(z)

For some of make_fixtures.py's tiny models (weights rebuilt by its
make_weights and checked against the committed logits.f32, as grad_ref.py
does) the policy is the fixture model and the reference is the same model
with every RMSNorm weight (attention_norm, ffn_norm, norm) times 0.5, an
exact change in float32 that a C test can make too. P = 2 pairs, rows of
T = 12 tokens as include/herd_train.h and src/train/dpo.h lay them out:
rows 0..P-1 the chosen answers, rows P..2P-1 the rejected ones; a sequence
of n ids gives inputs ids[0..n-2] and targets ids[1..n-1], -1 on the
prompt's targets; the rest of a row is token 0, target -1. One sequence
fills its row exactly (n = T + 1). torch.autograd gives d(loss)/d(param)
of every policy tensor in float64 (llama_ref.forward, one document a row);
the reference's log-probabilities are constants.

Before writing it checks that the loss is not flat (some z far from 0 and
sigmoid weights unequal between pairs) and that the gradient equals the
closed form sum_b coef[b] d logp[b] / d param with coef = -+beta
sigmoid(-z) / P (to 1e-12), so the loss's definition is the one dpo.h
states.

Per model, tests/fixtures/dpo/<name>/:
  pairs.txt   line 1 "P T beta"; then per pair three lines: the prompt's
              length, the chosen sequence's ids, the rejected sequence's ids
              (each sequence: the prompt's ids, then the answer's)
  batch.txt   line 1 "B T"; line 2 the B*T tokens; line 3 the B*T targets
  logp.txt    line 1 the policy's log-probabilities of the 2P rows; line 2
              the reference's (%.17g, batch order)
  loss.txt    the loss, %.17g
  layout.txt  "name rows cols" per tensor of herd_train.h's flat layout
  grads.f32   little-endian float32 d(loss)/d(param) in that layout
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
import grad_ref  # noqa: E402
import make_fixtures as mf  # noqa: E402

DEFAULT_OUT = os.path.join(HERE, "../fixtures/dpo")
MODELS = ["mha", "gqa_tied"]
T = 12
BETA = 0.5
REF_NORM_SCALE = 0.5
# (prompt, chosen answer, rejected answer); ids below 96, the smallest
# vocabulary; pair 1's chosen sequence is 13 = T + 1 ids.
PAIRS = [([1, 17, 42, 5], [63, 8, 42, 2], [90, 33, 2]),
         ([1, 23, 71, 9, 55, 3], [88, 14, 60, 95, 0, 7, 2], [4, 2])]


def row(prompt, answer):
    """Inputs and targets of one sequence in a row of T."""
    ids = prompt + answer
    assert len(ids) <= T + 1
    tokens, targets = [0] * T, [-1] * T
    for t in range(len(ids) - 1):
        tokens[t] = ids[t]
        targets[t] = ids[t + 1] if t + 1 >= len(prompt) else -1
    return tokens, targets


def batch():
    rows = [row(p, c) for p, c, _ in PAIRS] + [row(p, r) for p, _, r in PAIRS]
    return [r[0] for r in rows], [r[1] for r in rows]


def row_logp(cfg, w, tokens, targets):
    ce, _ = grad_ref.row_ce_sum(cfg, w, tokens, targets, [1] + [0] * (T - 1))
    return -ce


def make(c, out):
    cfg = mf.to_ref(c)
    w0 = mf.make_weights(c)
    grad_ref.check_weights(c, cfg, w0)
    tokens, targets = batch()
    P = len(PAIRS)

    wr = mf.as_f64({k: (v * REF_NORM_SCALE if k.endswith("norm") else v) for k, v in w0.items()})
    ref = torch.stack([row_logp(cfg, wr, tokens[b], targets[b]) for b in range(2 * P)]).detach()
    w = grad_ref.leaf_weights(w0)
    pol = torch.stack([row_logp(cfg, w, tokens[b], targets[b]) for b in range(2 * P)])
    z = BETA * ((pol[:P] - ref[:P]) - (pol[P:] - ref[P:]))
    loss = -F.logsigmoid(z).mean()
    g = grad_ref.grads_of(loss, w)

    # The closed form: coef-weighted row gradients (a new graph per row).
    sig = torch.sigmoid(-z).detach()
    assert z.abs().max().item() > 0.5 and abs(sig[0] - sig[1]).item() > 0.05, z
    coef = torch.cat([-BETA * sig / P, BETA * sig / P])
    closed = {n: torch.zeros_like(v) for n, v in w.items()}
    for b in range(2 * P):
        wb = grad_ref.leaf_weights(w0)
        for n, gb in grad_ref.grads_of(row_logp(cfg, wb, tokens[b], targets[b]), wb).items():
            closed[n] += coef[b] * gb
    for n in w:
        err = (closed[n] - g[n]).abs().max().item()
        assert err <= 1e-12 * max(g[n].abs().max().item(), 1e-30), (c["name"], n, err)

    d = os.path.join(out, c["name"])
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "pairs.txt"), "w") as f:
        f.write(f"{P} {T} {BETA}\n")
        for p, ch, rj in PAIRS:
            f.write(f"{len(p)}\n" + " ".join(map(str, p + ch)) + "\n" +
                    " ".join(map(str, p + rj)) + "\n")
    with open(os.path.join(d, "batch.txt"), "w") as f:
        f.write(f"{2 * P} {T}\n")
        for rows in (tokens, targets):
            f.write(" ".join(str(v) for r in rows for v in r) + "\n")
    with open(os.path.join(d, "logp.txt"), "w") as f:
        for v in (pol, ref):
            f.write(" ".join("%.17g" % x for x in v.tolist()) + "\n")
    with open(os.path.join(d, "loss.txt"), "w") as f:
        f.write("%.17g\n" % loss.item())
    with open(os.path.join(d, "layout.txt"), "w") as lf, \
            open(os.path.join(d, "grads.f32"), "wb") as gf:
        for gguf, meta in grad_ref.layout(c):
            t = g[meta]
            rows, cols = (1, t.shape[0]) if t.dim() == 1 else tuple(t.shape)
            lf.write(f"{gguf} {rows} {cols}\n")
            gf.write(np.ascontiguousarray(t.numpy(), dtype="<f4").tobytes())
    gnorm = torch.sqrt(sum((v * v).sum() for v in g.values())).item()
    print(f"{c['name']:9s} loss {loss.item():.6f}  z {[round(x, 4) for x in z.tolist()]}  "
          f"grad norm {gnorm:.4f}")


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

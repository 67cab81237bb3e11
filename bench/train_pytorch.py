#!/usr/bin/python3
"""PyTorch peer for herd's training-speed benchmark.

    /usr/bin/python3 bench/train_pytorch.py [--threads 2] [--steps 10] ...

A standard Llama in float32 on the CPU: token embedding; per layer RMSNorm,
causal grouped-query attention with Meta-layout rotary embeddings through
scaled_dot_product_attention, residual, RMSNorm, SwiGLU, residual; a final
RMSNorm and the output projection (tied to the embedding unless --untied).
Default shape is stories15M's (dim 288, 6 layers, 6 heads, 6 kv heads,
hidden 768, vocab 32000, seq 256, batch 8). Weights as llama2.c draws them
(normal(0, 0.02), attention and FFN output projections / sqrt(2 n_layers),
norms 1). Random token batches from a fixed seed, all drawn before timing.

One step: forward, mean cross-entropy, backward, clip_grad_norm_(1.0),
AdamW(lr 3e-4, betas (0.9, 0.95), eps 1e-5, weight decay 0.1 on matrices
only, as herd's AdamW decays), zero_grad. --warmup steps untimed, then
--steps timed. Prints one JSON line:
    {"peer": "pytorch", "tokens_per_s", "ms_per_step", "peak_rss_mb",
     "threads", "shape": {...}, "final_loss", "torch"}
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def sdpa_causal(q, k, v):
    """Causal attention over [B][heads][T][hd]; torch >= 2.0 or 1.13's private form."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return F._scaled_dot_product_attention(q, k, v, None, 0.0, False, True)[0]


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, cos, sin):
    """Meta's layout: adjacent pairs (2i, 2i+1) of each head rotated. x [B][T][h][hd]."""
    xr = x.reshape(*x.shape[:-1], -1, 2)
    x0, x1 = xr[..., 0], xr[..., 1]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        hd = a.dim // a.heads
        self.heads, self.kv_heads, self.hd = a.heads, a.kv_heads, hd
        self.attn_norm = RMSNorm(a.dim, a.eps)
        self.wq = nn.Linear(a.dim, a.heads * hd, bias=False)
        self.wk = nn.Linear(a.dim, a.kv_heads * hd, bias=False)
        self.wv = nn.Linear(a.dim, a.kv_heads * hd, bias=False)
        self.wo = nn.Linear(a.heads * hd, a.dim, bias=False)
        self.ffn_norm = RMSNorm(a.dim, a.eps)
        self.w1 = nn.Linear(a.dim, a.hidden, bias=False)
        self.w2 = nn.Linear(a.hidden, a.dim, bias=False)
        self.w3 = nn.Linear(a.dim, a.hidden, bias=False)

    def attention(self, x, cos, sin):
        B, T, _ = x.shape
        q = rope(self.wq(x).view(B, T, self.heads, self.hd), cos, sin)
        k = rope(self.wk(x).view(B, T, self.kv_heads, self.hd), cos, sin)
        v = self.wv(x).view(B, T, self.kv_heads, self.hd)
        rep = self.heads // self.kv_heads
        if rep > 1:  # Meta's repeat_kv: query head h reads kv head h // rep
            k, v = k.repeat_interleave(rep, dim=2), v.repeat_interleave(rep, dim=2)
        o = sdpa_causal(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return self.wo(o.transpose(1, 2).reshape(B, T, -1))

    def forward(self, h, cos, sin):
        h = h + self.attention(self.attn_norm(h), cos, sin)
        x = self.ffn_norm(h)
        return h + self.w2(F.silu(self.w1(x)) * self.w3(x))


class Llama(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.tok = nn.Embedding(a.vocab, a.dim)
        self.layers = nn.ModuleList(Block(a) for _ in range(a.layers))
        self.norm = RMSNorm(a.dim, a.eps)
        self.output = nn.Linear(a.dim, a.vocab, bias=False)
        if not a.untied:
            self.output.weight = self.tok.weight
        hd = a.dim // a.heads
        freqs = 1.0 / (a.theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        ang = torch.outer(torch.arange(a.seq, dtype=torch.float64), freqs)
        # [T][1][hd/2]: broadcast over heads
        self.register_buffer("cos", ang.cos().float()[:, None, :], persistent=False)
        self.register_buffer("sin", ang.sin().float()[:, None, :], persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * a.layers) if name.endswith(("wo.weight", "w2.weight")) \
                    else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, tokens, targets):
        T = tokens.shape[1]
        cos, sin = self.cos[:T], self.sin[:T]
        h = self.tok(tokens)
        for layer in self.layers:
            h = layer(h, cos, sin)
        logits = self.output(self.norm(h))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))


def optimizer(model, a):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=a.lr, betas=(0.9, 0.95), eps=1e-5)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in [("dim", 288), ("layers", 6), ("heads", 6), ("kv-heads", 6),
                          ("hidden", 768), ("vocab", 32000), ("seq", 256), ("batch", 8),
                          ("threads", 2), ("warmup", 2), ("steps", 10), ("seed", 1234)]:
        ap.add_argument("--" + name, type=int, default=default)
    ap.add_argument("--untied", action="store_true", help="own output matrix (default: tied)")
    ap.add_argument("--eps", type=float, default=1e-5)
    ap.add_argument("--theta", type=float, default=10000.0)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    a = ap.parse_args()
    assert a.dim % a.heads == 0 and a.heads % a.kv_heads == 0 and (a.dim // a.heads) % 2 == 0

    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(a.seed)
    model = Llama(a)
    opt = optimizer(model, a)
    gen = torch.Generator().manual_seed(a.seed + 1)
    batches = [torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=gen)
               for _ in range(a.warmup + a.steps)]

    def step(data):
        loss = model(data[:, :-1], data[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    for i in range(a.warmup):
        step(batches[i])
    t0 = time.perf_counter()
    loss = float("nan")
    for i in range(a.steps):
        loss = step(batches[a.warmup + i])
    dt = time.perf_counter() - t0

    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    shape = {"dim": a.dim, "n_layers": a.layers, "n_heads": a.heads, "n_kv_heads": a.kv_heads,
             "hidden_dim": a.hidden, "vocab_size": a.vocab, "seq_len": a.seq, "batch": a.batch,
             "tied": not a.untied,
             "params": sum(p.numel() for p in model.parameters())}
    print(json.dumps({"peer": "pytorch",
                      "tokens_per_s": round(a.batch * a.seq * a.steps / dt, 1),
                      "ms_per_step": round(1000 * dt / a.steps, 2),
                      "peak_rss_mb": round(rss_kb / 1024, 1),
                      "threads": a.threads, "shape": shape, "steps": a.steps,
                      "final_loss": round(loss, 4), "torch": torch.__version__}))


if __name__ == "__main__":
    main()

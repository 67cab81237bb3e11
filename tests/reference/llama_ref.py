#!/usr/bin/python3
"""An independent float64 PyTorch reference of the Llama forward pass.

Written from the Llama paper and Meta's original llama/model.py, not from
herd: token embedding; per layer pre-RMSNorm, attention with rotary
embeddings and grouped-query heads, residual, RMSNorm, SwiGLU feed-forward,
residual; a final RMSNorm and the output projection (its own matrix, or the
token embedding when tied). forward() gives the logits of every position.

Weights are a dict of float64 tensors in (out, in) order, named as in
Meta's checkpoints:
    tok_embeddings [vocab][dim], norm [dim], output [vocab][dim] (absent when tied)
    layers.N.attention_norm, layers.N.ffn_norm                  [dim]
    layers.N.attention.wq [n_heads*hd][dim], .wk/.wv [n_kv_heads*hd][dim],
    layers.N.attention.wo [dim][n_heads*hd]
    layers.N.feed_forward.w1 (gate), .w3 (up) [hidden][dim], .w2 (down) [dim][hidden]

Two rotary layouts:
    "meta": Meta / llama2.c / GGUF: adjacent pairs (2i, 2i+1) of each head are
            one complex number rotated by pos * theta^(-2i/hd).
    "hf":   Hugging Face transformers: pairs (i, i + hd/2), rotate_half. Only
            correct for q/k rows permuted as convert_llama_weights_to_hf.py does.

Rotary scaling (Config.rope_scaling), applied to the frequencies of either
layout:
    "none":   theta^(-2i/hd).
    "linear": position interpolation: positions / factor, i.e. every
              frequency divided by rope_factor.
    "llama3": Llama 3.1's apply_scaling (Meta's llama-models reference code):
              with wavelen = 2 pi / freq and old = rope_orig_ctx, keep freq
              where wavelen < old / high_freq_factor, use freq / factor where
              wavelen > old / low_freq_factor, and in between blend
              (1 - smooth) * freq / factor + smooth * freq with
              smooth = (old / wavelen - low) / (high - low).
"""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class Config:
    dim: int
    hidden_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    seq_len: int
    norm_eps: float
    rope_theta: float
    tied: bool
    rope_scaling: str = "none"        # "none", "linear" or "llama3"
    rope_factor: float = 1.0          # linear and llama3 (8 for Llama 3.1)
    rope_low_freq_factor: float = 1.0   # llama3
    rope_high_freq_factor: float = 4.0  # llama3
    rope_orig_ctx: int = 8192         # llama3: original_max_position_embeddings

    @property
    def head_dim(self):
        return self.dim // self.n_heads


def rmsnorm(x, w, eps):
    """Meta's RMSNorm: x * rsqrt(mean(x^2) + eps) * w."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def apply_scaling(freqs, scale_factor, low_freq_factor, high_freq_factor, old_context_len):
    """Llama 3.1's frequency scaling, as Meta's reference apply_scaling does it."""
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    new_freqs = []
    for freq in freqs.tolist():
        wavelen = 2 * math.pi / freq
        if wavelen < high_freq_wavelen:
            new_freqs.append(freq)
        elif wavelen > low_freq_wavelen:
            new_freqs.append(freq / scale_factor)
        else:
            smooth = (old_context_len / wavelen - low_freq_factor) / (
                high_freq_factor - low_freq_factor)
            new_freqs.append((1 - smooth) * freq / scale_factor + smooth * freq)
    return torch.tensor(new_freqs, dtype=torch.float64)


def rope_freqs(hd, theta, cfg=None):
    """freq[i] = theta^(-2i/hd), i < hd/2, scaled as cfg.rope_scaling says."""
    freqs = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    scaling = cfg.rope_scaling if cfg is not None else "none"
    if scaling == "linear":
        return freqs / cfg.rope_factor
    if scaling == "llama3":
        return apply_scaling(freqs, cfg.rope_factor, cfg.rope_low_freq_factor,
                             cfg.rope_high_freq_factor, cfg.rope_orig_ctx)
    assert scaling == "none", scaling
    return freqs


def rope_angles(hd, n, theta, cfg=None, positions=None):
    """angle[pos][i] = pos * freq[i] (Meta's precompute_freqs_cis); positions
    0..n-1 unless given (one per row)."""
    pos = torch.arange(n, dtype=torch.float64) if positions is None else \
        torch.as_tensor(positions, dtype=torch.float64)
    return torch.outer(pos, rope_freqs(hd, theta, cfg))


def rope_meta(x, cfg, positions=None):
    """x: [n][heads][hd]; rotates adjacent pairs as complex numbers."""
    n, _, hd = x.shape
    ang = rope_angles(hd, n, cfg.rope_theta, cfg, positions)
    cis = torch.polar(torch.ones(n, hd // 2, dtype=torch.float64), ang)
    xc = torch.view_as_complex(x.reshape(n, -1, hd // 2, 2).contiguous())
    return torch.view_as_real(xc * cis[:, None, :]).reshape(x.shape)


def rope_hf(x, cfg, positions=None):
    """x: [n][heads][hd]; Hugging Face's rotate_half form: pairs (i, i + hd/2)."""
    n, _, hd = x.shape
    ang = rope_angles(hd, n, cfg.rope_theta, cfg, positions)
    emb = torch.cat([ang, ang], dim=-1)[:, None, :]
    x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
    rotated = torch.cat([-x2, x1], dim=-1)
    return x * emb.cos() + rotated * emb.sin()


def attention(cfg, x, wq, wk, wv, wo, rope, positions=None, allowed=None):
    """Causal grouped-query self-attention over x [n][dim]. allowed (optional,
    bool [n][n]): query i may read key j only where allowed[i][j] (on top of
    causality); positions (optional): each row's rotary position."""
    n, hd = x.shape[0], cfg.head_dim
    q = (x @ wq.T).view(n, cfg.n_heads, hd)
    k = (x @ wk.T).view(n, cfg.n_kv_heads, hd)
    v = (x @ wv.T).view(n, cfg.n_kv_heads, hd)
    q, k = rope(q, cfg, positions), rope(k, cfg, positions)
    # Meta's repeat_kv: query head h reads kv head h // n_rep.
    n_rep = cfg.n_heads // cfg.n_kv_heads
    k = k.repeat_interleave(n_rep, dim=1)
    v = v.repeat_interleave(n_rep, dim=1)
    q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)  # [heads][n][hd]
    scores = q @ k.transpose(1, 2) / math.sqrt(hd)
    mask = torch.triu(torch.full((n, n), float("-inf"), dtype=torch.float64), diagonal=1)
    if allowed is not None:
        mask = mask.masked_fill(~torch.as_tensor(allowed, dtype=torch.bool), float("-inf"))
    probs = torch.softmax(scores + mask, dim=-1)
    out = (probs @ v).transpose(0, 1).reshape(n, cfg.n_heads * hd)
    return out @ wo.T


def feed_forward(x, w1, w2, w3):
    """SwiGLU: w2(silu(w1 x) * w3 x)."""
    return (F.silu(x @ w1.T) * (x @ w3.T)) @ w2.T


def forward(cfg, w, tokens, layout="meta", positions=None, allowed=None):
    """Logits [len(tokens)][vocab] (float64) for every position. Optional
    positions (rotary position of each token; default 0..n-1) and allowed
    (bool [n][n] attention mask on top of causality; default all), e.g. for
    documents packed into one row."""
    rope = {"meta": rope_meta, "hf": rope_hf}[layout]
    h = w["tok_embeddings"][torch.as_tensor(tokens)]
    for l in range(cfg.n_layers):
        p = f"layers.{l}."
        a = p + "attention."
        x = rmsnorm(h, w[p + "attention_norm"], cfg.norm_eps)
        h = h + attention(cfg, x, w[a + "wq"], w[a + "wk"], w[a + "wv"], w[a + "wo"], rope,
                          positions, allowed)
        x = rmsnorm(h, w[p + "ffn_norm"], cfg.norm_eps)
        f = p + "feed_forward."
        h = h + feed_forward(x, w[f + "w1"], w[f + "w2"], w[f + "w3"])
    h = rmsnorm(h, w["norm"], cfg.norm_eps)
    out = w["tok_embeddings"] if cfg.tied else w["output"]
    return h @ out.T

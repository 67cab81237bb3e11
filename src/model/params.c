/* The parameter count of a config: the weights herd_weights holds. */
#include "herd.h"

int64_t herd_config_n_params(const herd_config *c)
{
    if (!c || c->n_heads <= 0)
        return 0;
    int64_t d = c->dim, h = c->hidden_dim, L = c->n_layers, V = c->vocab_size;
    int64_t kv = d / c->n_heads * c->n_kv_heads; /* width of k and v */
    int64_t attn = d * d + 2 * d * kv + d * d;   /* wq, wk, wv, wo */
    int64_t ffn = 3 * d * h;                     /* w1 (gate), w2 (down), w3 (up) */
    int64_t norms = 2 * d;                       /* attn_norm, ffn_norm */
    int64_t n = V * d;                           /* tok_embeddings */
    n += L * (attn + ffn + norms);
    n += d;                                      /* output_norm */
    if (!c->tied_embeddings)
        n += V * d;                              /* output */
    return n;
}

/* The rotary frequencies of a model: theta^(-2i/head_dim) for each pair i,
 * stretched for long contexts by linear position interpolation or Llama
 * 3.1's scaling (Meta's apply_scaling in llama3/reference_impl/model.py),
 * and divided by GGUF's rope_freqs factors when the file has them. */
#include "model/model.h"
#include <math.h>

static double llama3_scale(const herd_config *c, double freq)
{
    double factor = c->rope_factor, lo = c->rope_low_freq_factor;
    double hi = c->rope_high_freq_factor, orig = c->rope_orig_ctx;
    double wavelen = 2 * M_PI / freq;
    if (wavelen < orig / hi)
        return freq;
    if (wavelen > orig / lo)
        return freq / factor;
    double smooth = (orig / wavelen - lo) / (hi - lo);
    return (1 - smooth) * freq / factor + smooth * freq;
}

void herd_rope_freqs(const herd_model *m, double *freqs)
{
    const herd_config *c = &m->cfg;
    int hd = c->dim / c->n_heads;
    const float *div = m->w.rope_freqs.data;
    for (int i = 0; i < hd / 2; i++) {
        double f = pow(c->rope_theta, -2.0 * i / hd);
        if (div)
            f /= div[i];
        else if (c->rope_scaling == HERD_ROPE_SCALING_LINEAR)
            f /= c->rope_factor;
        else if (c->rope_scaling == HERD_ROPE_SCALING_LLAMA3)
            f = llama3_scale(c, f);
        freqs[i] = f;
    }
}

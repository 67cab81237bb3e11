/* Llama 3.1's rope scaling in the two forms formats keep it: parameters
 * (config.json rope_scaling: factor, low/high_freq_factor,
 * original_max_position_embeddings) and llama.cpp's rope_freqs.weight, one
 * divisor per rotary frequency. Parameters to divisors is
 * convert_hf_to_gguf.py's formula; divisors to parameters assumes the
 * low/high frequency factors every published Llama 3.1/3.2 uses (1 and 4),
 * solves the original context from the blended divisors and checks that
 * the result gives the divisors back. */
#include "formats/convert.h"
#include "base/error.h"
#include <math.h>

#define TOL 1e-5

static double wavelen(const herd_config *c, int i)
{
    int hd = c->dim / c->n_heads;
    return 2 * M_PI * pow(c->rope_theta, 2.0 * i / hd);
}

void herd_llama3_rope_factors(const herd_config *c, float *div)
{
    int half = c->dim / c->n_heads / 2;
    double factor = c->rope_factor, lo = c->rope_low_freq_factor;
    double hi = c->rope_high_freq_factor, orig = c->rope_orig_ctx;
    for (int i = 0; i < half; i++) {
        double wl = wavelen(c, i), d;
        if (wl < orig / hi) {
            d = 1;
        } else if (wl > orig / lo) {
            d = factor;
        } else {
            double s = (orig / wl - lo) / (hi - lo);
            d = 1 / ((1 - s) / factor + s);
        }
        div[i] = (float)d;
    }
}

static int near(double a, double b)
{
    return fabs(a - b) <= TOL * fabs(b);
}

/* The original context when no divisor is blended: a power of two that
 * keeps every kept wavelength below orig/4 and every divided one above
 * orig, else the middle of that range. */
static double orig_between(double kept_wl, double divided_wl)
{
    double p = 1;
    while (p <= 4 * kept_wl)
        p *= 2;
    return p < divided_wl ? p : floor((4 * kept_wl + divided_wl) / 2);
}

static herd_status solve_llama3(herd_config *c, const float *div, int half)
{
    double factor = div[half - 1], sum = 0, kept_wl = 0, divided_wl = INFINITY;
    int blended = 0;
    for (int i = 0; i < half; i++) {
        double wl = wavelen(c, i);
        if (near(div[i], 1)) {
            kept_wl = wl > kept_wl ? wl : kept_wl;
        } else if (near(div[i], factor)) {
            divided_wl = wl < divided_wl ? wl : divided_wl;
        } else {
            /* 1/d = (1-s)/factor + s, s = (orig/wl - 1) / 3 */
            double s = (1 / div[i] - 1 / factor) / (1 - 1 / factor);
            sum += wl * (3 * s + 1);
            blended++;
        }
    }
    double orig = blended ? round(sum / blended) : orig_between(kept_wl, divided_wl);
    if (!(orig >= 1 && orig <= 1e9))
        return HERD_E_UNSUPPORTED;
    c->rope_scaling = HERD_ROPE_SCALING_LLAMA3;
    c->rope_factor = (float)factor;
    c->rope_low_freq_factor = 1;
    c->rope_high_freq_factor = 4;
    c->rope_orig_ctx = (int)orig;
    return HERD_OK;
}

static herd_status check_same(const herd_config *c, const float *div, int half)
{
    float got[512];
    herd_llama3_rope_factors(c, got);
    for (int i = 0; i < half; i++)
        if (!near(got[i], div[i]))
            return herd_fail(HERD_E_UNSUPPORTED, "rope_freqs.weight[%d] = %g is not Llama "
                             "3.1's rope scaling (low_freq_factor 1, high_freq_factor 4): "
                             "config.json cannot express it", i, (double)div[i]);
    return HERD_OK;
}

herd_status herd_llama3_scaling_from_factors(herd_config *c, const float *div)
{
    int half = c->n_heads > 0 ? c->dim / c->n_heads / 2 : 0;
    if (half < 1 || half > 512)
        return herd_fail(HERD_E_UNSUPPORTED, "rope_freqs.weight: head_dim %d", 2 * half);
    int all_one = 1, all_same = 1;
    for (int i = 0; i < half; i++) {
        all_one &= near(div[i], 1);
        all_same &= near(div[i], div[0]);
    }
    c->rope_scaling = HERD_ROPE_SCALING_NONE;
    if (all_one)
        return HERD_OK;
    if (all_same) {
        c->rope_scaling = HERD_ROPE_SCALING_LINEAR;
        c->rope_factor = div[0];
        return HERD_OK;
    }
    herd_config want = *c;
    if (solve_llama3(&want, div, half) != HERD_OK)
        return herd_fail(HERD_E_UNSUPPORTED, "rope_freqs.weight is not Llama 3.1's rope "
                         "scaling: config.json cannot express it");
    HERD_TRY(check_same(&want, div, half));
    *c = want;
    return HERD_OK;
}

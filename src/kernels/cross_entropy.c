/* Cross-entropy of a row of logits and its gradient, in one pass over a
 * vocabulary-wide row: the exponentials are computed once (with a
 * vectorisable expf, herd_expf) and kept for the gradient. */
#include "kernels/kernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

/* exp(x) for x <= 0 to about 2 ulp: x = n ln2 + r, |r| <= ln2 / 2, a
 * degree-6 polynomial for e^r and 2^n put into the exponent bits. Plain
 * arithmetic, so an omp simd loop vectorises it; x < -87 gives about 1.6e-38. */
static inline float expf_neg(float x)
{
    x = x < -87.0f ? -87.0f : x;
    /* Round to nearest by adding and taking away 1.5 * 2^23. */
    float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693145752f - n * 1.42860677e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666418f +
              r * (0.00833338592f + r * 0.00138889f)))));
    union { uint32_t u; float f; } s = {.u = (uint32_t)((int32_t)n + 127) << 23};
    return p * s.f;
}

/* Built for AVX-512, AVX2 and plain x86-64, chosen when loaded. */
__attribute__((target_clones("avx512f", "avx2", "default")))
double herd_cross_entropy(float *logits, int n, int target, float grad_scale)
{
    float max = logits[0];
    #pragma omp simd reduction(max : max)
    for (int i = 0; i < n; i++)
        max = logits[i] > max ? logits[i] : max;
    float zt = logits[target] - max, sum = 0;
    if (grad_scale != 0.0f) {
        #pragma omp simd reduction(+ : sum)
        for (int i = 0; i < n; i++) {
            logits[i] = expf_neg(logits[i] - max);
            sum += logits[i];
        }
        float f = grad_scale / sum;
        #pragma omp simd
        for (int i = 0; i < n; i++)
            logits[i] *= f;
        logits[target] -= grad_scale;
    } else {
        #pragma omp simd reduction(+ : sum)
        for (int i = 0; i < n; i++)
            sum += expf_neg(logits[i] - max);
    }
    return log((double)sum) - zt;
}

double herd_cross_entropy_ref(float *logits, int n, int target, float grad_scale)
{
    double max = logits[0], sum = 0;
    for (int i = 1; i < n; i++)
        max = logits[i] > max ? logits[i] : max;
    for (int i = 0; i < n; i++)
        sum += exp(logits[i] - max);
    double lse = max + log(sum), loss = lse - logits[target];
    if (grad_scale != 0.0f) {
        for (int i = 0; i < n; i++)
            logits[i] = (float)(grad_scale * exp(logits[i] - lse));
        logits[target] -= grad_scale;
    }
    return loss;
}

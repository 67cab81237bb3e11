#include "kernels/kernels.h"
#include "kernels/order.h"
#include <math.h>

/* kernels/order.h: exp by herd_expf_poly, summed 16 at a time by
 * herd_sum16 into a double (the last 16 with zeros past n). */
HERD_FMA_CLONES
void herd_softmax(float *x, int n)
{
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max)
            max = x[i];
    double sum = 0;
    for (int i0 = 0; i0 < n; i0 += 16) {
        float e[16] = {0};
        for (int i = i0; i < n && i < i0 + 16; i++)
            x[i] = e[i - i0] = herd_expf_poly(x[i] - max);
        sum += herd_sum16(e);
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

/* The first n rounded down to 16 by herd_expf_poly, the rest by expf (as
 * llama.cpp's vector loop and its scalar tail). */
HERD_FMA_CLONES
void herd_swiglu(float *out, const float *gate, const float *up, int n)
{
    const int n16 = n & ~15;
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        float e = i < n16 ? herd_expf_poly(0.0f - g) : expf(-g);
        out[i] = g / (1.0f + e) * up[i];
    }
}

void herd_swiglu_backward(float *dh1, float *dh3, const float *dout, const float *h1,
                          const float *h3, int n)
{
    for (int i = 0; i < n; i++) {
        float g = h1[i], sig = 1.0f / (1.0f + expf(-g));
        dh3[i] = dout[i] * g * sig;
        dh1[i] = dout[i] * h3[i] * sig * (1.0f + g * (1.0f - sig));
    }
}

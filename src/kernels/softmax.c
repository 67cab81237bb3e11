#include "kernels/kernels.h"
#include <math.h>

void herd_softmax(float *x, int n)
{
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max)
            max = x[i];
    double sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

void herd_swiglu(float *out, const float *gate, const float *up, int n)
{
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
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

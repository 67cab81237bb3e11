#include "kernels/kernels.h"
#include <cblas.h>

static float dot(const float *a, const float *b, int n)
{
    /* Eight partial sums let the compiler vectorise without -ffast-math. */
    float s[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += a[i + j] * b[i + j];
    float t = 0;
    for (; i < n; i++)
        t += a[i] * b[i];
    return t + ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

void herd_matmul(float *y, const float *x, const float *w, int n, int in, int out)
{
    if (n == 1) {
        #pragma omp parallel for schedule(static) if (out >= 64)
        for (int o = 0; o < out; o++)
            y[o] = dot(x, w + (size_t)o * in, in);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in,
                w, in, 0.0f, y, out);
}

void herd_matmul_ref(float *y, const float *x, const float *w, int n, int in, int out)
{
    for (int t = 0; t < n; t++)
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (int i = 0; i < in; i++)
                s += (double)x[(size_t)t * in + i] * w[(size_t)o * in + i];
            y[(size_t)t * out + o] = (float)s;
        }
}

void herd_matmul_backward(float *dx, float *dw, const float *dy, const float *x,
                          const float *w, int n, int in, int out, int accumulate)
{
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dy, out,
                    w, in, accumulate ? 1.0f : 0.0f, dx, in);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dy, out,
                    x, in, 1.0f, dw, in);
}

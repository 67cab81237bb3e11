#include "kernels/kernels.h"
#include <math.h>

float herd_rmsnorm_rstd(float *out, const float *x, const float *weight, int n, float eps)
{
    /* llama.cpp's rounding (kernels/order.h): squares in float, summed in
     * double, the mean and its root in float. */
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (double)(x[i] * x[i]);
    const float mean = (float)(ss / n);
    const float rstd = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++)
        out[i] = x[i] * rstd * weight[i];
    return rstd;
}

void herd_rmsnorm(float *out, const float *x, const float *weight, int n, float eps)
{
    herd_rmsnorm_rstd(out, x, weight, n, eps);
}

/* With g = dout * weight: dx = rstd * g - x * rstd^3 / n * sum(g * x). */
void herd_rmsnorm_backward(float *dx, float *dweight, const float *dout, const float *x,
                           const float *weight, const float *rstd, int rows, int n)
{
    #pragma omp parallel for schedule(static) if ((size_t)rows * n > 32768)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n, *dr = dout + (size_t)r * n;
        float *dxr = dx + (size_t)r * n, s = rstd[r];
        double dot = 0;
        for (int i = 0; i < n; i++)
            dot += (double)dr[i] * weight[i] * xr[i];
        float c = (float)(dot * s * s * s / n);
        for (int i = 0; i < n; i++)
            dxr[i] += s * dr[i] * weight[i] - c * xr[i];
    }
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n, *dr = dout + (size_t)r * n;
        float s = rstd[r];
        for (int i = 0; i < n; i++)
            dweight[i] += dr[i] * xr[i] * s;
    }
}

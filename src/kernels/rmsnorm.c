#include "kernels/kernels.h"
#include <math.h>

void herd_rmsnorm(float *out, const float *x, const float *weight, int n, float eps)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++)
        out[i] = x[i] * scale * weight[i];
}

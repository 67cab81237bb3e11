#include "kernels/kernels.h"
#include <math.h>

double herd_cross_entropy(float *logits, int n, int target, float grad_scale)
{
    float max = logits[0];
    for (int i = 1; i < n; i++)
        if (logits[i] > max)
            max = logits[i];
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += exp((double)logits[i] - max);
    double lse = max + log(sum);
    double loss = lse - logits[target];
    if (grad_scale != 0.0f) {
        for (int i = 0; i < n; i++)
            logits[i] = grad_scale * (float)exp((double)logits[i] - lse);
        logits[target] -= grad_scale;
    }
    return loss;
}

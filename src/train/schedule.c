/* The learning-rate schedule of the Llama papers: linear warmup, then
 * cosine decay to a fraction of the peak. */
#include "herd_train.h"
#include <math.h>

float herd_lr_cosine(int64_t step, int64_t warmup, int64_t total, float peak,
                     float min_ratio)
{
    if (step < warmup)
        return peak * (float)(step + 1) / (float)warmup;
    if (step >= total || total <= warmup)
        return peak * min_ratio;
    double f = (double)(step - warmup) / (double)(total - warmup);
    double cosf_ = 0.5 * (1.0 + cos(3.14159265358979323846 * f));
    return (float)(peak * (min_ratio + (1.0 - min_ratio) * cosf_));
}

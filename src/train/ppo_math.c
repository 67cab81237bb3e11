/* PPO's arithmetic (ppo.h) on plain arrays: per-token rewards, GAE,
 * whitening, the clipped surrogate with its per-token coefficients, and the
 * clipped value loss with its derivative. */
#include "train/ppo.h"
#include <math.h>

void herd_ppo_token_rewards(const float *logp_old, const float *logp_ref, int n, float kl_coef,
                            float score, float *rewards)
{
    for (int t = 0; t < n; t++)
        rewards[t] = -kl_coef * (logp_old[t] - logp_ref[t]);
    if (n > 0)
        rewards[n - 1] += score;
}

void herd_ppo_gae(const float *rewards, const float *values, int n, float gamma, float lam,
                  float *adv, float *ret)
{
    double next_v = 0, next_a = 0;
    for (int t = n - 1; t >= 0; t--) {
        double delta = rewards[t] + gamma * next_v - values[t];
        next_a = delta + (double)gamma * lam * next_a;
        next_v = values[t];
        adv[t] = (float)next_a;
        ret[t] = (float)(next_a + values[t]);
    }
}

void herd_ppo_whiten(float *x, int64_t n)
{
    if (n < 2)
        return;
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    double mean = s / n;
    for (int64_t i = 0; i < n; i++)
        s2 += (x[i] - mean) * (x[i] - mean);
    double sd = sqrt(s2 / (n - 1));
    if (!(sd > 1e-8))
        return;
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)((x[i] - mean) / sd);
}

void herd_ppo_surrogate(const float *logp, const float *logp_old, const float *adv,
                        const int *targets, size_t N, float clip, float *coef,
                        herd_ppo_pg_stats *st)
{
    int n = 0;
    for (size_t i = 0; i < N; i++)
        n += targets[i] >= 0;
    herd_ppo_pg_stats s = {0, 0, 0, n};
    for (size_t i = 0; i < N; i++) {
        if (coef)
            coef[i] = 0;
        if (targets[i] < 0)
            continue;
        double rho = exp((double)logp[i] - logp_old[i]), a = adv[i];
        double lo = 1.0 - clip, hi = 1.0 + clip;
        double rc = rho < lo ? lo : rho > hi ? hi : rho;
        int clipped = (a > 0 && rho > hi) || (a < 0 && rho < lo);
        s.loss -= clipped ? rc * a : rho * a;
        s.clip_frac += clipped;
        s.approx_kl += (double)logp_old[i] - logp[i];
        if (coef && !clipped)
            coef[i] = (float)(-rho * a / n);
    }
    if (n) {
        s.loss /= n, s.clip_frac /= n, s.approx_kl /= n;
    }
    if (st)
        *st = s;
}

double herd_ppo_value_loss(const float *v, const float *v_old, const float *ret,
                           const int *targets, size_t N, float value_clip, float vf_coef,
                           float *dv)
{
    int n = 0;
    for (size_t i = 0; i < N; i++)
        n += targets[i] >= 0;
    double loss = 0;
    for (size_t i = 0; i < N; i++) {
        if (dv)
            dv[i] = 0;
        if (targets[i] < 0)
            continue;
        double d = (double)v[i] - v_old[i], e = (double)v[i] - ret[i], g = e;
        double l = e * e;
        if (value_clip > 0) {
            int inside = fabs(d) < value_clip;
            double dc = inside ? d : d > 0 ? value_clip : -value_clip;
            double ec = v_old[i] + dc - ret[i];
            if (ec * ec > l)
                l = ec * ec, g = inside ? ec : 0;   /* vclip is constant outside the range */
        }
        loss += 0.5 * l;
        if (dv)
            dv[i] = (float)(vf_coef * g / n);
    }
    return n ? loss / n : 0;
}

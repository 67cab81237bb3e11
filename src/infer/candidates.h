/* The candidate list the sampler filters: (logit, id) pairs with top-k,
 * top-p and min-p over it, without sorting the whole vocabulary. */
#ifndef HERD_INFER_CANDIDATES_H
#define HERD_INFER_CANDIDATES_H

typedef struct {
    float l; /* logit; never NaN */
    int id;
} herd_cand;

/* A candidate list: c[0..n) live, c[0..sorted) in best-first order (higher
 * logit first, lower id first on ties) and each better than all of
 * c[sorted..n). */
typedef struct {
    herd_cand *c;
    int n, sorted;
} herd_cands;

/* Keeps the k best (k <= 0 or k >= n: all), sorted. */
void herd_cands_top_k(herd_cands *cs, int k);
/* Keeps the smallest best-first prefix whose probability mass under
 * softmax(logits) is >= p, at least one (p >= 1: all). Sorts only as far as
 * it has to. */
void herd_cands_top_p(herd_cands *cs, float p);
/* Drops the candidates whose probability is below p times the best one's
 * (p <= 0: none), keeping the order. */
void herd_cands_min_p(herd_cands *cs, float p);
/* The best candidate's logit (n >= 1). */
float herd_cands_max(const herd_cands *cs);

#endif

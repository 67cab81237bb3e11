#include "infer/candidates.h"
#include <math.h>
#include <stdlib.h>

/* The total order of candidates: higher logit first, lower id on ties. */
static int better(const herd_cand *a, const herd_cand *b)
{
    return a->l > b->l || (a->l == b->l && a->id < b->id);
}

static int cmp_cand(const void *a, const void *b)
{
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

static void swap(herd_cand *a, herd_cand *b)
{
    herd_cand t = *a;
    *a = *b;
    *b = t;
}

/* Rearranges c[0..n) so that c[0..k) hold the k best, in any order
 * (Hoare's selection, median-of-three pivot: O(n) expected). */
static void select_best(herd_cand *c, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (better(&c[mid], &c[lo])) swap(&c[mid], &c[lo]);
        if (better(&c[hi], &c[lo])) swap(&c[hi], &c[lo]);
        if (better(&c[hi], &c[mid])) swap(&c[hi], &c[mid]);
        herd_cand pivot = c[mid];
        int i = lo, j = hi;
        while (i <= j) {
            while (better(&c[i], &pivot)) i++;
            while (better(&pivot, &c[j])) j--;
            if (i <= j) {
                swap(&c[i], &c[j]);
                i++;
                j--;
            }
        }
        /* c[lo..j] are at least as good as the pivot, c[i..hi] no better */
        if (k - 1 <= j)
            hi = j;
        else if (k - 1 >= i)
            lo = i;
        else
            break;
    }
}

/* Extends the sorted prefix to the first want candidates. */
static void sort_prefix(herd_cands *cs, int want)
{
    if (want > cs->n)
        want = cs->n;
    if (want <= cs->sorted)
        return;
    herd_cand *rest = cs->c + cs->sorted;
    int m = want - cs->sorted;
    if (want < cs->n)
        select_best(rest, cs->n - cs->sorted, m);
    qsort(rest, (size_t)m, sizeof *rest, cmp_cand);
    cs->sorted = want;
}

void herd_cands_top_k(herd_cands *cs, int k)
{
    if (k <= 0 || k >= cs->n)
        return;
    sort_prefix(cs, k);
    cs->n = k;
}

float herd_cands_max(const herd_cands *cs)
{
    if (cs->sorted > 0)
        return cs->c[0].l;
    float m = cs->c[0].l;
    for (int i = 1; i < cs->n; i++)
        if (cs->c[i].l > m)
            m = cs->c[i].l;
    return m;
}

void herd_cands_top_p(herd_cands *cs, float p)
{
    if (p >= 1.0f || cs->n <= 1)
        return;
    float max = herd_cands_max(cs);
    double total = 0;
    for (int i = 0; i < cs->n; i++)
        total += exp((double)cs->c[i].l - max);
    double target = (double)p * total, cum = 0;
    for (int i = 0; i < cs->n; i++) {
        if (i == cs->sorted) /* sort the next stretch: 64, then doubling */
            sort_prefix(cs, i < 32 ? 64 : 2 * i);
        cum += exp((double)cs->c[i].l - max);
        if (cum >= target) {
            cs->n = i + 1;
            return;
        }
    }
}

void herd_cands_min_p(herd_cands *cs, float p)
{
    if (p <= 0.0f || cs->n <= 1)
        return;
    /* p_i >= p * p_max  <=>  l_i - l_max >= log(p) */
    double max = herd_cands_max(cs), lp = log((double)p);
    int k = 0, sorted = 0;
    for (int i = 0; i < cs->n; i++) {
        if ((double)cs->c[i].l - max >= lp) {
            if (i < cs->sorted && k == i)
                sorted = k + 1;
            cs->c[k++] = cs->c[i];
        }
    }
    cs->n = k;
    cs->sorted = sorted;
}

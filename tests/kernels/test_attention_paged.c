/* Paged attention against its contiguous scalar twin: the same positions
 * scattered over blocks in a shuffled order give the same output. A
 * prompt's attention through sgemm against the twin run for each query.
 * The AVX-512 grouped-query kernel against the paged twin for each head:
 * the same floats, bit for bit (kernels/order.h). */
#include "herd.h"
#include "kernels/kernels.h"
#include "test.h"
#include <string.h>

static unsigned long long rng = 88172645463325252ULL;
static float frand(void)
{
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

static void check_paged(int n_keys, int block, int head_dim)
{
    enum { KV = 3, MAXB = 16 };           /* kv heads per row; blocks in the pool */
    int stride = KV * head_dim, nb = (n_keys + block - 1) / block;
    float *k = malloc(sizeof(float) * n_keys * stride), *v = malloc(sizeof(float) * n_keys * stride);
    float *pk = calloc((size_t)MAXB * block * stride, sizeof(float));
    float *pv = calloc((size_t)MAXB * block * stride, sizeof(float));
    float q[128], o1[128], o2[128], scr[256];
    int table[MAXB];
    for (int i = 0; i < n_keys * stride; i++)
        k[i] = frand(), v[i] = frand();
    for (int i = 0; i < head_dim; i++)
        q[i] = 2 * frand();
    for (int b = 0; b < nb; b++)
        table[b] = ((MAXB - 1 - 3 * b) % MAXB + MAXB) % MAXB; /* distinct, out of order */
    for (int p = 0; p < n_keys; p++)
        for (int i = 0; i < stride; i++) {
            size_t at = ((size_t)table[p / block] * block + p % block) * stride + i;
            pk[at] = k[(size_t)p * stride + i];
            pv[at] = v[(size_t)p * stride + i];
        }
    int bad = 0;
    for (int h = 0; h < KV; h++) {
        herd_attention_head(o1, q, k + h * head_dim, v + h * head_dim, n_keys, head_dim,
                            stride, scr);
        herd_attention_head_paged(o2, q, pk + h * head_dim, pv + h * head_dim, table, block,
                                  (size_t)block * stride, n_keys, head_dim, stride, scr);
        for (int i = 0; i < head_dim; i++)
            bad += !test_close(o1[i], o2[i], 1e-5f);
    }
    CHECK_MSG(bad == 0, "paged attention keys=%d block=%d hd=%d: %d values differ", n_keys,
              block, head_dim, bad);
    free(k); free(v); free(pk); free(pv);
}

static void check_prefill(int n, int p0, int head_dim)
{
    int L = p0 + n, stride = 2 * head_dim, qs = 3 * head_dim;
    float *k = malloc(sizeof(float) * L * stride), *v = malloc(sizeof(float) * L * stride);
    float *q = malloc(sizeof(float) * n * qs), *o1 = calloc((size_t)n * qs, sizeof(float));
    float *o2 = calloc((size_t)n * qs, sizeof(float)), *scr = malloc(sizeof(float) * n * L);
    for (int i = 0; i < L * stride; i++)
        k[i] = frand(), v[i] = frand();
    for (int i = 0; i < n * qs; i++)
        q[i] = 2 * frand();
    herd_attention_prefill(o1, q, k, v, n, p0, head_dim, qs, stride, scr);
    for (int t = 0; t < n; t++)
        herd_attention_head(o2 + (size_t)t * qs, q + (size_t)t * qs, k, v, p0 + t + 1, head_dim,
                            stride, scr);
    int bad = 0;
    for (int t = 0; t < n; t++)
        for (int i = 0; i < head_dim; i++)
            bad += !test_close(o1[(size_t)t * qs + i], o2[(size_t)t * qs + i], 1e-5f);
    CHECK_MSG(bad == 0, "prefill attention n=%d p0=%d hd=%d: %d values differ", n, p0, head_dim,
              bad);
    free(k); free(v); free(q); free(o1); free(o2); free(scr);
}

/* g query heads over one kv head of a shuffled paged cache: the AVX-512
 * kernel against herd_attention_head_paged per head. */
static void check_group(int n_keys, int block, int head_dim, int g)
{
    enum { MAXB = 64 };
    int stride = 2 * head_dim, nb = (n_keys + block - 1) / block, table[MAXB];
    size_t pool = (size_t)MAXB * block * stride;
    float *k = malloc(sizeof(float) * pool), *v = malloc(sizeof(float) * pool);
    float *q = malloc(sizeof(float) * g * head_dim), *o1 = malloc(sizeof(float) * g * head_dim);
    float *o2 = malloc(sizeof(float) * g * head_dim), *scr = malloc(sizeof(float) * g * n_keys);
    for (size_t i = 0; i < pool; i++)
        k[i] = frand(), v[i] = frand();
    for (int i = 0; i < g * head_dim; i++)
        q[i] = 2 * frand();
    for (int b = 0; b < nb; b++)
        table[b] = (MAXB - 1 - 5 * b % MAXB + MAXB) % MAXB;
    int done = herd_attention_group_paged_avx512(o1, q, g, k + head_dim, v + head_dim, table,
                                                 block, (size_t)block * stride, n_keys,
                                                 head_dim, stride, scr);
    CHECK_MSG(done, "hd=%d: the AVX-512 kernel declined", head_dim);
    int bad = 0;
    for (int h = 0; h < g; h++) {
        herd_attention_head_paged(o2 + h * head_dim, q + h * head_dim, k + head_dim,
                                  v + head_dim, table, block, (size_t)block * stride, n_keys,
                                  head_dim, stride, scr);
        for (int i = 0; done && i < head_dim; i++)
            bad += memcmp(&o1[h * head_dim + i], &o2[h * head_dim + i], sizeof(float)) != 0;
    }
    CHECK_MSG(bad == 0, "grouped attention keys=%d block=%d hd=%d g=%d: %d values differ",
              n_keys, block, head_dim, g, bad);
    free(k); free(v); free(q); free(o1); free(o2); free(scr);
}

int main(void)
{
    check_prefill(1, 0, 8);
    check_prefill(37, 0, 48);
    check_prefill(20, 45, 64);
    check_prefill(300, 7, 128);
    check_paged(1, 4, 8);
    check_paged(13, 4, 48);
    check_paged(16, 16, 64);
    check_paged(37, 5, 13);
    check_paged(200, 16, 128);
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512dq")) {
        printf("no AVX-512 here: the grouped kernel is not run\n");
        TEST_END();
    }
    int keys[] = {1, 15, 16, 17, 100, 333}, gs[] = {1, 3, 4, 8};
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 4; j++) {
            check_group(keys[i], keys[i] > 200 ? 16 : 5, 64, gs[j]);
            check_group(keys[i], 16, 128, gs[j]);
        }
    float x = 0;
    CHECK(!herd_attention_group_paged_avx512(&x, &x, 1, &x, &x, (int[]){0}, 1, 1, 1, 48, 48,
                                             &x));
    TEST_END();
}

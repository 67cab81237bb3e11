/* Paged attention against its contiguous scalar twin: the same positions
 * scattered over blocks in a shuffled order give the same output. */
#include "herd.h"
#include "kernels/kernels.h"
#include "test.h"

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

int main(void)
{
    check_paged(1, 4, 8);
    check_paged(13, 4, 48);
    check_paged(16, 16, 64);
    check_paged(37, 5, 13);
    check_paged(200, 16, 128);
    TEST_END();
}

/* Continuous batching over a paged KV cache (model/paged.h) on the gqa
 * fixture: sequences whose tokens arrive in mixed batches, prompt chunks
 * beside single decode tokens, with their positions in scattered blocks,
 * give the logits each sequence gets alone from herd_eval; a sequence that
 * shares another's prefix blocks, or a copy of one (copy-on-write), too. */
#include "test.h"
#include "model/model.h"
#include "model/paged.h"

enum { BLOCK = 4, NB = 24, S = 4, MAXT = 12 };
static const int len[S] = {5, 9, 12, 11};
static const int tok[S][MAXT] = {
    {1, 17, 42, 5, 99},
    {1, 3, 3, 8, 120, 7, 7, 64, 2},
    {1, 17, 42, 5, 17, 63, 8, 42, 42, 0, 33, 100},
    {1, 17, 42, 5, 17, 63, 8, 42, 11, 12, 13},   /* shares seq 2's first 8 tokens */
};

static float maxdiff(const float *a, const float *b, int n)
{
    float d = 0;
    for (int i = 0; i < n; i++)
        d = fmaxf(d, fabsf(a[i] - b[i]));
    return d;
}

int main(void)
{
    herd_model *m;
    TEST_OPEN_FIXTURE("gqa", &m);
    int V = m->cfg.vocab_size;
    float *ref = malloc(sizeof(float) * S * MAXT * V), *got = malloc(sizeof(float) * 64 * V);
    for (int s = 0; s < S; s++) {
        herd_context *c;
        CHECK_OK(herd_context_new(m, MAXT, &c));
        CHECK_OK(herd_eval(c, tok[s], NULL, len[s], ref + (size_t)s * MAXT * V, 1));
        herd_context_free(c);
    }
    herd_context *ctx;
    CHECK_OK(herd_context_new_paged(m, MAXT, NB, BLOCK, &ctx));
    /* Scattered, out-of-order tables. Seq 3 shares seq 2's first block and
     * takes a copy of its second (copy-on-write: it will not write there,
     * but the copy must hold the same K and V). */
    int tables[S][3] = {{20, 3, -1}, {7, 1, 12}, {15, 9, 4}, {15, 22, 2}};
    const int *tp[S] = {tables[0], tables[1], tables[2], tables[3]};
    /* Steps: (sequence, first position, tokens) chunks batched together. */
    static const int plan[][3][3] = {
        {{0, 0, 3}, {1, 0, 5}, {2, 0, 1}},
        {{0, 3, 1}, {1, 5, 1}, {2, 1, 7}},
        {{0, 4, 1}, {1, 6, 3}, {2, 8, 1}},
        {{2, 9, 3}, {-1, 0, 0}, {-1, 0, 0}},
        {{3, 8, 2}, {-1, 0, 0}, {-1, 0, 0}},   /* after the copy below */
        {{3, 10, 1}, {-1, 0, 0}, {-1, 0, 0}},
    };
    int bad = 0;
    for (size_t st = 0; st < sizeof plan / sizeof *plan; st++) {
        if (st == 4)
            herd_kv_copy_block(ctx, 22, 9);
        int tokens[64], pos[64], out[64], n = 0, who[64];
        const int *tb[64];
        for (int k = 0; k < 3; k++) {
            int s = plan[st][k][0];
            if (s < 0)
                continue;
            for (int i = 0; i < plan[st][k][2]; i++, n++) {
                pos[n] = plan[st][k][1] + i;
                tokens[n] = tok[s][pos[n]];
                tb[n] = tp[s];
                out[n] = n;
                who[n] = s;
            }
        }
        herd_batch b = {n, tokens, pos, tb, n, out};
        CHECK_OK(herd_eval_batch(ctx, &b, got));
        for (int i = 0; i < n; i++) {
            float d = maxdiff(got + (size_t)i * V, ref + ((size_t)who[i] * MAXT + pos[i]) * V, V);
            if (d > 1e-4f) {
                fprintf(stderr, "step %zu: seq %d pos %d differs by %g\n", st, who[i], pos[i], d);
                bad++;
            }
        }
    }
    CHECK_MSG(bad == 0, "%d batched rows differ from the sequences run alone", bad);

    /* Bad input is refused, not followed. */
    int t0 = 1, p0 = 0, o0 = 0, wild[1] = {NB};
    const int *wt[1] = {wild};
    herd_batch b = {1, &t0, &p0, wt, 1, &o0};
    CHECK_FAILS(herd_eval_batch(ctx, &b, got), HERD_E_RANGE);
    b.tables = NULL;
    CHECK_FAILS(herd_eval_batch(ctx, &b, got), HERD_E_ARG);
    herd_context_free(ctx);
    free(ref); free(got);
    herd_model_free(m);
    TEST_END();
}

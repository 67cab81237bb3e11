/* herd_perplexity against an independent reference: tests/reference/
 * ppl_ref.py computes llama-perplexity's numbers (chunks of n_ctx, BOS
 * first, second half scored) with the float64 PyTorch Llama on the golden
 * fixture models, over ids from a fixed generator; its output is committed
 * below. Batch sizes and model formats must not change the result; bad
 * input fails with a message. */
#include "herd.h"
#include "test.h"

typedef struct {
    const char *model;
    int n, ctx, chunks, bos, count;
    double nll, nll2, ppl, err;
} ref_case;

static const ref_case cases[] = {
/* Written by tests/reference/ppl_ref.py --cases. */
    {"gqa", 75, 16, 0, 1, 28, 145.65468663389163, 768.5992071437136, 181.62662957897817, 21.819166355416826},
    {"gqa", 75, 11, 3, 1, 15, 76.32849064863457, 397.3283874556059, 162.15716888925667, 33.43109581612678},
    {"gqa", 40, 20, 0, -1, 18, 91.115433900548, 470.40575173860645, 157.90104668607023, 27.352675897876413},
    {"mha", 64, 7, 0, 1, 27, 126.39176984995855, 601.891092301675, 107.89695605936477, 13.024314427139778},
};

/* ppl_ref.py's lcg_ids: x -> (75 x + 74) mod 65537 from 1, id = x mod V. */
static void lcg_ids(int *ids, int n, int vocab)
{
    long x = 1;
    for (int i = 0; i < n; i++) {
        x = (75 * x + 74) % 65537;
        ids[i] = (int)(x % vocab);
    }
}

static int rel_close(double a, double b, double tol)
{
    return fabs(a - b) <= tol * fabs(b);
}

typedef struct {
    int calls, last_chunk, stop_after;
    double first_ppl;
} progress;

static int on_chunk(void *user, const herd_ppl_stats *st)
{
    progress *p = user;
    CHECK(st->chunk == p->last_chunk + 1);
    CHECK(st->count > 0 && st->chunk <= st->n_chunks);
    if (st->chunk == 1)
        p->first_ppl = herd_ppl_estimate(st, NULL);
    p->calls++;
    p->last_chunk = st->chunk;
    return p->stop_after && st->chunk >= p->stop_after;
}

static void check_case(const char *path, const ref_case *c, int n_batch, int ctx_size)
{
    herd_model *m;
    herd_context *ctx;
    CHECK_OK(herd_model_open(path, &m));
    if (!m)
        return;
    CHECK_OK(herd_context_new(m, ctx_size, &ctx));
    int ids[128];
    lcg_ids(ids, c->n, herd_model_config(m)->vocab_size);
    herd_ppl_params p = {c->ctx, n_batch, c->chunks, c->bos};
    herd_ppl_stats st;
    progress pr = {0};
    CHECK_OK(herd_perplexity(ctx, ids, c->n, &p, on_chunk, &pr, &st));
    double err, ppl = herd_ppl_estimate(&st, &err);
    int want_chunks = c->chunks ? c->chunks : c->n / c->ctx;
    CHECK_MSG(st.count == c->count && st.chunk == want_chunks && pr.calls == want_chunks,
              "%s ctx %d: count %lld chunks %d calls %d", path, c->ctx, (long long)st.count,
              st.chunk, pr.calls);
    CHECK_MSG(rel_close(st.nll, c->nll, 1e-5) && rel_close(st.nll2, c->nll2, 1e-5),
              "%s ctx %d batch %d: nll %.9g %.9g, want %.9g %.9g", path, c->ctx, n_batch,
              st.nll, st.nll2, c->nll, c->nll2);
    CHECK_MSG(rel_close(ppl, c->ppl, 1e-4) && rel_close(err, c->err, 1e-4),
              "%s ctx %d batch %d: PPL %.6f +/- %.6f, want %.6f +/- %.6f", path, c->ctx,
              n_batch, ppl, err, c->ppl, c->err);
    /* The ids are untouched (BOS goes into a copy). */
    int again[128];
    lcg_ids(again, c->n, herd_model_config(m)->vocab_size);
    CHECK(memcmp(ids, again, (size_t)c->n * sizeof *ids) == 0);
    herd_context_free(ctx);
    herd_model_free(m);
}

static void model_path(char *buf, size_t n, const char *model, const char *file)
{
    snprintf(buf, n, "%s/tests/fixtures/models/%s/%s", test_source(), model, file);
}

/* Every case, several batch sizes and context sizes, three formats. */
static void check_reference(void)
{
    char path[4096];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const ref_case *c = &cases[i];
        model_path(path, sizeof path, c->model, "model.gguf");
        check_case(path, c, 0, c->ctx);
        check_case(path, c, 1, c->ctx);
        check_case(path, c, 5, 64);
        model_path(path, sizeof path, c->model, "hf");
        check_case(path, c, 4, c->ctx);
    }
    model_path(path, sizeof path, "mha", "model.bin");
    check_case(path, &cases[3], 3, 7);
}

/* Stopping from the callback keeps what was done: one chunk of case 0. */
static void check_stop(herd_context *ctx, const int *ids)
{
    progress pr = {.stop_after = 1};
    herd_ppl_params p = {16, 0, 0, 1};
    herd_ppl_stats st;
    CHECK_OK(herd_perplexity(ctx, ids, 75, &p, on_chunk, &pr, &st));
    CHECK(pr.calls == 1 && st.chunk == 1 && st.n_chunks == 4 && st.count == 7);
    /* The second call starts clean: the same first chunk gives the same. */
    progress pr2 = {0};
    CHECK_OK(herd_perplexity(ctx, ids, 75, &p, on_chunk, &pr2, NULL));
    CHECK(pr2.calls == 4 && pr2.first_ppl == pr.first_ppl);
}

static void check_errors(herd_context *ctx, int *ids)
{
    herd_ppl_params p = {16, 0, 0, 1};
    CHECK_FAILS(herd_perplexity(ctx, ids, 31, &p, NULL, NULL, NULL), HERD_E_RANGE);
    CHECK(strstr(herd_last_error(), "at least 32") != NULL);
    CHECK_OK(herd_perplexity(ctx, ids, 32, &p, NULL, NULL, NULL));
    ids[40] = 128;
    CHECK_FAILS(herd_perplexity(ctx, ids, 75, &p, NULL, NULL, NULL), HERD_E_RANGE);
    CHECK(strstr(herd_last_error(), "128") != NULL);
    ids[40] = -1;
    CHECK_FAILS(herd_perplexity(ctx, ids, 75, &p, NULL, NULL, NULL), HERD_E_RANGE);
    ids[40] = 0;
    p.bos = 128;
    CHECK_FAILS(herd_perplexity(ctx, ids, 75, &p, NULL, NULL, NULL), HERD_E_RANGE);
    p = (herd_ppl_params){2, 0, 0, 1};
    CHECK_FAILS(herd_perplexity(ctx, ids, 75, &p, NULL, NULL, NULL), HERD_E_ARG);
    p = (herd_ppl_params){17, 0, 0, 1}; /* larger than the context of 16 */
    CHECK_FAILS(herd_perplexity(ctx, ids, 75, &p, NULL, NULL, NULL), HERD_E_ARG);
    p = (herd_ppl_params){16, -1, 0, 1};
    CHECK_FAILS(herd_perplexity(ctx, ids, 75, &p, NULL, NULL, NULL), HERD_E_ARG);
    CHECK_FAILS(herd_perplexity(ctx, NULL, 75, &p, NULL, NULL, NULL), HERD_E_ARG);
    herd_ppl_stats none = {0};
    CHECK(isnan(herd_ppl_estimate(&none, NULL)));
}

int main(void)
{
    herd_set_threads(2);
    check_reference();
    char path[4096];
    model_path(path, sizeof path, "gqa", "model.gguf");
    herd_model *m;
    herd_context *ctx;
    CHECK_OK(herd_model_open(path, &m));
    if (!m)
        TEST_END();
    CHECK_OK(herd_context_new(m, 16, &ctx));
    int ids[75];
    lcg_ids(ids, 75, 128);
    check_stop(ctx, ids);
    check_errors(ctx, ids);
    herd_context_free(ctx);
    herd_model_free(m);
    TEST_END();
}

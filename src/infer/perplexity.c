/* Perplexity as llama.cpp's llama-perplexity computes it (tools/perplexity/
 * perplexity.cpp, perplexity()): non-overlapping chunks of n_ctx tokens,
 * each from an empty cache with BOS in place of its first token; the logits
 * at positions n_ctx/2 .. n_ctx-2 are scored against the next token with a
 * log-softmax in double. The first half of a chunk runs without logits, the
 * second half with, each cut into batches of at most n_batch tokens. */
#include "model/context.h"
#include "base/error.h"
#include <math.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* -log softmax(l)[next] over V logits, in double. */
static double neg_log_prob(const float *l, int V, int next)
{
    float max = l[0];
    for (int i = 1; i < V; i++)
        max = l[i] > max ? l[i] : max;
    double sum = 0;
    for (int i = 0; i < V; i++)
        sum += exp((double)l[i] - max);
    return log(sum) - ((double)l[next] - max);
}

static herd_status check_args(const herd_context *ctx, const int *tokens, int n,
                              const herd_ppl_params *p, int n_ctx)
{
    int V = ctx->m->cfg.vocab_size;
    if (!tokens || n < 0)
        return herd_fail(HERD_E_ARG, "perplexity: no tokens");
    if (n_ctx < 3 || n_ctx > ctx->n_ctx)
        return herd_fail(HERD_E_ARG, "perplexity: a chunk of %d tokens: it must be at "
                         "least 3 and fit the context of %d", n_ctx, ctx->n_ctx);
    if (p->n_batch < 0 || p->n_chunks < 0)
        return herd_fail(HERD_E_ARG, "perplexity: negative batch size or chunk count");
    if (p->bos >= V)
        return herd_fail(HERD_E_RANGE, "perplexity: BOS id %d outside the vocabulary of %d",
                         p->bos, V);
    if (n < 2 * n_ctx)
        return herd_fail(HERD_E_RANGE, "perplexity: %d tokens are too few: a context of %d "
                         "needs at least %d (2 x %d)", n, n_ctx, 2 * n_ctx, n_ctx);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return herd_fail(HERD_E_RANGE, "perplexity: token %d (id %d) outside the "
                             "vocabulary of %d", i, tokens[i], V);
    return HERD_OK;
}

/* Evaluates positions [from, to) of the chunk at chunk[0..], in batches,
 * scoring each position's logits against the next token into nll[]. */
static herd_status eval_span(herd_context *ctx, const int *chunk, int from, int to,
                             int n_batch, float *logits, double *nll)
{
    int V = ctx->m->cfg.vocab_size;
    for (int b = from; b < to; b += n_batch) {
        int m = to - b < n_batch ? to - b : n_batch;
        HERD_TRY(herd_eval(ctx, chunk + b, NULL, m, logits, logits != NULL));
        if (!logits)
            continue;
        #pragma omp parallel for schedule(static)
        for (int j = 0; j < m; j++)
            nll[b - from + j] = neg_log_prob(logits + (size_t)j * V, V, chunk[b + j + 1]);
    }
    return HERD_OK;
}

/* One chunk (a copy, BOS already in place) from an empty cache: the first
 * half without logits, then the second half scored, less the last position,
 * whose next token lies in the next chunk. */
static herd_status eval_chunk(herd_context *ctx, const int *chunk, int n_ctx, int n_batch,
                              float *logits, double *nll)
{
    int first = n_ctx / 2;
    herd_context_reset(ctx);
    HERD_TRY(eval_span(ctx, chunk, 0, first, n_batch, NULL, NULL));
    return eval_span(ctx, chunk, first, n_ctx - 1, n_batch, logits, nll);
}

herd_status herd_perplexity(herd_context *ctx, const int *tokens, int n,
                            const herd_ppl_params *p, herd_ppl_fn on_chunk, void *user,
                            herd_ppl_stats *st)
{
    herd_ppl_stats z = {0};
    if (!st)
        st = &z;
    *st = z;
    if (!ctx || !p)
        return herd_fail(HERD_E_ARG, "perplexity: no context or parameters");
    int n_ctx = p->n_ctx ? p->n_ctx : ctx->n_ctx;
    HERD_TRY(check_args(ctx, tokens, n, p, n_ctx));
    int n_batch = p->n_batch && p->n_batch < n_ctx ? p->n_batch : n_ctx;
    int first = n_ctx / 2, scored = n_ctx - first - 1;
    st->n_chunks = n / n_ctx;
    if (p->n_chunks && p->n_chunks < st->n_chunks)
        st->n_chunks = p->n_chunks;
    int rows = n_batch < scored ? n_batch : scored;
    int *chunk = malloc((size_t)n_ctx * sizeof *chunk);
    double *nll = malloc((size_t)scored * sizeof *nll);
    float *logits = malloc((size_t)rows * ctx->m->cfg.vocab_size * sizeof *logits);
    herd_status s = HERD_OK;
    if (!chunk || !nll || !logits)
        s = herd_fail(HERD_E_NOMEM, "perplexity: out of memory for %d x %d logits", rows,
                      ctx->m->cfg.vocab_size);
    double t0 = now();
    for (int c = 0; s == HERD_OK && c < st->n_chunks; c++) {
        for (int i = 0; i < n_ctx; i++)
            chunk[i] = tokens[(size_t)c * n_ctx + i];
        if (p->bos >= 0)
            chunk[0] = p->bos;
        if ((s = eval_chunk(ctx, chunk, n_ctx, n_batch, logits, nll)) != HERD_OK)
            break;
        for (int j = 0; j < scored; j++) {
            st->nll += nll[j];
            st->nll2 += nll[j] * nll[j];
        }
        st->count += scored;
        st->chunk = c + 1;
        st->seconds = now() - t0;
        if (on_chunk && on_chunk(user, st))
            break;
    }
    free(chunk);
    free(nll);
    free(logits);
    return s;
}

double herd_ppl_estimate(const herd_ppl_stats *st, double *err)
{
    if (err)
        *err = 0;
    if (!st || st->count <= 0)
        return NAN;
    double mean = st->nll / st->count, ppl = exp(mean);
    double var = st->nll2 / st->count - mean * mean;
    if (err && st->count > 1 && var > 0)
        *err = ppl * sqrt(var / (st->count - 1));
    return ppl;
}

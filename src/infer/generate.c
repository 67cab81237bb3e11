#include "model/context.h"
#include "base/error.h"
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

herd_status herd_generate(herd_context *ctx, herd_sampler *smp, const int *prompt,
                          int n_prompt, int n_predict, int eos,
                          herd_token_fn on_token, void *user, herd_gen_stats *st)
{
    herd_gen_stats z = {0};
    if (!st)
        st = &z;
    *st = z;
    if (n_prompt <= 0)
        return herd_fail(HERD_E_ARG, "the prompt is empty: it needs at least one token (BOS)");
    if (ctx->pos + n_prompt > ctx->n_ctx)
        return herd_fail(HERD_E_RANGE, "the prompt of %d tokens does not fit the context "
                         "of %d (%d already used)", n_prompt, ctx->n_ctx, ctx->pos);
    int V = ctx->m->cfg.vocab_size;
    float *logits = malloc((size_t)V * sizeof *logits);
    if (!logits)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    double t0 = now();
    herd_status s = herd_eval(ctx, prompt, NULL, n_prompt, logits, 0);
    st->prompt_s = now() - t0;
    st->n_prompt = n_prompt;
    for (int i = 0; i < n_prompt; i++)
        herd_sampler_accept(smp, prompt[i]);
    t0 = now();
    while (s == HERD_OK && st->n_gen < n_predict) {
        int id = herd_sampler_sample(smp, logits);
        herd_sampler_accept(smp, id);
        st->n_gen++;
        if (id == eos || (on_token && on_token(user, id)))
            break;
        if (st->n_gen == n_predict || ctx->pos >= ctx->n_ctx)
            break;
        s = herd_eval(ctx, &id, NULL, 1, logits, 0);
    }
    st->gen_s = now() - t0;
    free(logits);
    return s;
}

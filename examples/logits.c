/* Using herd as a library: open a model, tokenize, and get the logits for a
 * sequence with and without the KV cache.
 *
 *   example_logits MODEL [TOKENIZER] [PROMPT]
 *
 * Prints the five most likely next tokens after the prompt, and checks that
 * the cached (batched prompt, then one token at a time) and uncached
 * forward passes agree. Without a tokenizer the prompt is BOS alone. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "herd.h"

static int fail(const char *what)
{
    fprintf(stderr, "example_logits: %s: %s\n", what, herd_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: example_logits MODEL [TOKENIZER] [PROMPT]\n");
        return 2;
    }
    herd_model *m;
    herd_tokenizer *own = NULL, *tok;
    if (herd_model_open(argv[1], &m) != HERD_OK)
        return fail("open");
    tok = herd_model_tokenizer(m);
    if (argc > 2 && *argv[2]) {
        if (herd_tokenizer_open(argv[2], &own) != HERD_OK)
            return fail("tokenizer");
        tok = own;
    }
    const char *prompt = argc > 3 ? argv[3] : "Once upon a time";
    int ids[256], n = 1;
    ids[0] = 1;
    if (tok && herd_tokenize(tok, prompt, strlen(prompt), 1, 0, ids, 256, &n) != HERD_OK)
        return fail("tokenize");
    if (n > 256)
        n = 256;

    int V = herd_model_config(m)->vocab_size;
    float *all = malloc(sizeof(float) * (size_t)n * V);
    float *last = malloc(sizeof(float) * (size_t)V);
    /* Without a cache: every position recomputed from the prefix. */
    if (herd_forward_nocache(m, ids, n, all) != HERD_OK)
        return fail("forward");
    /* With the cache: the prompt but its last token in one batch, then the
     * last token alone at its position. */
    herd_context *ctx;
    if (herd_context_new(m, 64 + n, &ctx) != HERD_OK)
        return fail("context");
    if (n > 1 && herd_eval(ctx, ids, NULL, n - 1, NULL, 0) != HERD_OK)
        return fail("eval");
    int pos = n - 1;
    if (herd_eval(ctx, &ids[n - 1], &pos, 1, last, 0) != HERD_OK)
        return fail("eval");
    float maxdiff = 0;
    for (int i = 0; i < V; i++) {
        float d = fabsf(last[i] - all[(size_t)(n - 1) * V + i]);
        if (d > maxdiff)
            maxdiff = d;
    }
    printf("%d prompt tokens; cached vs uncached logits: max difference %g\n", n, maxdiff);
    for (int k = 0; k < 5 && k < V; k++) {
        int best = 0;
        for (int i = 1; i < V; i++)
            if (last[i] > last[best])
                best = i;
        const char *piece = tok ? herd_token_piece(tok, best) : NULL;
        printf("  %6d %-12s %.4f\n", best, piece ? piece : "", last[best]);
        last[best] = -INFINITY;
    }
    herd_context_free(ctx);
    free(all);
    free(last);
    herd_tokenizer_free(own);
    herd_model_free(m);
    return maxdiff < 1e-3f ? 0 : 1;
}

/* Using herd's training API (include/herd_train.h): a tiny Llama with a
 * byte vocabulary (token = byte) learns one sentence by heart.
 *
 *   example_train [STEPS]
 *
 * Each step: the mean cross-entropy loss and the gradient of every
 * parameter from herd_train_forward_backward, clipping to norm 1, one
 * AdamW step at the cosine schedule's rate. Then the trained parameters,
 * seen as a herd_model, decode greedily from the sentence's first byte;
 * the exit status is 0 when they give the sentence back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "herd.h"
#include "herd_train.h"

static const char text[] = "In the beginning God created the heaven and the earth.";

static int fail(const char *what)
{
    fprintf(stderr, "example_train: %s: %s\n", what, herd_last_error());
    return 1;
}

/* Greedy decoding from the first byte, n bytes in all, into out. */
static int decode(herd_train_model *tm, int n, char *out)
{
    herd_context *ctx;
    const herd_model *m = herd_train_as_model(tm);
    if (herd_context_new(m, n, &ctx) != HERD_OK)
        return fail("context");
    float logits[256];
    int tok = (unsigned char)text[0];
    out[0] = text[0];
    for (int i = 1; i < n; i++) {
        if (herd_eval(ctx, &tok, NULL, 1, logits, 0) != HERD_OK)
            return herd_context_free(ctx), fail("eval");
        int best = 0;
        for (int v = 1; v < 256; v++)
            best = logits[v] > logits[best] ? v : best;
        out[i] = (char)best;
        tok = best;
    }
    out[n] = 0;
    herd_context_free(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 150;
    herd_set_threads(1);   /* a model this small gains nothing from threads */
    int n = (int)strlen(text);
    herd_config c = {.dim = 64, .hidden_dim = 128, .n_layers = 2, .n_heads = 4,
                     .n_kv_heads = 2, .vocab_size = 256, .seq_len = 64, .norm_eps = 1e-5f,
                     .rope_theta = 10000.0f, .tied_embeddings = 1};
    herd_train_model *tm;
    herd_adamw *opt;
    if (herd_train_model_new(&c, 1, &tm) != HERD_OK)
        return fail("model");
    if (herd_adamw_new(tm, &opt) != HERD_OK)
        return fail("optimizer");
    int tokens[64], targets[64];
    for (int i = 0; i < n - 1; i++) {
        tokens[i] = (unsigned char)text[i];
        targets[i] = (unsigned char)text[i + 1];
    }
    herd_batch b = {.B = 1, .T = n - 1, .tokens = tokens, .targets = targets};
    herd_adamw_params hp = herd_adamw_defaults();
    float loss = 0;
    for (int s = 0; s < steps; s++) {
        herd_train_zero_grad(tm);
        if (herd_train_forward_backward(tm, &b, 1.0f, &loss, NULL) != HERD_OK)
            return fail("forward/backward");
        double norm = herd_train_clip_grad(tm, 1.0);
        float lr = herd_lr_cosine(s, 10, steps, 3e-3f, 0.1f);
        herd_adamw_step(opt, tm, &hp, lr);
        if (s % 25 == 0 || s == steps - 1)
            printf("step %3d  loss %.4f  grad norm %.3f  lr %.2e\n", s, loss, norm, lr);
    }
    char out[64];
    if (decode(tm, n, out))
        return 1;
    printf("final loss %.4f\ngreedy: %s\n", loss, out);
    int ok = strcmp(out, text) == 0;
    herd_adamw_free(opt);
    herd_train_model_free(tm);
    return ok ? 0 : 3;
}

/* A prompt's attention through sgemm (herd_attention_prefill, taken for
 * 16 or more consecutive tokens) gives the logits that feeding the same
 * tokens one at a time through the KV cache gives, from position 0 and
 * after a cached prefix, on the gqa fixture. */
#include "test.h"
#include "model/model.h"

enum { T = 40 };

int main(void)
{
    herd_model *m;
    TEST_OPEN_FIXTURE("gqa", &m);
    int V = m->cfg.vocab_size, tok[T];
    for (int i = 0; i < T; i++)
        tok[i] = (i * 37 + 11) % V;
    float *one = malloc(sizeof(float) * T * V), *all = malloc(sizeof(float) * T * V);
    herd_context *c;
    CHECK_OK(herd_context_new(m, 64, &c));
    for (int i = 0; i < T; i++)
        CHECK_OK(herd_eval(c, tok + i, NULL, 1, one + (size_t)i * V, 0));
    herd_context_reset(c);
    CHECK_OK(herd_eval(c, tok, NULL, T, all, 1));
    float d = 0;
    for (size_t i = 0; i < (size_t)T * V; i++)
        d = fmaxf(d, fabsf(one[i] - all[i]));
    CHECK_MSG(d < 1e-4f, "a %d-token prompt differs from one token at a time by %g", T, d);
    /* 8 tokens, then the other 32 as one prompt after them. */
    herd_context_reset(c);
    CHECK_OK(herd_eval(c, tok, NULL, 8, all, 1));
    CHECK_OK(herd_eval(c, tok + 8, NULL, T - 8, all + (size_t)8 * V, 1));
    d = 0;
    for (size_t i = 0; i < (size_t)T * V; i++)
        d = fmaxf(d, fabsf(one[i] - all[i]));
    CHECK_MSG(d < 1e-4f, "a prompt after a cached prefix differs by %g", d);
    herd_context_free(c);
    free(one); free(all);
    herd_model_free(m);
    TEST_END();
}

/* A reward model for inference (train/reward.h): the backbone opened as
 * herd_model_open makes it, the head read from the same GGUF file, and a
 * sequence's reward from the final normed hidden state of its last token
 * (the backbone's forward pass without the output projection). */
#include "train/reward.h"
#include "formats/gguf.h"
#include "model/context.h"
#include "kernels/kernels.h"
#include "base/error.h"
#include "base/file.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct herd_reward_model {
    herd_model *m;
    float *head;             /* [dim + 1] */
    herd_chat_template tpl;
    herd_context *ctx;       /* grown to the longest sequence scored */
    float *hidden;           /* [dim] */
};

/* A one-row F32 tensor of cols values, copied into out. */
static herd_status read_head_tensor(const herd_gguf *g, const char *name, int64_t cols,
                                    float *out)
{
    const herd_gguf_tensor *t = herd_gguf_find_tensor(g, name);
    if (!t)
        return herd_fail(HERD_E_FORMAT, "%s: not a reward model: no tensor %s", g->path, name);
    if (t->type != HERD_TYPE_F32 || t->ne[0] != cols || t->ne[1] != 1 || t->ne[2] != 1 ||
        t->ne[3] != 1 || t->nbytes != (uint64_t)cols * sizeof(float))
        return herd_fail(HERD_E_FORMAT, "%s: tensor %s is not F32 [1][%lld]", g->path, name,
                         (long long)cols);
    memcpy(out, t->data, (size_t)cols * sizeof(float));
    for (int64_t i = 0; i < cols; i++)
        if (!isfinite(out[i]))
            return herd_fail(HERD_E_FORMAT, "%s: tensor %s holds a non-finite value", g->path,
                             name);
    return HERD_OK;
}

static herd_status read_template(const herd_gguf *g, herd_chat_template *tpl)
{
    herd_gguf_str s;
    *tpl = HERD_CHAT_NONE;
    herd_gguf_lookup r = herd_gguf_get_str(g, "herd.reward_model.chat_template", &s);
    if (r == HERD_GGUF_MISSING || (r == HERD_GGUF_FOUND && herd_gguf_str_eq(s, "none")))
        return HERD_OK;
    if (r == HERD_GGUF_FOUND && herd_gguf_str_eq(s, "llama2"))
        *tpl = HERD_CHAT_LLAMA2;
    else if (r == HERD_GGUF_FOUND && herd_gguf_str_eq(s, "llama3"))
        *tpl = HERD_CHAT_LLAMA3;
    else
        return herd_fail(HERD_E_FORMAT, "%s: herd.reward_model.chat_template is not none, "
                         "llama2 or llama3", g->path);
    return HERD_OK;
}

static herd_status read_head(const char *path, int dim, herd_reward_model *rm)
{
    herd_map map;
    HERD_TRY(herd_map_file(path, &map));
    herd_gguf g;
    herd_status s = herd_gguf_parse(path, map.data, map.size, &g);
    int flag = 0;
    if (s == HERD_OK && (herd_gguf_get_bool(&g, "herd.reward_model", &flag) != HERD_GGUF_FOUND ||
                         !flag))
        s = herd_fail(HERD_E_FORMAT, "%s: not a reward model (no herd.reward_model = true)",
                      path);
    if (s == HERD_OK)
        s = read_head_tensor(&g, "cls.output.weight", dim, rm->head);
    if (s == HERD_OK)
        s = read_head_tensor(&g, "cls.output.bias", 1, rm->head + dim);
    if (s == HERD_OK)
        s = read_template(&g, &rm->tpl);
    herd_gguf_free(&g);
    herd_unmap(&map);
    return s;
}

herd_status herd_reward_open(const char *path, herd_reward_model **out)
{
    *out = NULL;
    herd_reward_model *rm = calloc(1, sizeof *rm);
    if (!rm)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    herd_status s = herd_model_open(path, &rm->m);
    if (s == HERD_OK) {
        int dim = rm->m->cfg.dim;
        rm->head = malloc((size_t)(dim + 1) * sizeof *rm->head);
        rm->hidden = malloc((size_t)dim * sizeof *rm->hidden);
        s = rm->head && rm->hidden ? read_head(path, dim, rm)
                                   : herd_fail(HERD_E_NOMEM, "out of memory");
    }
    if (s != HERD_OK) {
        herd_reward_free(rm);
        return s;
    }
    *out = rm;
    return HERD_OK;
}

void herd_reward_free(herd_reward_model *rm)
{
    if (!rm)
        return;
    herd_context_free(rm->ctx);
    herd_model_free(rm->m);
    free(rm->head);
    free(rm->hidden);
    free(rm);
}

herd_tokenizer *herd_reward_tokenizer(herd_reward_model *rm)
{
    return herd_model_tokenizer(rm->m);
}

herd_chat_template herd_reward_template(const herd_reward_model *rm)
{
    return rm->tpl;
}

const herd_model *herd_reward_backbone(const herd_reward_model *rm)
{
    return rm->m;
}

const float *herd_reward_head(const herd_reward_model *rm)
{
    return rm->head;
}

/* The reward of one sequence: the forward pass leaves the final residual
 * stream in ctx->s.x; its last row, normed, meets the head. */
static herd_status score_one(herd_reward_model *rm, const int *ids, int n, float *r)
{
    if (n <= 0)
        return herd_fail(HERD_E_ARG, "reward: an empty sequence has no last token");
    if (!rm->ctx || herd_context_n_ctx(rm->ctx) < n) {
        herd_context_free(rm->ctx);
        rm->ctx = NULL;
        HERD_TRY(herd_context_new(rm->m, n, &rm->ctx));
    }
    herd_context_reset(rm->ctx);
    HERD_TRY(herd_eval(rm->ctx, ids, NULL, n, NULL, 0));
    const herd_config *c = &rm->m->cfg;
    herd_rmsnorm(rm->hidden, rm->ctx->s.x + (size_t)(n - 1) * c->dim,
                 (const float *)rm->m->w.output_norm.data, c->dim, c->norm_eps);
    double s = rm->head[c->dim];
    for (int i = 0; i < c->dim; i++)
        s += (double)rm->head[i] * rm->hidden[i];
    *r = (float)s;
    return HERD_OK;
}

herd_status herd_reward_score(herd_reward_model *rm, const int *const *seqs, const int *lens,
                              int n, float *rewards)
{
    for (int i = 0; i < n; i++)
        HERD_TRY(score_one(rm, seqs[i], lens[i], &rewards[i]));
    return HERD_OK;
}

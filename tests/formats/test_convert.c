/* herd convert on the golden fixtures (tests/fixtures/models/, logits from
 * tests/reference/llama_ref.py, an independent float64 PyTorch forward):
 * every format a fixture comes in -> GGUF -> Hugging Face folder -> GGUF,
 * F32, and F16/BF16 chains from the F16/BF16 sources (their weights are
 * exact in those types), each output opened by herd_model_open and its
 * herd_forward_nocache logits matched to 1e-4 relative (so q/k rows are in
 * the order each format wants, and rope scaling survives every step: its
 * exact forms are checked in test_convert_rope.c). The config must survive
 * too. */
#include "herd.h"
#include "formats/convert.h"
#include "formats/gguf.h"
#include "base/file.h"
#include "test.h"
#include <cjson/cJSON.h>
#include <unistd.h>

#define TOL 1e-4f
#define MAX_TOKENS 64

static const char *const fixtures[] = {"mha", "gqa", "gqa_tied", "mqa", "theta",
                                       "llama31", "linear"};
static const char *const formats[] = {"model.bin", "model.gguf", "model-f16.gguf",
                                      "hf", "hf-bf16", "hf-f16"};
static char tmp[64];

typedef struct {
    cJSON *meta;
    int tokens[MAX_TOKENS], n, vocab;
    float *logits;
} golden;

static char *slurp(const char *path, size_t *n)
{
    char *d;
    return herd_read_file(path, &d, n) == HERD_OK ? d : NULL;
}

static int load_golden(const char *dir, golden *g)
{
    char path[1024];
    size_t len;
    memset(g, 0, sizeof *g);
    snprintf(path, sizeof path, "%s/meta.json", dir);
    char *js = slurp(path, &len);
    g->meta = js ? cJSON_Parse(js) : NULL;
    free(js);
    const cJSON *cfg = cJSON_GetObjectItem(g->meta, "config");
    const cJSON *toks = cJSON_GetObjectItem(g->meta, "tokens"), *t;
    g->vocab = cJSON_GetObjectItem(cfg, "vocab_size") ?
               cJSON_GetObjectItem(cfg, "vocab_size")->valueint : 0;
    cJSON_ArrayForEach(t, toks)
        if (g->n < MAX_TOKENS)
            g->tokens[g->n++] = t->valueint;
    snprintf(path, sizeof path, "%s/logits.f32", dir);
    g->logits = (float *)slurp(path, &len);
    int ok = g->logits && g->n > 0 && len == (size_t)g->n * g->vocab * sizeof(float);
    CHECK_MSG(ok, "%s: golden data missing", dir);
    return ok;
}

static int listed(const golden *g, const char *fmt)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(g->meta, "formats"))
        if (cJSON_IsString(f) && !strcmp(f->valuestring, fmt))
            return 1;
    return 0;
}

/* Opens a converted model and matches its logits with the golden ones. */
static void check_logits(const char *path, const golden *g, const herd_config *want)
{
    herd_model *m;
    herd_status s = herd_model_open(path, &m);
    CHECK_MSG(s == HERD_OK, "%s: %s", path, herd_last_error());
    if (s != HERD_OK)
        return;
    const herd_config *c = herd_model_config(m);
    CHECK_MSG(c->dim == want->dim && c->hidden_dim == want->hidden_dim &&
              c->n_layers == want->n_layers && c->n_heads == want->n_heads &&
              c->n_kv_heads == want->n_kv_heads && c->vocab_size == want->vocab_size &&
              c->seq_len == want->seq_len && c->norm_eps == want->norm_eps &&
              c->rope_theta == want->rope_theta &&
              c->tied_embeddings == want->tied_embeddings, "%s: config changed", path);
    float *got = malloc((size_t)g->n * g->vocab * sizeof *got);
    CHECK_OK(herd_forward_nocache(m, g->tokens, g->n, got));
    int bad = 0, at = -1;
    for (int i = 0; i < g->n * g->vocab; i++)
        if (!test_close(got[i], g->logits[i], TOL) && bad++ == 0)
            at = i;
    CHECK_MSG(bad == 0, "%s: %d logits off, first at %d: %g, want %g", path, bad, at,
              at >= 0 ? (double)got[at] : 0.0, at >= 0 ? (double)g->logits[at] : 0.0);
    free(got);
    herd_model_free(m);
}

/* Converts in to out as type; 0 on failure. */
static int convert(const char *in, const char *out, herd_type type)
{
    herd_model *m;
    herd_status s = herd_model_load(in, NULL, &m);
    CHECK_MSG(s == HERD_OK, "open %s: %s", in, herd_last_error());
    if (s != HERD_OK)
        return 0;
    herd_convert_opts o = {.type = type};
    s = herd_convert_save(m, out, &o);
    CHECK_MSG(s == HERD_OK, "%s -> %s: %s", in, out, herd_last_error());
    herd_model_free(m);
    return s == HERD_OK;
}

/* The config as the source gives it (widened), for comparison. */
static int source_config(const char *path, herd_config *c)
{
    herd_model *m;
    if (herd_model_open(path, &m) != HERD_OK)
        return 0;
    *c = *herd_model_config(m);
    herd_model_free(m);
    return 1;
}

/* src -> a.gguf -> b (HF) -> c.gguf, all of type, each checked. */
static void chain(const char *src, const char *tag, const golden *g, herd_type type)
{
    char a[256], b[256], c[256];
    herd_config want;
    CHECK_MSG(source_config(src, &want), "%s: %s", src, herd_last_error());
    snprintf(a, sizeof a, "%s/%s.gguf", tmp, tag);
    snprintf(b, sizeof b, "%s/%s-hf", tmp, tag);
    snprintf(c, sizeof c, "%s/%s-again.gguf", tmp, tag);
    if (convert(src, a, type))
        check_logits(a, g, &want);
    if (convert(a, b, type))
        check_logits(b, g, &want);
    if (convert(b, c, type))
        check_logits(c, g, &want);
}

static void fixture(const char *name)
{
    char dir[512], src[600], tag[128];
    snprintf(dir, sizeof dir, "%s/tests/fixtures/models/%s", test_source(), name);
    golden g;
    if (!load_golden(dir, &g))
        return;
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++) {
        if (!listed(&g, formats[i]))
            continue;
        snprintf(src, sizeof src, "%s/%s", dir, formats[i]);
        snprintf(tag, sizeof tag, "%s-%s", name, formats[i]);
        chain(src, tag, &g, HERD_TYPE_F32);
    }
    snprintf(src, sizeof src, "%s/hf-f16", dir);
    snprintf(tag, sizeof tag, "%s-f16", name);
    chain(src, tag, &g, HERD_TYPE_F16);
    snprintf(src, sizeof src, "%s/hf-bf16", dir);
    snprintf(tag, sizeof tag, "%s-bf16", name);
    chain(src, tag, &g, HERD_TYPE_BF16);
    cJSON_Delete(g.meta);
    free(g.logits);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/herd-test-convert-XXXXXX");
    if (!mkdtemp(tmp))
        TEST_SKIP("no temporary folder");
    herd_set_threads(1); /* tiny models: threads would only wait on each other */
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++)
        fixture(fixtures[i]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    TEST_END();
}

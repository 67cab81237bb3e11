/* Golden logits: the tiny models under tests/fixtures/models/ in every format
 * herd reads (llama2.c .bin, GGUF F32/F16, Hugging Face F32/BF16 sharded/F16)
 * against the logits of tests/reference/llama_ref.py, a float64 PyTorch
 * forward written from Meta's model.py (make_fixtures.py wrote both, never
 * using herd). The weights are exact in BF16 and F16, so every format must
 * give the same logits: herd_forward_nocache, one batched herd_eval of the
 * whole prompt, and token-by-token herd_eval each agree to 1e-4 relative.
 * The config herd reads is checked against meta.json, rope scaling included:
 * "llama31" (Llama 3.1's llama3 scaling) and "linear" (position
 * interpolation) scale their rotary frequencies. */
#include "herd.h"
#include "test.h"
#include <cjson/cJSON.h>

#define TOL 1e-4f
#define N_CTX 64
#define MAX_TOKENS 64

static const char *const fixtures[] = {"mha", "gqa", "gqa_tied", "mqa", "theta",
                                       "llama31", "linear"};
static const char *const formats[] = {"model.bin", "model.gguf", "model-f16.gguf",
                                      "hf", "hf-bf16", "hf-f16"};

typedef struct {
    cJSON *meta;
    const cJSON *cfg;            /* meta.json "config" */
    int tokens[MAX_TOKENS];
    int n, vocab;
    float *logits;               /* [n][vocab] */
} golden;

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *d = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long len = ftell(f);
        if (len >= 0 && fseek(f, 0, SEEK_SET) == 0 && (d = malloc((size_t)len + 1))) {
            *n = fread(d, 1, (size_t)len, f);
            d[*n] = 0;
        }
    }
    fclose(f);
    return d;
}

static int cfg_int(const golden *g, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(g->cfg, key);
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

static double cfg_real(const golden *g, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(g->cfg, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* meta.json's rope_scaling; absent means none. */
static herd_rope_scaling cfg_scaling(const golden *g)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(g->cfg, "rope_scaling");
    if (!cJSON_IsString(v) || strcmp(v->valuestring, "none") == 0)
        return HERD_ROPE_SCALING_NONE;
    if (strcmp(v->valuestring, "linear") == 0)
        return HERD_ROPE_SCALING_LINEAR;
    CHECK_MSG(strcmp(v->valuestring, "llama3") == 0, "meta.json: rope_scaling %s", v->valuestring);
    return HERD_ROPE_SCALING_LLAMA3;
}

static int read_tokens(const char *path, golden *g)
{
    size_t len;
    char *s = slurp(path, &len), *p = s, *end;
    if (!s)
        return 0;
    g->n = 0;
    for (long v; g->n < MAX_TOKENS && (v = strtol(p, &end, 10), end != p); p = end)
        g->tokens[g->n++] = (int)v;
    free(s);
    return g->n > 0;
}

/* Reads meta.json, tokens.txt and logits.f32 of one fixture folder. */
static int load_golden(const char *dir, golden *g)
{
    char path[1024];
    size_t len;
    memset(g, 0, sizeof *g);
    snprintf(path, sizeof path, "%s/meta.json", dir);
    char *js = slurp(path, &len);
    g->meta = js ? cJSON_Parse(js) : NULL;
    free(js);
    g->cfg = cJSON_GetObjectItemCaseSensitive(g->meta, "config");
    CHECK_MSG(cJSON_IsObject(g->cfg), "%s: no config", path);
    if (!cJSON_IsObject(g->cfg))
        return 0;
    g->vocab = cfg_int(g, "vocab_size");
    snprintf(path, sizeof path, "%s/tokens.txt", dir);
    CHECK_MSG(read_tokens(path, g), "%s: no tokens", path);
    const cJSON *nt = cJSON_GetObjectItemCaseSensitive(g->meta, "n_tokens");
    CHECK(cJSON_IsNumber(nt) && nt->valueint == g->n);
    snprintf(path, sizeof path, "%s/logits.f32", dir);
    g->logits = (float *)slurp(path, &len);
    CHECK_MSG(g->logits && g->n > 0 && len == (size_t)g->n * g->vocab * sizeof(float),
              "%s: %zu bytes, want %d x %d floats", path, len, g->n, g->vocab);
    return g->logits && g->n > 0 && len == (size_t)g->n * g->vocab * sizeof(float);
}

static void free_golden(golden *g)
{
    cJSON_Delete(g->meta);
    free(g->logits);
}

/* Whether meta.json lists this format (llama2.c cannot store every config). */
static int listed(const golden *g, const char *fmt)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(g->meta, "formats"))
        if (cJSON_IsString(f) && strcmp(f->valuestring, fmt) == 0)
            return 1;
    return 0;
}

static int same(double got, double want)
{
    return fabs(got - want) <= 1e-6 * fabs(want);
}

/* GGUF keeps Llama 3.1's scaling as the rope_freqs.weight divisors, not as
 * config fields: there herd's config says none and the logits tell. */
static void check_scaling(const herd_config *c, const golden *g, const char *what, int hf)
{
    herd_rope_scaling want = cfg_scaling(g);
    if (!hf && want == HERD_ROPE_SCALING_LLAMA3)
        want = HERD_ROPE_SCALING_NONE;
    CHECK_MSG(c->rope_scaling == want, "%s: rope_scaling %d, want %d", what, c->rope_scaling,
              want);
    if (c->rope_scaling != want || want == HERD_ROPE_SCALING_NONE)
        return;
    CHECK_MSG(same(c->rope_factor, cfg_real(g, "rope_factor")), "%s: rope_factor %g", what,
              (double)c->rope_factor);
    if (want != HERD_ROPE_SCALING_LLAMA3)
        return;
    CHECK_MSG(same(c->rope_low_freq_factor, cfg_real(g, "rope_low_freq_factor")),
              "%s: rope_low_freq_factor %g", what, (double)c->rope_low_freq_factor);
    CHECK_MSG(same(c->rope_high_freq_factor, cfg_real(g, "rope_high_freq_factor")),
              "%s: rope_high_freq_factor %g", what, (double)c->rope_high_freq_factor);
    CHECK_MSG(c->rope_orig_ctx == cfg_int(g, "rope_orig_ctx"), "%s: rope_orig_ctx %d", what,
              c->rope_orig_ctx);
}

static void check_config(const herd_config *c, const golden *g, const char *what, int hf)
{
    CHECK_MSG(c->dim == cfg_int(g, "dim"), "%s: dim %d", what, c->dim);
    CHECK_MSG(c->hidden_dim == cfg_int(g, "hidden_dim"), "%s: hidden_dim %d", what, c->hidden_dim);
    CHECK_MSG(c->n_layers == cfg_int(g, "n_layers"), "%s: n_layers %d", what, c->n_layers);
    CHECK_MSG(c->n_heads == cfg_int(g, "n_heads"), "%s: n_heads %d", what, c->n_heads);
    CHECK_MSG(c->n_kv_heads == cfg_int(g, "n_kv_heads"), "%s: n_kv_heads %d", what, c->n_kv_heads);
    CHECK_MSG(c->vocab_size == g->vocab, "%s: vocab_size %d", what, c->vocab_size);
    CHECK_MSG(c->seq_len == cfg_int(g, "seq_len"), "%s: seq_len %d", what, c->seq_len);
    double eps = cfg_real(g, "norm_eps"), theta = cfg_real(g, "rope_theta");
    CHECK_MSG(fabs(c->norm_eps - eps) <= 1e-6 * eps, "%s: norm_eps %g, want %g", what,
              (double)c->norm_eps, eps);
    CHECK_MSG(fabs(c->rope_theta - theta) <= 1e-6 * theta, "%s: rope_theta %g, want %g", what,
              (double)c->rope_theta, theta);
    const cJSON *tied = cJSON_GetObjectItemCaseSensitive(g->cfg, "tied_embeddings");
    CHECK_MSG(!c->tied_embeddings == !cJSON_IsTrue(tied), "%s: tied_embeddings %d", what,
              c->tied_embeddings);
    if (!hf) /* an HF loader may keep the HF row order or permute it back */
        CHECK_MSG(c->rope_layout == HERD_ROPE_META, "%s: rope_layout %d", what, c->rope_layout);
    check_scaling(c, g, what, hf);
}

/* Largest |got - want| / max(1, |want|) over every logit; one CHECK. */
static double compare(const float *got, const golden *g, const char *what,
                      const char *stage)
{
    double worst = 0;
    int bad = 0, at = 0;
    for (int i = 0; i < g->n * g->vocab; i++) {
        float want = g->logits[i];
        double e = fabs((double)got[i] - want) / (fabsf(want) > 1 ? fabsf(want) : 1);
        if (!(e <= worst)) { /* also catches NaN */
            worst = isnan(e) ? INFINITY : e;
            at = i;
        }
        bad += !test_close(got[i], want, TOL);
    }
    CHECK_MSG(bad == 0, "%s %s: %d of %d logits off; worst at pos %d token %d: %g, want %g",
              what, stage, bad, g->n * g->vocab, at / g->vocab, at % g->vocab, (double)got[at],
              (double)g->logits[at]);
    return worst;
}

/* (a) no cache, (b) one batched eval, (c) one token at a time. */
static void run_model(const herd_model *m, const golden *g, const char *what, double err[3])
{
    size_t nl = (size_t)g->n * g->vocab;
    float *out = malloc(nl * sizeof *out);
    herd_context *ctx = NULL;
    err[0] = err[1] = err[2] = INFINITY;
    if (!out)
        return;
    for (size_t i = 0; i < nl; i++)
        out[i] = NAN;
    CHECK_OK(herd_forward_nocache(m, g->tokens, g->n, out));
    err[0] = compare(out, g, what, "nocache");
    CHECK_OK(herd_context_new(m, N_CTX, &ctx));
    if (ctx) {
        for (size_t i = 0; i < nl; i++)
            out[i] = NAN;
        CHECK_OK(herd_eval(ctx, g->tokens, NULL, g->n, out, 1));
        CHECK(herd_context_pos(ctx) == g->n);
        err[1] = compare(out, g, what, "batched eval");
        herd_context_reset(ctx);
        CHECK(herd_context_pos(ctx) == 0);
        for (size_t i = 0; i < nl; i++)
            out[i] = NAN;
        for (int i = 0; i < g->n; i++)
            CHECK_OK(herd_eval(ctx, &g->tokens[i], NULL, 1, out + (size_t)i * g->vocab, 0));
        err[2] = compare(out, g, what, "step eval");
    }
    herd_context_free(ctx);
    free(out);
}

static void run_fixture(const char *root, const char *name)
{
    char dir[512], path[1024];
    golden g = {0};
    int n = snprintf(dir, sizeof dir, "%s/%s", root, name);
    CHECK_MSG(n > 0 && (size_t)n < sizeof dir, "path too long: %s", root);
    if (n <= 0 || (size_t)n >= sizeof dir || !load_golden(dir, &g)) {
        free_golden(&g);
        return;
    }
    for (size_t f = 0; f < sizeof formats / sizeof *formats; f++) {
        if (!listed(&g, formats[f])) {
            printf("%-9s %-15s n/a (llama2.c files hold no eps, rope theta or scaling)\n", name,
                   formats[f]);
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", dir, formats[f]);
        herd_model *m = NULL;
        herd_status s = herd_model_open(path, &m);
        CHECK_MSG(s == HERD_OK, "%s: open failed: %s: %s", path, herd_status_name(s),
                  herd_last_error());
        if (!m) {
            printf("%-9s %-15s FAILED to open\n", name, formats[f]);
            continue;
        }
        check_config(herd_model_config(m), &g, path, formats[f][0] == 'h');
        double err[3];
        run_model(m, &g, path, err);
        printf("%-9s %-15s max rel err: nocache %.2e  batched %.2e  step %.2e\n", name,
               formats[f], err[0], err[1], err[2]);
        herd_model_free(m);
    }
    free_golden(&g);
}

int main(void)
{
    char root[512];
    snprintf(root, sizeof root, "%s/tests/fixtures/models", test_source());
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++)
        run_fixture(root, fixtures[i]);
    TEST_END();
}

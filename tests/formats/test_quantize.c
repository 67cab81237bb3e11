/* herd_quantize_gguf on files: the golden fixtures (rows of 64 and 172
 * values, so the K-quants fall back) and a synthetic model written by
 * herd's own writer (dim 256, hidden 512, 2 layers, vocabulary 512, with a
 * SentencePiece tokenizer and a chat template: every rule applies), to
 * every file type. For each output:
 *  - each tensor's type is the one llama.cpp's rules give (tables written
 *    out by hand below), vectors stay F32 and equal the source;
 *  - each matrix's bytes equal the reference quantizer (llama.cpp's, bit
 *    for bit: tests/quant) run on the source rows;
 *  - every metadata pair of the source is there with the same bytes, in
 *    the same order, general.file_type and general.quantization_version
 *    set;
 *  - the model opens and its logits are close to the F32 model's (and, for
 *    the fixtures, to the float64 PyTorch golden logits) within a bound per
 *    type.
 * Also: 1 and 2 threads write the same bytes; a quantized input is
 * dequantized (or copied when the type stays); and the refusals (missing
 * input, not a GGUF, existing output, same file) leave nothing behind. */
#include "test.h"
#include "formats/quantize.h"
#include "quant/quant.h"
#include "base/error.h"
#include "base/file.h"
#include "tokenizer/tokenizer.h"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <unistd.h>

#define MAX_TOKENS 64
static char dir[64];

/* ---- expected types, by hand from llama.cpp's rules ---- */

typedef enum { SYN, SYN_TIED, GQA } kind;

typedef struct {
    herd_ftype f;
    herd_type def, embd, out;   /* most matrices, token_embd, output */
    herd_type v[3], down[3];    /* attn_v and ffn_down per layer */
    int n_fallback;
} expect;

#define Q80 HERD_TYPE_Q8_0
#define Q40 HERD_TYPE_Q4_0
#define Q4K HERD_TYPE_Q4_K
#define Q6K HERD_TYPE_Q6_K
#define F16 HERD_TYPE_F16
#define B16 HERD_TYPE_BF16
#define F32 HERD_TYPE_F32

/* dim 256, hidden 512, 2 layers, output.weight present */
static const expect syn[] = {
    {HERD_FTYPE_MOSTLY_Q8_0, Q80, Q80, Q80, {Q80, Q80}, {Q80, Q80}, 0},
    {HERD_FTYPE_MOSTLY_Q4_0, Q40, Q40, Q6K, {Q40, Q40}, {Q40, Q40}, 0},
    {HERD_FTYPE_MOSTLY_Q6_K, Q6K, Q6K, Q6K, {Q6K, Q6K}, {Q6K, Q6K}, 0},
    {HERD_FTYPE_MOSTLY_Q4_K_M, Q4K, Q4K, Q6K, {Q4K, Q6K}, {Q4K, Q6K}, 0},
    {HERD_FTYPE_MOSTLY_F16, F16, F16, F16, {F16, F16}, {F16, F16}, 0},
    {HERD_FTYPE_MOSTLY_BF16, B16, B16, B16, {B16, B16}, {B16, B16}, 0},
    {HERD_FTYPE_ALL_F32, F32, F32, F32, {F32, F32}, {F32, F32}, 0},
};
/* the same, tied: token_embd takes the output's rule (out unused) */
static const expect syn_tied[] = {
    {HERD_FTYPE_MOSTLY_Q8_0, Q80, Q80, 0, {Q80, Q80}, {Q80, Q80}, 0},
    {HERD_FTYPE_MOSTLY_Q4_0, Q40, Q6K, 0, {Q40, Q40}, {Q40, Q40}, 0},
    {HERD_FTYPE_MOSTLY_Q4_K_M, Q4K, Q6K, 0, {Q4K, Q6K}, {Q4K, Q6K}, 0},
};
/* gqa fixture: dim 64, hidden 172 (ffn_down rows), 3 layers, untied.
 * K-quants: 64 -> Q8_0 (llama.cpp: Q5_0 for Q4_K, Q8_0 for Q6_K), 172 ->
 * F16; the output rule picks Q8_0 itself (64 % 256). Q4_0: the output's
 * Q6_K falls back to Q8_0; Q4_0/Q8_0 ffn_down -> F16. */
static const expect gqa[] = {
    {HERD_FTYPE_MOSTLY_Q8_0, Q80, Q80, Q80, {Q80, Q80, Q80}, {F16, F16, F16}, 3},
    {HERD_FTYPE_MOSTLY_Q4_0, Q40, Q40, Q80, {Q40, Q40, Q40}, {F16, F16, F16}, 4},
    {HERD_FTYPE_MOSTLY_Q6_K, Q80, Q80, Q80, {Q80, Q80, Q80}, {F16, F16, F16}, 22},
    {HERD_FTYPE_MOSTLY_Q4_K_M, Q80, Q80, Q80, {Q80, Q80, Q80}, {F16, F16, F16}, 22},
    {HERD_FTYPE_MOSTLY_F16, F16, F16, F16, {F16, F16, F16}, {F16, F16, F16}, 0},
};

static herd_type expected_type(const expect *e, const char *name)
{
    int l;
    char role[32];
    if (!strcmp(name, "token_embd.weight"))
        return e->embd;
    if (!strcmp(name, "output.weight"))
        return e->out;
    if (sscanf(name, "blk.%d.%31[a-z_]", &l, role) == 2 && l >= 0 && l < 3) {
        if (!strcmp(role, "attn_v"))
            return e->v[l];
        if (!strcmp(role, "ffn_down"))
            return e->down[l];
    }
    return e->def;
}

/* ---- the synthetic model ---- */

static float rnd(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return ((float)(*s >> 8) / 16777216.0f - 0.5f);
}

static void fill(herd_model *m, herd_tensor *t, int64_t rows, int64_t cols, float scale,
                 float base, uint32_t *seed)
{
    float *d = herd_owned_alloc(&m->owned, (size_t)(rows * cols) * sizeof *d);
    for (int64_t i = 0; i < rows * cols; i++)
        d[i] = base + scale * rnd(seed);
    *t = (herd_tensor){.data = d, .type = HERD_TYPE_F32, .rows = rows, .cols = cols};
}

static void make_tokenizer(herd_model *m, int n)
{
    const char **pieces = calloc((size_t)n, sizeof *pieces);
    size_t *lens = calloc((size_t)n, sizeof *lens);
    float *scores = calloc((size_t)n, sizeof *scores);
    char (*buf)[16] = calloc((size_t)n, sizeof *buf);
    for (int i = 0; i < n; i++) {
        if (i < 3)
            snprintf(buf[i], 16, "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
        else if (i < 3 + 256)
            snprintf(buf[i], 16, "<0x%02X>", i - 3);
        else
            snprintf(buf[i], 16, "\xe2\x96\x81w%d", i);
        pieces[i] = buf[i];
        lens[i] = strlen(buf[i]);
        scores[i] = -(float)i;
    }
    CHECK_OK(herd_spm_from_vocab(n, pieces, lens, scores, NULL, 1, 2, 0, 1, &m->tok));
    free(pieces);
    free(lens);
    free(scores);
    free(buf);
}

static void write_synthetic(const char *path, int tied)
{
    herd_model m;
    memset(&m, 0, sizeof m);
    herd_config *c = &m.cfg;
    herd_config_defaults(c);
    *c = (herd_config){.dim = 256, .hidden_dim = 512, .n_layers = 2, .n_heads = 4,
                       .n_kv_heads = 2, .vocab_size = 512, .seq_len = 128, .norm_eps = 1e-5f,
                       .rope_theta = 10000.0f, .tied_embeddings = tied};
    CHECK_OK(herd_model_alloc_layers(&m));
    uint32_t seed = tied ? 7 : 3;
    float s = 0.2f;   /* uniform in [-0.1, 0.1]: logits of a few units */
    fill(&m, &m.w.tok_embeddings, 512, 256, 2.0f, 0, &seed);
    fill(&m, &m.w.output_norm, 1, 256, 0.2f, 1, &seed);
    if (!tied)
        fill(&m, &m.w.output, 512, 256, s, 0, &seed);
    for (int l = 0; l < 2; l++) {
        herd_layer_weights *w = &m.w.layers[l];
        fill(&m, &w->attn_norm, 1, 256, 0.2f, 1, &seed);
        fill(&m, &w->wq, 256, 256, s, 0, &seed);
        fill(&m, &w->wk, 128, 256, s, 0, &seed);
        fill(&m, &w->wv, 128, 256, s, 0, &seed);
        fill(&m, &w->wo, 256, 256, s, 0, &seed);
        fill(&m, &w->ffn_norm, 1, 256, 0.2f, 1, &seed);
        fill(&m, &w->w1, 512, 256, s, 0, &seed);
        fill(&m, &w->w2, 256, 512, s, 0, &seed);
        fill(&m, &w->w3, 512, 256, s, 0, &seed);
    }
    make_tokenizer(&m, 512);
    m.chat_template = strdup("{% for message in messages %}{{ message['content'] }}{% endfor %}");
    CHECK_OK(herd_save_gguf(&m, path, HERD_TYPE_F32));
    free(m.chat_template);
    herd_tokenizer_free(m.tok);
    herd_owned_free(&m.owned);
}

/* ---- checking one output ---- */

typedef struct {
    herd_map map;
    herd_gguf g;
} gfile;

static int gopen(const char *path, gfile *f)
{
    memset(f, 0, sizeof *f);
    herd_status s = herd_map_file(path, &f->map);
    if (s == HERD_OK)
        s = herd_gguf_parse(path, f->map.data, f->map.size, &f->g);
    CHECK_MSG(s == HERD_OK, "%s: %s", path, herd_last_error());
    return s == HERD_OK;
}

static void gclose(gfile *f)
{
    herd_gguf_free(&f->g);
    herd_unmap(&f->map);
}

/* The bytes of pair i: from its value to the next pair's key (or the
 * first tensor info), as the file lays them out. */
static void kv_bytes(const herd_gguf *g, uint64_t i, const uint8_t **p, size_t *n)
{
    const herd_gguf_kv *kv = &g->kv[i];
    const uint8_t *v = kv->type == HERD_GGUF_ARRAY ? kv->val - 12 : kv->val;
    const uint8_t *end = i + 1 < g->n_kv ? (const uint8_t *)g->kv[i + 1].key.p - 8
                                         : (const uint8_t *)g->tensors[0].name.p - 8;
    *p = v;
    *n = (size_t)(end - v);
}

static uint64_t kv_u32(const herd_gguf *g, const char *key)
{
    int64_t v = -1;
    return herd_gguf_get_int(g, key, &v) == HERD_GGUF_FOUND ? (uint64_t)v : (uint64_t)-1;
}

static void check_metadata(const herd_gguf *src, const herd_gguf *out, herd_ftype f)
{
    uint64_t j = 0;
    for (uint64_t i = 0; i < src->n_kv; i++) {
        const herd_gguf_kv *a = &src->kv[i];
        if (herd_gguf_str_eq(a->key, "general.file_type") ||
            herd_gguf_str_eq(a->key, "general.quantization_version") ||
            herd_gguf_str_eq(a->key, "general.alignment")) {
            j++;
            continue;
        }
        const uint8_t *p, *q;
        size_t n, m;
        kv_bytes(src, i, &p, &n);
        int same = j < out->n_kv && out->kv[j].key.len == a->key.len &&
                   !memcmp(out->kv[j].key.p, a->key.p, a->key.len) &&
                   out->kv[j].type == a->type;
        if (same) {
            kv_bytes(out, j, &q, &m);
            same = n == m && !memcmp(p, q, n);
        }
        CHECK_MSG(same, "metadata %.*s differs or moved", (int)a->key.len, a->key.p);
        j++;
    }
    CHECK(kv_u32(out, "general.file_type") == (uint64_t)f);
    CHECK(kv_u32(out, "general.quantization_version") == 2);
    CHECK(kv_u32(out, "general.alignment") == 32);
    CHECK(out->n_kv == j + (kv_u32(src, "general.quantization_version") == 2 ? 0 : 1));
}

/* Quantizes the source rows with the type's reference quantizer. */
static int same_as_reference(const herd_gguf_tensor *s, const herd_gguf_tensor *o)
{
    if (s->type != HERD_TYPE_F32 || o->n_dims != s->n_dims || o->ne[0] != s->ne[0] ||
        o->ne[1] != s->ne[1])
        return 0;
    int64_t cols = s->ne[0], rows = s->ne[1];
    size_t rb = herd_qrow_bytes((herd_qtype)o->type, cols);
    if (rb == 0 || o->nbytes != rb * (uint64_t)rows)
        return 0;
    const herd_qtraits *q = herd_qtraits_get((herd_qtype)o->type);
    uint8_t *row = malloc(rb);
    int ok = 1;
    for (int64_t r = 0; r < rows && ok; r++) {
        q->from_float((const float *)s->data + r * cols, row, cols);
        ok = !memcmp(row, (const uint8_t *)o->data + (size_t)r * rb, rb);
    }
    free(row);
    return ok;
}

static void check_tensors(const herd_gguf *src, const herd_gguf *out, const expect *e)
{
    CHECK(out->n_tensors == src->n_tensors);
    for (uint64_t i = 0; i < out->n_tensors; i++) {
        const herd_gguf_tensor *o = &out->tensors[i];
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)o->name.len, o->name.p);
        const herd_gguf_tensor *s = herd_gguf_find_tensor(src, name);
        CHECK_MSG(s, "%s not in the source", name);
        if (!s)
            continue;
        if (s->n_dims == 1) {
            CHECK_MSG(o->type == HERD_TYPE_F32 && o->nbytes == s->nbytes &&
                      !memcmp(o->data, s->data, s->nbytes), "%s: vector changed", name);
            continue;
        }
        herd_type want = expected_type(e, name);
        CHECK_MSG(o->type == (uint32_t)want, "%s %s: type %s, want %s", herd_ftype_name(e->f),
                  name, herd_type_name((herd_type)o->type), herd_type_name(want));
        CHECK_MSG(same_as_reference(s, o), "%s %s: bytes differ from the reference quantizer",
                  herd_ftype_name(e->f), name);
    }
}

/* ---- logits ---- */

static double rel_rms(const float *a, const float *b, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return r > 0 ? sqrt(d / r) : 1;
}

/* Relative RMS error of the logits against the F32 model's: about 1.5
 * times the largest seen on these random models (dim 64 and 256, where a
 * 4-bit weight error of several percent grows through the layers). The
 * synthetic model must also order the types by bits. */
static double bound(herd_ftype f)
{
    switch (f) {
    case HERD_FTYPE_ALL_F32: return 1e-6;
    case HERD_FTYPE_MOSTLY_F16: return 2e-3;
    case HERD_FTYPE_MOSTLY_BF16: return 1e-2;
    case HERD_FTYPE_MOSTLY_Q8_0: return 3.5e-2;
    case HERD_FTYPE_MOSTLY_Q6_K: return 6e-2;
    case HERD_FTYPE_MOSTLY_Q4_K_M: return 0.2;
    case HERD_FTYPE_MOSTLY_Q4_0: return 0.4;
    }
    return 0;
}

static float *logits_of(const char *path, const int *tok, int n, int *vocab)
{
    herd_model *m;
    herd_status s = herd_model_open(path, &m);
    CHECK_MSG(s == HERD_OK, "%s: %s", path, herd_last_error());
    if (s != HERD_OK)
        return NULL;
    *vocab = herd_model_config(m)->vocab_size;
    float *l = malloc((size_t)n * (size_t)*vocab * sizeof *l);
    CHECK_OK(herd_forward_nocache(m, tok, n, l));
    herd_model_free(m);
    return l;
}

/* ---- one quantization ---- */

static int n_warn;
static char last_warn[512];

static void on_warn(void *user, const char *msg)
{
    (void)user;
    n_warn++;
    snprintf(last_warn, sizeof last_warn, "%s", msg);
}

/* Returns the logits' relative RMS error against the source's (-1 when
 * it could not be measured). */
static double quantize_and_check(const char *src, const char *tag, const expect *e,
                                 const int *tok, int n_tok, const float *golden)
{
    double err = -1;
    char out[160];
    snprintf(out, sizeof out, "%s/%s-%s.gguf", dir, tag, herd_ftype_name(e->f));
    herd_quantize_opts o = {.ftype = e->f, .warn = on_warn};
    herd_quantize_stats st;
    n_warn = 0;
    herd_status s = herd_quantize_gguf(src, out, &o, &st);
    CHECK_MSG(s == HERD_OK, "%s: %s", out, herd_last_error());
    if (s != HERD_OK)
        return err;
    CHECK_MSG(st.n_fallback == e->n_fallback && n_warn == e->n_fallback,
              "%s: %d fallbacks, %d warnings, want %d", out, st.n_fallback, n_warn,
              e->n_fallback);
    CHECK(st.n_requantized == 0);
    gfile a, b;
    if (gopen(src, &a) && gopen(out, &b)) {
        check_tensors(&a.g, &b.g, e);
        check_metadata(&a.g, &b.g, e->f);
        uint64_t in = 0, outb = 0;
        for (uint64_t i = 0; i < a.g.n_tensors; i++)
            in += a.g.tensors[i].nbytes;
        for (uint64_t i = 0; i < b.g.n_tensors; i++)
            outb += b.g.tensors[i].nbytes;
        CHECK(st.in_bytes == in && st.out_bytes == outb && st.n_tensors == (int)a.g.n_tensors);
        gclose(&b);
        gclose(&a);
    }
    int va, vb;
    float *la = logits_of(src, tok, n_tok, &va), *lb = logits_of(out, tok, n_tok, &vb);
    if (la && lb && va == vb) {
        err = rel_rms(lb, la, (size_t)n_tok * (size_t)va);
        printf("%-10s %-7s logits vs F32: relative RMS error %.2e (bound %.1e)", tag,
               herd_ftype_name(e->f), err, bound(e->f));
        if (golden)
            printf(", vs golden %.2e", rel_rms(lb, golden, (size_t)n_tok * (size_t)va));
        printf("\n");
        CHECK_MSG(err <= bound(e->f), "%s: logits error %.3g > %.3g", out, err, bound(e->f));
        if (golden)
            CHECK(rel_rms(lb, golden, (size_t)n_tok * (size_t)va) <= bound(e->f) + 1e-4);
    }
    free(la);
    free(lb);
    return err;
}

/* ---- the golden fixtures ---- */

static int load_golden(const char *name, int *tok, int *n, float **logits)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/models/%s/meta.json", test_source(), name);
    char *js;
    size_t len;
    *n = 0;
    *logits = NULL;
    if (herd_read_file(path, &js, &len) != HERD_OK)
        return 0;
    cJSON *meta = cJSON_Parse(js), *t;
    free(js);
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(meta, "tokens"))
        if (*n < MAX_TOKENS)
            tok[(*n)++] = t->valueint;
    cJSON_Delete(meta);
    snprintf(path, sizeof path, "%s/tests/fixtures/models/%s/logits.f32", test_source(), name);
    if (herd_read_file(path, &js, &len) != HERD_OK)
        return 0;
    *logits = (float *)js;
    return *n > 0;
}

static void test_fixtures(void)
{
    int tok[MAX_TOKENS], n;
    float *golden;
    CHECK(load_golden("gqa", tok, &n, &golden));
    char src[1024];
    snprintf(src, sizeof src, "%s/tests/fixtures/models/gqa/model.gguf", test_source());
    for (size_t i = 0; i < sizeof gqa / sizeof *gqa; i++)
        quantize_and_check(src, "gqa", &gqa[i], tok, n, golden);
    free(golden);

    /* llama31 keeps its rope_freqs vector (checked as a vector) */
    CHECK(load_golden("llama31", tok, &n, &golden));
    snprintf(src, sizeof src, "%s/tests/fixtures/models/llama31/model.gguf", test_source());
    static const expect l31 = {HERD_FTYPE_MOSTLY_Q8_0, Q80, Q80, Q80, {Q80, Q80, Q80},
                               {Q80, Q80, Q80}, 0}; /* hidden 160: a multiple of 32 */
    quantize_and_check(src, "llama31", &l31, tok, n, golden);
    free(golden);
}

static void test_synthetic(void)
{
    char src[128], src_tied[128];
    snprintf(src, sizeof src, "%s/syn.gguf", dir);
    snprintf(src_tied, sizeof src_tied, "%s/syn-tied.gguf", dir);
    write_synthetic(src, 0);
    write_synthetic(src_tied, 1);
    int tok[24];
    uint32_t x = 1;
    for (int i = 0; i < 24; i++) {
        x = x * 75 + 74;
        tok[i] = i == 0 ? 1 : (int)(x % 65537 % 512);
    }
    double err[sizeof syn / sizeof *syn];
    for (size_t i = 0; i < sizeof syn / sizeof *syn; i++)
        err[i] = quantize_and_check(src, "syn", &syn[i], tok, 24, NULL);
    /* F32 < F16 < BF16 < Q8_0 < Q6_K < Q4_K_M < Q4_0 */
    static const int order[] = {6, 4, 5, 0, 2, 3, 1};
    for (int i = 0; i + 1 < 7; i++)
        CHECK_MSG(err[order[i]] >= 0 && err[order[i]] < err[order[i + 1]], "%s before %s",
                  herd_ftype_name(syn[order[i]].f), herd_ftype_name(syn[order[i + 1]].f));
    for (size_t i = 0; i < sizeof syn_tied / sizeof *syn_tied; i++)
        quantize_and_check(src_tied, "syn-tied", &syn_tied[i], tok, 24, NULL);

    /* the tokenizer and chat template open from the quantized file */
    char out[160];
    snprintf(out, sizeof out, "%s/syn-Q4_K_M.gguf", dir);
    herd_model *m;
    CHECK_OK(herd_model_open(out, &m));
    if (m) {
        CHECK(herd_tokenizer_n_vocab(herd_model_tokenizer(m)) == 512);
        CHECK(herd_token_id(herd_model_tokenizer(m), "\xe2\x96\x81w300") == 300);
        CHECK(herd_model_chat_template(m) && strstr(herd_model_chat_template(m), "message"));
        herd_model_free(m);
    }
}

/* ---- threads, requantizing ---- */

static int same_file(const char *a, const char *b)
{
    char *x, *y;
    size_t n, m;
    if (herd_read_file(a, &x, &n) != HERD_OK)
        return 0;
    if (herd_read_file(b, &y, &m) != HERD_OK) {
        free(x);
        return 0;
    }
    int same = n == m && !memcmp(x, y, n);
    free(x);
    free(y);
    return same;
}

static void test_threads(void)
{
    char src[128], a[128], b[128];
    snprintf(src, sizeof src, "%s/syn.gguf", dir);
    snprintf(a, sizeof a, "%s/t1.gguf", dir);
    snprintf(b, sizeof b, "%s/t2.gguf", dir);
    herd_quantize_opts o = {.ftype = HERD_FTYPE_MOSTLY_Q4_K_M};
    herd_set_threads(1);
    CHECK_OK(herd_quantize_gguf(src, a, &o, NULL));
    herd_set_threads(2);
    CHECK_OK(herd_quantize_gguf(src, b, &o, NULL));
    herd_set_threads(1);
    CHECK(same_file(a, b));
    unlink(a);
    unlink(b);
}

/* Q8_0 -> Q4_K_M: Q8_0 matrices dequantized and quantized again; Q8_0 ->
 * Q8_0: copied as they are. */
static void test_requantize(void)
{
    char q8[128], out[128], again[128];
    snprintf(q8, sizeof q8, "%s/syn-Q8_0.gguf", dir);
    snprintf(out, sizeof out, "%s/re-Q4_K_M.gguf", dir);
    snprintf(again, sizeof again, "%s/re-Q8_0.gguf", dir);
    herd_quantize_opts o = {.ftype = HERD_FTYPE_MOSTLY_Q4_K_M, .warn = on_warn};
    herd_quantize_stats st;
    n_warn = 0;
    CHECK_OK(herd_quantize_gguf(q8, out, &o, &st));
    CHECK(st.n_requantized == 16 && n_warn == 1 && strstr(last_warn, "quantized"));
    gfile a, b;
    if (gopen(q8, &a) && gopen(out, &b)) {
        const herd_gguf_tensor *s = herd_gguf_find_tensor(&a.g, "blk.1.attn_q.weight");
        const herd_gguf_tensor *t = herd_gguf_find_tensor(&b.g, "blk.1.attn_q.weight");
        CHECK(s && t && s->type == Q80 && t->type == Q4K);
        if (s && t && t->type == Q4K) {
            float *f = malloc(256 * 256 * sizeof *f);
            uint8_t *q = malloc(t->nbytes);
            herd_dequantize_q8_0(s->data, f, 256 * 256);
            herd_quantize_q4_K(f, q, 256 * 256);
            CHECK(!memcmp(q, t->data, t->nbytes));
            free(f);
            free(q);
        }
        gclose(&b);
        gclose(&a);
    }
    o.ftype = HERD_FTYPE_MOSTLY_Q8_0;
    CHECK_OK(herd_quantize_gguf(q8, again, &o, &st));
    CHECK(st.n_requantized == 0);
    if (gopen(q8, &a) && gopen(again, &b)) {
        CHECK(a.g.n_tensors == b.g.n_tensors);
        for (uint64_t i = 0; i < a.g.n_tensors && i < b.g.n_tensors; i++)
            CHECK(a.g.tensors[i].nbytes == b.g.tensors[i].nbytes &&
                  !memcmp(a.g.tensors[i].data, b.g.tensors[i].data, a.g.tensors[i].nbytes));
        gclose(&b);
        gclose(&a);
    }
}

/* ---- refusals ---- */

static int leftovers(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += strstr(e->d_name, ".tmp") != NULL;
    if (d)
        closedir(d);
    return n;
}

static void test_errors(void)
{
    char src[128], out[128], txt[128], missing[160];
    snprintf(src, sizeof src, "%s/syn.gguf", dir);
    snprintf(out, sizeof out, "%s/exists.gguf", dir);
    snprintf(txt, sizeof txt, "%s/notes.txt", dir);
    snprintf(missing, sizeof missing, "%s/none/out.gguf", dir);
    herd_quantize_opts o = {.ftype = HERD_FTYPE_MOSTLY_Q8_0};
    FILE *f = fopen(out, "w");
    fputs("keep", f);
    fclose(f);
    f = fopen(txt, "w");
    fputs("not a model", f);
    fclose(f);
    CHECK_FAILS(herd_quantize_gguf(src, out, &o, NULL), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "already exists"));
    char *d;
    size_t n;
    CHECK(herd_read_file(out, &d, &n) == HERD_OK && n == 4 && !memcmp(d, "keep", 4));
    free(d);
    CHECK_FAILS(herd_quantize_gguf(txt, missing, &o, NULL), HERD_E_FORMAT);
    CHECK(strstr(herd_last_error(), "not a GGUF"));
    char nope[128];
    snprintf(nope, sizeof nope, "%s/nope.gguf", dir);
    CHECK_FAILS(herd_quantize_gguf(nope, missing, &o, NULL), HERD_E_IO);
    CHECK_FAILS(herd_quantize_gguf(src, missing, &o, NULL), HERD_E_IO);
    CHECK_FAILS(herd_quantize_gguf(dir, missing, &o, NULL), HERD_E_FORMAT);
    o.force = 1;
    CHECK_FAILS(herd_quantize_gguf(src, src, &o, NULL), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "same file"));
    CHECK_FAILS(herd_quantize_gguf(src, dir, &o, NULL), HERD_E_ARG);
    o.ftype = (herd_ftype)3;
    CHECK_FAILS(herd_quantize_gguf(src, out, &o, NULL), HERD_E_ARG);
    o.ftype = HERD_FTYPE_MOSTLY_Q8_0;
    CHECK_OK(herd_quantize_gguf(src, out, &o, NULL));
    CHECK(herd_read_file(out, &d, &n) == HERD_OK && n > 4 && !memcmp(d, "GGUF", 4));
    free(d);
    CHECK(leftovers() == 0);
}

static void remove_all(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[400];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/herd-quantize-XXXXXX");
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary folder");
    /* One thread but where two are the point (test_threads): many small
     * forward passes on a busy 2-core machine crawl with spinning threads. */
    herd_set_threads(1);
    test_fixtures();
    test_synthetic();
    test_threads();
    test_requantize();
    test_errors();
    remove_all();
    TEST_END();
}

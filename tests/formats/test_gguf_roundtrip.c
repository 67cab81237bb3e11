/* herd_save_gguf then herd_load_gguf: the same config, tensors and
 * tokenizer; F16 storage; q/k rows permuted from the HF layout as the
 * permutation's definition says; an atomic write; truncated copies of a
 * saved file never load; the row permutation against its definition. */
#include "test.h"
#include "formats/gguf.h"
#include "base/error.h"
#include "base/half.h"
#include "tokenizer/tokenizer.h"
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static float rnd(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return ((float)(*s >> 8) / 16777216.0f - 0.5f) * 0.2f;
}

/* A tensor of random values stored as type (F32, F16 or BF16). */
static void fill(herd_model *m, herd_tensor *t, int64_t rows, int64_t cols, herd_type type,
                 uint32_t *seed)
{
    size_t n = (size_t)(rows * cols);
    void *d = herd_owned_alloc(&m->owned, n * herd_type_size(type));
    for (size_t i = 0; i < n; i++) {
        float f = rnd(seed);
        if (type == HERD_TYPE_F32)
            ((float *)d)[i] = f;
        else if (type == HERD_TYPE_F16)
            ((uint16_t *)d)[i] = herd_f32_to_f16(f);
        else
            ((uint16_t *)d)[i] = herd_f32_to_bf16(f);
    }
    *t = (herd_tensor){.data = d, .type = type, .rows = rows, .cols = cols};
}

static const char *pieces[] = {"<unk>", "<s>", "</s>", "<0x00>", "<0x0A>", "<0xFF>",
                               "\xe2\x96\x81", "a", "b", "\xe2\x96\x81" "a", "ab", "\xe2\x96\x81" "ab"};
#define NV 12

static void build(herd_model *m, int tied, herd_rope_layout layout)
{
    memset(m, 0, sizeof *m);
    herd_config *c = &m->cfg;
    herd_config_defaults(c);
    *c = (herd_config){.dim = 16, .hidden_dim = 40, .n_layers = 2, .n_heads = 4,
                       .n_kv_heads = 2, .vocab_size = NV, .seq_len = 96, .norm_eps = 1e-6f,
                       .rope_theta = 500000.0f, .tied_embeddings = tied, .rope_layout = layout};
    uint32_t seed = 42;
    CHECK_OK(herd_model_alloc_layers(m));
    fill(m, &m->w.tok_embeddings, NV, 16, HERD_TYPE_F32, &seed);
    fill(m, &m->w.output_norm, 1, 16, HERD_TYPE_BF16, &seed);
    if (!tied)
        fill(m, &m->w.output, NV, 16, HERD_TYPE_F16, &seed);
    for (int l = 0; l < 2; l++) {
        herd_layer_weights *w = &m->w.layers[l];
        fill(m, &w->attn_norm, 1, 16, HERD_TYPE_F32, &seed);
        fill(m, &w->wq, 16, 16, HERD_TYPE_F32, &seed);
        fill(m, &w->wk, 8, 16, HERD_TYPE_F16, &seed);
        fill(m, &w->wv, 8, 16, HERD_TYPE_BF16, &seed);
        fill(m, &w->wo, 16, 16, HERD_TYPE_F32, &seed);
        fill(m, &w->ffn_norm, 1, 16, HERD_TYPE_F32, &seed);
        fill(m, &w->w1, 40, 16, HERD_TYPE_F32, &seed);
        fill(m, &w->w2, 16, 40, HERD_TYPE_F16, &seed);
        fill(m, &w->w3, 40, 16, HERD_TYPE_F32, &seed);
    }
    size_t lens[NV];
    float scores[NV];
    int types[NV] = {2, 3, 3, 6, 6, 6, 1, 1, 1, 1, 1, 1};
    for (int i = 0; i < NV; i++) {
        lens[i] = strlen(pieces[i]);
        scores[i] = i < 6 ? 0.0f : -0.5f * (float)i;
    }
    CHECK_OK(herd_spm_from_vocab(NV, pieces, lens, scores, types, 1, 2, 0, 0, &m->tok));
}

static void free_model(herd_model *m)
{
    herd_tokenizer_free(m->tok);
    herd_owned_free(&m->owned);
}

static float elem(const herd_tensor *t, int64_t i)
{
    if (t->type == HERD_TYPE_F32)
        return ((const float *)t->data)[i];
    uint16_t h = ((const uint16_t *)t->data)[i];
    return t->type == HERD_TYPE_F16 ? herd_f16_to_f32(h) : herd_bf16_to_f32(h);
}

/* What storing a value as type gives back. */
static float stored(float f, herd_type type)
{
    if (type == HERD_TYPE_F16)
        return herd_f16_to_f32(herd_f32_to_f16(f));
    if (type == HERD_TYPE_BF16)
        return herd_bf16_to_f32(herd_f32_to_bf16(f));
    return f;
}

/* b (loaded) holds a's values stored as type, rows taken from a through
 * the HF -> Meta definition when hd > 0: meta[2i + j] = hf[i + j * hd/2]. */
static int same_tensor(const herd_tensor *a, const herd_tensor *b, herd_type type, int64_t hd)
{
    if (a->rows != b->rows || a->cols != b->cols || b->type != type)
        return 0;
    for (int64_t r = 0; r < a->rows; r++) {
        int64_t src = r;
        if (hd) {
            int64_t h = r / hd, i = (r % hd) / 2, j = r % 2;
            src = h * hd + i + j * (hd / 2);
        }
        for (int64_t c = 0; c < a->cols; c++)
            if (elem(b, r * b->cols + c) != stored(elem(a, src * a->cols + c), type))
                return 0;
    }
    return 1;
}

static int same_tokenizer(const herd_tokenizer *a, const herd_tokenizer *b)
{
    if (!a || !b || herd_tokenizer_n_vocab(a) != herd_tokenizer_n_vocab(b) ||
        herd_tokenizer_bos(a) != herd_tokenizer_bos(b) ||
        herd_tokenizer_eos(a) != herd_tokenizer_eos(b) ||
        herd_tokenizer_unk(a) != herd_tokenizer_unk(b) ||
        herd_tokenizer_add_dummy_prefix(a) != herd_tokenizer_add_dummy_prefix(b))
        return 0;
    for (int i = 0; i < herd_tokenizer_n_vocab(a); i++)
        if (strcmp(herd_token_piece(a, i), herd_token_piece(b, i)) != 0 ||
            herd_token_score(a, i) != herd_token_score(b, i) ||
            herd_token_type(a, i) != herd_token_type(b, i))
            return 0;
    return 1;
}

static void check_same(const herd_model *a, const herd_model *b, herd_type type)
{
    const herd_config *x = &a->cfg, *y = &b->cfg;
    CHECK(x->dim == y->dim && x->hidden_dim == y->hidden_dim && x->n_layers == y->n_layers &&
          x->n_heads == y->n_heads && x->n_kv_heads == y->n_kv_heads &&
          x->vocab_size == y->vocab_size && x->seq_len == y->seq_len &&
          x->norm_eps == y->norm_eps && x->rope_theta == y->rope_theta &&
          x->tied_embeddings == y->tied_embeddings);
    CHECK(y->rope_layout == HERD_ROPE_META);
    int64_t hd = x->rope_layout == HERD_ROPE_HF ? x->dim / x->n_heads : 0;
    CHECK(same_tensor(&a->w.tok_embeddings, &b->w.tok_embeddings, type, 0));
    CHECK(same_tensor(&a->w.output_norm, &b->w.output_norm, HERD_TYPE_F32, 0));
    if (x->tied_embeddings)
        CHECK(b->w.output.data == NULL);
    else
        CHECK(same_tensor(&a->w.output, &b->w.output, type, 0));
    for (int l = 0; l < x->n_layers; l++) {
        const herd_layer_weights *p = &a->w.layers[l], *q = &b->w.layers[l];
        CHECK(same_tensor(&p->attn_norm, &q->attn_norm, HERD_TYPE_F32, 0));
        CHECK(same_tensor(&p->ffn_norm, &q->ffn_norm, HERD_TYPE_F32, 0));
        CHECK(same_tensor(&p->wq, &q->wq, type, hd));
        CHECK(same_tensor(&p->wk, &q->wk, type, hd));
        CHECK(same_tensor(&p->wv, &q->wv, type, 0));
        CHECK(same_tensor(&p->wo, &q->wo, type, 0));
        CHECK(same_tensor(&p->w1, &q->w1, type, 0));
        CHECK(same_tensor(&p->w2, &q->w2, type, 0));
        CHECK(same_tensor(&p->w3, &q->w3, type, 0));
    }
    CHECK(same_tokenizer(a->tok, b->tok));
}

static void roundtrip(int tied, herd_rope_layout layout, herd_type type)
{
    char path[128], tmp[140];
    snprintf(path, sizeof path, "%s/m.gguf", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    herd_model a, b;
    build(&a, tied, layout);
    CHECK_OK(herd_save_gguf(&a, path, type));
    CHECK(access(tmp, F_OK) != 0);
    memset(&b, 0, sizeof b);
    CHECK_OK(herd_load_gguf(path, &b));
    check_same(&a, &b, type);
    free_model(&b);
    free_model(&a);
    unlink(path);
}

static void test_failed_writes(void)
{
    herd_model a;
    build(&a, 0, HERD_ROPE_META);
    char path[128];
    snprintf(path, sizeof path, "%s/none/m.gguf", dir);
    CHECK_FAILS(herd_save_gguf(&a, path, HERD_TYPE_F32), HERD_E_IO);
    snprintf(path, sizeof path, "%s/bad.gguf", dir);
    CHECK_FAILS(herd_save_gguf(&a, path, (herd_type)8), HERD_E_ARG);
    a.w.layers[1].w2.data = NULL;
    CHECK_FAILS(herd_save_gguf(&a, path, HERD_TYPE_F32), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "blk.1.ffn_down.weight"));
    CHECK(access(path, F_OK) != 0);
    free_model(&a);
}

/* Truncated copies of a saved file: an error each time, never a crash. */
static void test_truncated_loads(void)
{
    char path[128], cut[140];
    snprintf(path, sizeof path, "%s/full.gguf", dir);
    snprintf(cut, sizeof cut, "%s/cut.gguf", dir);
    herd_model a, b;
    build(&a, 0, HERD_ROPE_META);
    CHECK_OK(herd_save_gguf(&a, path, HERD_TYPE_F16));
    free_model(&a);
    char *data;
    size_t size;
    CHECK_OK(herd_read_file(path, &data, &size));
    int bad = 0, tried = 0;
    for (size_t n = 0; n < size; n += n < 1024 ? 1 : 13) {
        FILE *f = fopen(cut, "wb");
        fwrite(data, 1, n, f);
        fclose(f);
        memset(&b, 0, sizeof b);
        if (herd_load_gguf(cut, &b) == HERD_OK)
            bad++;
        free_model(&b);
        tried++;
    }
    CHECK_MSG(bad == 0, "%d of %d truncated files loaded", bad, tried);
    free(data);
    unlink(cut);
    unlink(path);
}

static void test_permutation(void)
{
    int64_t hds[] = {2, 4, 8, 64, 128};
    for (int k = 0; k < 5; k++) {
        int64_t hd = hds[k], rows = 3 * hd;
        int ok_def = 1, ok_inv = 1;
        for (int64_t h = 0; h < 3; h++)
            for (int64_t i = 0; i < hd / 2; i++)
                for (int64_t j = 0; j < 2; j++) {
                    int64_t meta = h * hd + 2 * i + j, hf = h * hd + i + j * (hd / 2);
                    ok_def &= herd_rope_row_hf_to_meta(meta, hd) == hf;
                    ok_def &= herd_rope_row_meta_to_hf(hf, hd) == meta;
                }
        for (int64_t r = 0; r < rows; r++) {
            ok_inv &= herd_rope_row_meta_to_hf(herd_rope_row_hf_to_meta(r, hd), hd) == r;
            ok_inv &= herd_rope_row_hf_to_meta(herd_rope_row_meta_to_hf(r, hd), hd) == r;
        }
        CHECK_MSG(ok_def && ok_inv, "head_dim %lld", (long long)hd);
    }
    /* head_dim 4, one head: Meta rows [0 1 2 3] come from HF rows [0 2 1 3]. */
    CHECK(herd_rope_row_hf_to_meta(1, 4) == 2 && herd_rope_row_hf_to_meta(2, 4) == 1);
}

/* The model the build ships (tools/mkrandom.c), when the build made it. */
static void test_shipped_model(void)
{
    const char *bin = getenv("HERD_BIN");
    char path[512];
    snprintf(path, sizeof path, "%s/models/herd-random.gguf", bin ? bin : ".");
    struct stat st;
    if (stat(path, &st) != 0) {
        printf("note: %s not found, not checked\n", path);
        return;
    }
    CHECK(st.st_size < 4 * 1024 * 1024);
    herd_model m;
    memset(&m, 0, sizeof m);
    CHECK_OK(herd_load_gguf(path, &m));
    const herd_config *c = &m.cfg;
    CHECK(c->dim == 128 && c->hidden_dim == 384 && c->n_layers == 4 && c->n_heads == 8 &&
          c->n_kv_heads == 4 && c->seq_len == 512 && !c->tied_embeddings);
    CHECK(m.tok && herd_tokenizer_n_vocab(m.tok) == c->vocab_size);
    if (m.tok) {
        int found_a = 0;
        for (int i = 0; i < c->vocab_size; i++)
            found_a |= strcmp(herd_token_piece(m.tok, i), "\xe2\x96\x81" "a") == 0;
        CHECK(found_a);
        CHECK(strcmp(herd_token_piece(m.tok, 3 + 0x41), "<0x41>") == 0);
        CHECK(herd_token_type(m.tok, 3 + 0x41) == HERD_PIECE_BYTE);
        CHECK(herd_tokenizer_bos(m.tok) == 1 && herd_tokenizer_eos(m.tok) == 2);
    }
    const float *w = m.w.layers[2].w1.data;
    double sum = 0, sq = 0;
    int64_t n = m.w.layers[2].w1.rows * m.w.layers[2].w1.cols;
    for (int64_t i = 0; w && i < n; i++) {
        sum += w[i];
        sq += (double)w[i] * w[i];
    }
    CHECK(w && fabs(sum / (double)n) < 0.002 && fabs(sqrt(sq / (double)n) - 0.02) < 0.002);
    CHECK(((const float *)m.w.layers[0].ffn_norm.data)[5] == 1.0f);
    free_model(&m);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/herd-gguf-rt-XXXXXX");
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary folder");
    test_permutation();
    roundtrip(0, HERD_ROPE_META, HERD_TYPE_F32);
    roundtrip(1, HERD_ROPE_META, HERD_TYPE_F32);
    roundtrip(0, HERD_ROPE_META, HERD_TYPE_F16);
    roundtrip(0, HERD_ROPE_HF, HERD_TYPE_F32);
    roundtrip(1, HERD_ROPE_HF, HERD_TYPE_F16);
    roundtrip(0, HERD_ROPE_META, HERD_TYPE_BF16);
    test_failed_writes();
    test_truncated_loads();
    test_shipped_model();
    rmdir(dir);
    TEST_END();
}

/* Against an independent writer and reader: GGUF files made by
 * ../shared/bench/gguf_write.py (numpy + sentencepiece) load with the right
 * config, shapes, values and tokenizer; a model herd loaded from one and
 * saved again reads back right in tests/formats/gguf_ref.py's own reader;
 * the q/k row permutation agrees with gguf_write.py's numpy one. Skips when
 * /usr/bin/python3 or the shared folder is missing. */
#include "test.h"
#include "formats/gguf.h"
#include "base/error.h"
#include "base/half.h"
#include "tokenizer/tokenizer.h"
#include <stdarg.h>
#include <stdint.h>
#include <unistd.h>

#define PY "/usr/bin/python3"
static char dir[64], writer[512], ref[512], spm[512];

/* dim 32, hidden 48, 2 layers, 4 heads, 2 kv heads, vocab 32000, ctx 64. */
#define SHAPE "--dim 32 --hidden-dim 48 --n-layers 2 --n-heads 4 --n-kv-heads 2 " \
              "--vocab 32000 --ctx 64"

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

static float elem(const herd_tensor *t, int64_t i)
{
    if (t->type == HERD_TYPE_F32)
        return ((const float *)t->data)[i];
    uint16_t h = ((const uint16_t *)t->data)[i];
    return t->type == HERD_TYPE_F16 ? herd_f16_to_f32(h) : herd_bf16_to_f32(h);
}

static const char *names[] = {"token_embd.weight", "output.weight", "output_norm.weight",
                              "blk.1.attn_k.weight", "blk.0.ffn_down.weight",
                              "blk.1.attn_norm.weight"};

static const herd_tensor *by_name(const herd_model *m, const char *n)
{
    if (!strcmp(n, "token_embd.weight")) return &m->w.tok_embeddings;
    if (!strcmp(n, "output.weight")) return &m->w.output;
    if (!strcmp(n, "output_norm.weight")) return &m->w.output_norm;
    if (!strcmp(n, "blk.1.attn_k.weight")) return &m->w.layers[1].wk;
    if (!strcmp(n, "blk.0.ffn_down.weight")) return &m->w.layers[0].w2;
    return &m->w.layers[1].attn_norm;
}

/* The loaded tensor equals the values the python side regenerated. */
static void check_values(const herd_model *m, const char *name, herd_type want_type)
{
    const herd_tensor *t = by_name(m, name);
    char path[256];
    snprintf(path, sizeof path, "%s/%s.f32", dir, name);
    char *data;
    size_t size;
    CHECK_OK(herd_read_file(path, &data, &size));
    CHECK_MSG(t->data && t->type == want_type && size == (size_t)(t->rows * t->cols) * 4,
              "%s: type %d, %lld x %lld", name, (int)t->type, (long long)t->rows,
              (long long)t->cols);
    if (t->data && size == (size_t)(t->rows * t->cols) * 4) {
        int64_t bad = 0;
        for (int64_t i = 0; i < t->rows * t->cols; i++) {
            float want;
            memcpy(&want, data + 4 * i, 4);
            bad += elem(t, i) != want;
        }
        CHECK_MSG(bad == 0, "%s: %lld values differ", name, (long long)bad);
    }
    free(data);
}

static void write_shapes(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/shapes.txt", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "token_embd.weight 32000 32\noutput.weight 32000 32\n"
               "output_norm.weight 1 32\nblk.1.attn_k.weight 16 32\n"
               "blk.0.ffn_down.weight 32 48\nblk.1.attn_norm.weight 1 32\n");
    fclose(f);
}

static void check_tokenizer(const herd_tokenizer *t)
{
    char path[256];
    snprintf(path, sizeof path, "%s/tok.txt", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f || !t)
        return;
    int n, bos, eos, unk;
    CHECK(fscanf(f, "%d %d %d %d", &n, &bos, &eos, &unk) == 4);
    CHECK(herd_tokenizer_n_vocab(t) == n && herd_tokenizer_bos(t) == bos &&
          herd_tokenizer_eos(t) == eos && herd_tokenizer_unk(t) == unk);
    CHECK(herd_tokenizer_add_dummy_prefix(t) == 1);
    int id, type;
    float score;
    char hex[512];
    while (fscanf(f, "%d %f %d %511s", &id, &score, &type, hex) == 4) {
        char piece[256];
        size_t len = strlen(hex) / 2;
        for (size_t i = 0; i < len; i++)
            sscanf(hex + 2 * i, "%2hhx", (unsigned char *)&piece[i]);
        piece[len] = 0;
        const char *p = herd_token_piece(t, id);
        CHECK_MSG(p && strcmp(p, piece) == 0, "piece %d: %s, want %s", id, p ? p : "NULL",
                  piece);
        CHECK_MSG(herd_token_score(t, id) == score && (int)herd_token_type(t, id) == type,
                  "token %d: score %g type %d, want %g %d", id,
                  (double)herd_token_score(t, id), (int)herd_token_type(t, id),
                  (double)score, type);
    }
    fclose(f);
}

static void check_permutation(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/perm.txt", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    int ok = 1;
    for (int line = 0; line < 2; line++)
        for (int r = 0; r < 24; r++) {
            long v;
            ok &= fscanf(f, "%ld", &v) == 1;
            ok &= (line ? herd_rope_row_meta_to_hf(r, 8) : herd_rope_row_hf_to_meta(r, 8)) == v;
        }
    CHECK_MSG(ok, "the row permutation differs from gguf_write.py's");
    fclose(f);
}

static void free_model(herd_model *m)
{
    herd_tokenizer_free(m->tok);
    herd_owned_free(&m->owned);
}

static void check_config(const herd_config *c, int tied)
{
    CHECK(c->dim == 32 && c->hidden_dim == 48 && c->n_layers == 2 && c->n_heads == 4 &&
          c->n_kv_heads == 2 && c->vocab_size == 32000 && c->seq_len == 64);
    CHECK(c->norm_eps == 1e-6f && c->rope_theta == 500000.0f);
    CHECK(c->tied_embeddings == tied && c->rope_layout == HERD_ROPE_META);
}

/* An F16 untied file: config, shapes, values, tokenizer. */
static void test_f16(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/f16.gguf", dir);
    if (sh("%s %s random " SHAPE " --type f16 --seed 7 --rope-theta 500000 --norm-eps 1e-6 "
           "--tokenizer %s --quiet --out %s > /dev/null", PY, writer, spm, path) ||
        sh("%s %s dump %s 7 0.02 f16 %s %s %s %s %s %s %s", PY, ref, dir, spm, names[0],
           names[1], names[2], names[3], names[4], names[5])) {
        CHECK(0);
        return;
    }
    herd_model m;
    memset(&m, 0, sizeof m);
    CHECK_OK(herd_load_gguf(path, &m));
    check_config(&m.cfg, 0);
    for (int i = 0; i < 6; i++)
        check_values(&m, names[i], i == 2 || i == 5 ? HERD_TYPE_F32 : HERD_TYPE_F16);
    const herd_layer_weights *l = &m.w.layers[1];
    CHECK(l->wq.rows == 32 && l->wq.cols == 32 && l->wv.rows == 16 && l->wo.cols == 32 &&
          l->w1.rows == 48 && l->w1.cols == 32 && l->w3.rows == 48);
    CHECK(m.tok != NULL);
    check_tokenizer(m.tok);
    free_model(&m);
    check_permutation();
}

/* An F32 tied file loads, and herd's own save of it reads right in the
 * reference reader. */
static void test_f32_tied_resave(void)
{
    char path[256], out[256];
    snprintf(path, sizeof path, "%s/f32.gguf", dir);
    snprintf(out, sizeof out, "%s/herd.gguf", dir);
    if (sh("%s %s random " SHAPE " --type f32 --tied --seed 11 --rope-theta 500000 "
           "--norm-eps 1e-6 --tokenizer %s --quiet --out %s > /dev/null", PY, writer, spm,
           path) ||
        sh("%s %s dump %s 11 0.02 f32 %s %s %s", PY, ref, dir, spm, names[0], names[3])) {
        CHECK(0);
        return;
    }
    herd_model m;
    memset(&m, 0, sizeof m);
    CHECK_OK(herd_load_gguf(path, &m));
    check_config(&m.cfg, 1);
    CHECK(m.w.output.data == NULL);
    check_values(&m, names[0], HERD_TYPE_F32);
    check_values(&m, names[3], HERD_TYPE_F32);
    CHECK_OK(herd_save_gguf(&m, out, HERD_TYPE_F32));
    free_model(&m);
    CHECK(sh("%s %s check %s 11 0.02 %s 32 48 2 4 2 64 | grep -qx OK", PY, ref, out, spm) == 0);
}

int main(void)
{
    const char *shared = test_shared();
    snprintf(writer, sizeof writer, "%s/bench/gguf_write.py", shared);
    snprintf(spm, sizeof spm, "%s/tokenizers/llama2/tokenizer.model", shared);
    snprintf(ref, sizeof ref, "%s/tests/formats/gguf_ref.py", test_source());
    if (access(PY, X_OK) != 0)
        TEST_SKIP("%s is missing", PY);
    if (access(writer, R_OK) != 0 || access(spm, R_OK) != 0)
        TEST_SKIP("the shared folder (%s) lacks bench/gguf_write.py or the llama2 tokenizer",
                  shared);
    if (access(ref, R_OK) != 0)
        TEST_SKIP("%s is missing (set HERD_SOURCE)", ref);
    if (sh("%s -c 'import numpy, sentencepiece'", PY) != 0)
        TEST_SKIP("%s lacks numpy or sentencepiece", PY);
    snprintf(dir, sizeof dir, "/tmp/herd-gguf-py-XXXXXX");
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary folder");
    setenv("HERD_SHARED", shared, 1);
    write_shapes();
    test_f16();
    test_f32_tied_resave();
    sh("rm -rf '%s'", dir);
    TEST_END();
}

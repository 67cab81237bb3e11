/* herd_load_llama2c: a llama2.c checkpoint (.bin) into a herd_model.
 *
 * Two layouts exist, both float32 and little-endian:
 *  - legacy (version 0, what llama2.c's run.c reads): a header of 7 int32
 *    (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len),
 *    vocab_size negative when the classifier is not shared; then the
 *    embedding, the per-layer tensors grouped by kind, the final norm, two
 *    unused RoPE tables [seq_len][head_dim/2] and, when not shared, the
 *    classifier.
 *  - version 1 (export.py --version 1): a 256-byte header starting with the
 *    magic "ak42" (0x616b3432), version 1, the same 7 int32 and a byte that
 *    says whether the classifier is shared; then the norms first, then the
 *    embedding and the matrices; no RoPE tables.
 * The file stays mapped and the tensors point into it. llama2.c files carry
 * no tokenizer: give one with -z (tokenizer.bin or tokenizer.model). */
#include "model/model.h"
#include "base/error.h"
#include "base/file.h"
#include <string.h>

#define V1_MAGIC 0x616b3432u
#define V1_HEADER 256

typedef struct {
    const float *p;     /* next unread float */
} cursor;

static void take(cursor *c, herd_tensor *t, int64_t rows, int64_t cols)
{
    t->data = c->p;
    t->type = HERD_TYPE_F32;
    t->rows = rows;
    t->cols = cols;
    c->p += rows * cols;
}

/* One kind of tensor for every layer, stored back to back. */
static void take_layers(cursor *c, herd_model *m, size_t field, int64_t rows, int64_t cols)
{
    for (int l = 0; l < m->cfg.n_layers; l++)
        take(c, (herd_tensor *)((char *)&m->w.layers[l] + field), rows, cols);
}

#define LAYER_FIELD(name) offsetof(herd_layer_weights, name)

static void take_matrices(cursor *c, herd_model *m)
{
    const herd_config *k = &m->cfg;
    int64_t hd = k->dim / k->n_heads, q = (int64_t)k->n_heads * hd;
    int64_t kv = (int64_t)k->n_kv_heads * hd;
    take_layers(c, m, LAYER_FIELD(wq), q, k->dim);
    take_layers(c, m, LAYER_FIELD(wk), kv, k->dim);
    take_layers(c, m, LAYER_FIELD(wv), kv, k->dim);
    take_layers(c, m, LAYER_FIELD(wo), k->dim, q);
}

static void take_ffn(cursor *c, herd_model *m)
{
    const herd_config *k = &m->cfg;
    take_layers(c, m, LAYER_FIELD(w1), k->hidden_dim, k->dim);
    take_layers(c, m, LAYER_FIELD(w2), k->dim, k->hidden_dim);
    take_layers(c, m, LAYER_FIELD(w3), k->hidden_dim, k->dim);
}

static void layout_v0(cursor *c, herd_model *m)
{
    const herd_config *k = &m->cfg;
    take(c, &m->w.tok_embeddings, k->vocab_size, k->dim);
    take_layers(c, m, LAYER_FIELD(attn_norm), 1, k->dim);
    take_matrices(c, m);
    take_layers(c, m, LAYER_FIELD(ffn_norm), 1, k->dim);
    take_ffn(c, m);
    take(c, &m->w.output_norm, 1, k->dim);
    c->p += (int64_t)k->seq_len * (k->dim / k->n_heads); /* freq_cis_real, _imag */
    if (!k->tied_embeddings)
        take(c, &m->w.output, k->vocab_size, k->dim);
}

static void layout_v1(cursor *c, herd_model *m)
{
    const herd_config *k = &m->cfg;
    take_layers(c, m, LAYER_FIELD(attn_norm), 1, k->dim);
    take_layers(c, m, LAYER_FIELD(ffn_norm), 1, k->dim);
    take(c, &m->w.output_norm, 1, k->dim);
    take(c, &m->w.tok_embeddings, k->vocab_size, k->dim);
    take_matrices(c, m);
    take_ffn(c, m);
    if (!k->tied_embeddings)
        take(c, &m->w.output, k->vocab_size, k->dim);
}

/* The number of floats a layout holds, in int64 (configs are checked, so
 * this cannot overflow). */
static int64_t n_floats(const herd_config *k, int version)
{
    int64_t hd = k->dim / k->n_heads, kv = (int64_t)k->n_kv_heads * hd;
    int64_t per_layer = 2 * (int64_t)k->dim + 2 * (int64_t)k->dim * k->dim +
                        2 * kv * k->dim + 3 * (int64_t)k->hidden_dim * k->dim;
    int64_t n = (int64_t)k->n_layers * per_layer + k->dim +
                (int64_t)k->vocab_size * k->dim * (k->tied_embeddings ? 1 : 2);
    if (version == 0)
        n += (int64_t)k->seq_len * hd;
    return n;
}

static void read_params(const int32_t *h, herd_config *k)
{
    k->dim = h[0];
    k->hidden_dim = h[1];
    k->n_layers = h[2];
    k->n_heads = h[3];
    k->n_kv_heads = h[4];
    k->vocab_size = h[5] < 0 ? -h[5] : h[5];
    k->seq_len = h[6];
}

static herd_status parse(const char *path, const uint8_t *d, size_t size, herd_model *m)
{
    herd_config *k = &m->cfg;
    uint32_t magic = 0;
    if (size >= 4)
        memcpy(&magic, d, 4);
    int version = magic == V1_MAGIC ? 1 : 0;
    size_t header = version ? V1_HEADER : 7 * sizeof(int32_t);
    if (size < header)
        return herd_fail(HERD_E_FORMAT, "%s: truncated: %zu bytes, shorter than a llama2.c "
                         "header", path, size);
    int32_t h[9];
    memcpy(h, d, version ? sizeof h : 7 * sizeof(int32_t));
    if (version && h[1] != 1)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: llama2.c version %d: herd reads versions "
                         "0 and 1 (float32)", path, (int)h[1]);
    read_params(version ? h + 2 : h, k);
    k->tied_embeddings = version ? d[36] != 0 : h[5] > 0;
    k->rope_layout = HERD_ROPE_META;
    herd_status s = herd_config_check(k);
    if (s != HERD_OK)
        return herd_fail_prefix(s, "%s: not a llama2.c checkpoint, or a corrupted one", path);
    int64_t want = (int64_t)header + n_floats(k, version) * (int64_t)sizeof(float);
    if ((uint64_t)want != size)
        return herd_fail(HERD_E_FORMAT, "%s: %s: %zu bytes, expected %lld for this header",
                         path, (uint64_t)want > size ? "truncated" : "trailing bytes",
                         size, (long long)want);
    HERD_TRY(herd_model_alloc_layers(m));
    cursor c = {(const float *)(d + header)};
    if (version)
        layout_v1(&c, m);
    else
        layout_v0(&c, m);
    return HERD_OK;
}

herd_status herd_load_llama2c(const char *path, herd_model *m)
{
    herd_map map;
    HERD_TRY(herd_map_weights(path, &map));
    const uint8_t *d = map.data;
    size_t size = map.size;
    HERD_TRY(herd_owned_add_map(&m->owned, map));
    return parse(path, d, size, m);
}

/* model.safetensors of a Hugging Face folder, streamed: the header is built
 * from the shapes alone, then each tensor is converted and written a row at
 * a time, so a model of any size needs one row of memory. Layout as the
 * safetensors library writes it: header padded with spaces to a multiple
 * of 8, F32 tensors before 2-byte ones so that every tensor is aligned.
 * q/k rows stored in Meta's order are permuted to the half-split order
 * transformers' rotate_half expects. */
#include "formats/convert.h"
#include "formats/gguf.h"
#include "formats/hf.h"
#include "formats/gguf_buf.h"
#include "base/error.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char name[96];
    const herd_tensor *t;
    herd_type type;        /* as stored */
    int vector;            /* 1-D */
    int64_t rope_hd;       /* > 0: rows Meta -> HF with this head_dim */
    uint64_t begin;        /* offset in the data section */
} st_tensor;

typedef struct {
    st_tensor *v;
    int n;
} st_list;

static void add(st_list *l, const char *name, const herd_tensor *t, herd_type type, int vector,
                int64_t rope_hd)
{
    st_tensor *o = &l->v[l->n++];
    snprintf(o->name, sizeof o->name, "%s", name);
    o->t = t;
    o->type = vector ? HERD_TYPE_F32 : type;
    o->vector = vector;
    o->rope_hd = rope_hd;
}

static void collect(st_list *l, const herd_model *m, herd_type type)
{
    const herd_config *c = &m->cfg;
    int64_t hd = c->rope_layout == HERD_ROPE_META ? c->dim / c->n_heads : 0;
    static const char *const names[9] = {
        "input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
        "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj", "mlp.down_proj",
        "mlp.up_proj"};
    add(l, "model.embed_tokens.weight", &m->w.tok_embeddings, type, 0, 0);
    for (int i = 0; i < c->n_layers; i++) {
        const herd_layer_weights *w = &m->w.layers[i];
        const herd_tensor *ts[9] = {&w->attn_norm, &w->wq, &w->wk, &w->wv, &w->wo,
                                    &w->ffn_norm, &w->w1, &w->w2, &w->w3};
        for (int k = 0; k < 9; k++) {
            char name[96];
            snprintf(name, sizeof name, "model.layers.%d.%s.weight", i, names[k]);
            add(l, name, ts[k], type, k == 0 || k == 5, k == 1 || k == 2 ? hd : 0);
        }
    }
    add(l, "model.norm.weight", &m->w.output_norm, type, 1, 0);
    if (!c->tied_embeddings)
        add(l, "lm_head.weight", &m->w.output, type, 0, 0);
}

static uint64_t n_bytes(const st_tensor *o)
{
    return (uint64_t)o->t->rows * (uint64_t)o->t->cols * herd_type_size(o->type);
}

/* Offsets: F32 tensors first, then the 2-byte ones, each group in order. */
static void place(st_list *l)
{
    uint64_t off = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < l->n; i++)
            if ((herd_type_size(l->v[i].type) == 4) == (pass == 0)) {
                l->v[i].begin = off;
                off += n_bytes(&l->v[i]);
            }
}

static void header(herd_gbuf *b, const st_list *l)
{
    char s[320];
    const char *meta = "{\"__metadata__\":{\"format\":\"pt\"}";
    herd_gbuf_put(b, meta, strlen(meta));
    for (int i = 0; i < l->n; i++) {
        const st_tensor *o = &l->v[i];
        char shape[64];
        if (o->vector)
            snprintf(shape, sizeof shape, "%" PRId64, o->t->cols);
        else
            snprintf(shape, sizeof shape, "%" PRId64 ",%" PRId64, o->t->rows, o->t->cols);
        int k = snprintf(s, sizeof s, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%s],"
                         "\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", o->name,
                         herd_st_dtype_name(o->type), shape, o->begin, o->begin + n_bytes(o));
        herd_gbuf_put(b, s, (size_t)k);
    }
    herd_gbuf_put(b, "}", 1);
    while (b->n % 8)
        herd_gbuf_put(b, " ", 1);
}

static int write_tensor(FILE *f, const st_tensor *o, void *row)
{
    const herd_tensor *t = o->t;
    size_t in_row = (size_t)t->cols * herd_type_size(t->type);
    size_t out_row = (size_t)t->cols * herd_type_size(o->type);
    for (int64_t r = 0; r < t->rows; r++) {
        int64_t src = o->rope_hd ? herd_rope_row_meta_to_hf(r, o->rope_hd) : r;
        herd_convert_row(row, o->type, (const char *)t->data + (size_t)src * in_row, t->type,
                         t->cols);
        if (fwrite(row, 1, out_row, f) != out_row)
            return -1;
    }
    return 0;
}

static int write_data(FILE *f, const st_list *l, herd_progress_fn progress, void *user)
{
    int64_t max_cols = 1;
    for (int i = 0; i < l->n; i++)
        max_cols = l->v[i].t->cols > max_cols ? l->v[i].t->cols : max_cols;
    void *row = malloc((size_t)max_cols * 4);
    int rc = row ? 0 : -1, k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < l->n && rc == 0; i++)
            if ((herd_type_size(l->v[i].type) == 4) == (pass == 0)) {
                if (progress)
                    progress(user, k++, l->n, l->v[i].name);
                rc = write_tensor(f, &l->v[i], row);
            }
    free(row);
    return rc;
}

static herd_status write_st(const char *path, const herd_gbuf *hdr, const st_list *l,
                            herd_progress_fn progress, void *user)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return herd_fail(HERD_E_IO, "%s: %s", path, strerror(errno));
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)((uint64_t)hdr->n >> (8 * i));
    int ok = fwrite(le, 1, 8, f) == 8 && fwrite(hdr->p, 1, hdr->n, f) == hdr->n &&
             write_data(f, l, progress, user) == 0 && fflush(f) == 0 &&
             fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    return ok ? HERD_OK : herd_fail(HERD_E_IO, "%s: write failed: %s", path, strerror(e));
}

static herd_status check(const st_list *l, const char *path)
{
    for (int i = 0; i < l->n; i++) {
        const st_tensor *o = &l->v[i];
        const herd_tensor *t = o->t;
        if (!t->data || !herd_type_size(t->type) || t->rows < 1 || t->cols < 1 ||
            (o->vector && t->rows != 1) || (o->rope_hd && t->rows % o->rope_hd != 0))
            return herd_fail(HERD_E_ARG, "%s: tensor %s is missing or malformed", path,
                             o->name);
    }
    return HERD_OK;
}

herd_status herd_hf_write_weights(const herd_model *m, const char *dir, herd_type type,
                                  herd_progress_fn progress, void *user)
{
    char path[HERD_HF_PATH];
    HERD_TRY(herd_path_join(path, sizeof path, dir, "model.safetensors"));
    st_list l = {calloc((size_t)m->cfg.n_layers * 9 + 3, sizeof(st_tensor)), 0};
    if (!l.v)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", path);
    collect(&l, m, type);
    place(&l);
    herd_gbuf hdr = {0};
    herd_status s = check(&l, path);
    if (s == HERD_OK) {
        header(&hdr, &l);
        s = hdr.oom ? herd_fail(HERD_E_NOMEM, "%s: out of memory", path)
                    : write_st(path, &hdr, &l, progress, user);
    }
    herd_gbuf_free(&hdr);
    free(l.v);
    return s;
}

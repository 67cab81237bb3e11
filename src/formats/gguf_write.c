/* herd_save_gguf: a model as GGUF v3, written to PATH.tmp, synced and
 * renamed over PATH. Llama 3.1's rope scaling goes in as llama.cpp stores
 * it, the rope_freqs.weight divisors (copied when the model came with
 * them, computed from the config otherwise). Each matrix is stored in the
 * type the caller picks (herd_save_gguf_opts: block types too, quantized
 * by rows in parallel with OpenMP); vectors are always F32. */
#include "formats/gguf.h"
#include "formats/gguf_buf.h"
#include "formats/convert.h"
#include "formats/quantize.h"
#include "quant/quant.h"
#include "base/error.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "GGUF tensor data is little-endian; herd writes it from memory as is"
#endif

#define ALIGN HERD_GGUF_DEFAULT_ALIGNMENT

typedef struct {
    char name[48];
    const herd_tensor *t;
    herd_type type;     /* as stored */
    int vector;         /* one dimension */
    int64_t rope_hd;    /* > 0: permute rows HF -> Meta with this head_dim */
} out_tensor;

typedef struct {
    out_tensor *v;
    int n;
    const herd_model *m;
    const herd_gguf_write_opts *o;
    herd_tensor freqs;  /* rope_freqs computed from the config; data owned */
} tensor_list;

/* Values converted per parallel batch of rows (at least one row). */
#define BATCH_VALUES ((int64_t)1 << 20)

static void add(tensor_list *l, const char *name, const herd_tensor *t, int vector,
                int64_t rope_hd)
{
    out_tensor *o = &l->v[l->n++];
    snprintf(o->name, sizeof o->name, "%s", name);
    o->t = t;
    o->vector = vector;
    o->rope_hd = rope_hd;
    if (vector)
        o->type = HERD_TYPE_F32;
    else if (l->o->type_of && t->data)
        o->type = l->o->type_of(l->o->user, o->name, t);
    else
        o->type = l->o->type;
}

/* rope_freqs.weight: the model's, or Llama 3.1's scaling as divisors. */
static herd_status add_rope_freqs(tensor_list *l)
{
    const herd_model *m = l->m;
    const herd_config *c = &m->cfg;
    if (m->w.rope_freqs.data) {
        add(l, "rope_freqs.weight", &m->w.rope_freqs, 1, 0);
        return HERD_OK;
    }
    if (c->rope_scaling != HERD_ROPE_SCALING_LLAMA3)
        return HERD_OK;
    int half = c->dim / c->n_heads / 2;
    float *div = malloc((size_t)half * sizeof *div);
    if (!div)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    herd_llama3_rope_factors(c, div);
    l->freqs = (herd_tensor){.data = div, .type = HERD_TYPE_F32, .rows = 1, .cols = half};
    add(l, "rope_freqs.weight", &l->freqs, 1, 0);
    return HERD_OK;
}

static herd_status collect(tensor_list *l)
{
    const herd_model *m = l->m;
    const herd_config *c = &m->cfg;
    int64_t hd = c->rope_layout == HERD_ROPE_HF ? c->dim / c->n_heads : 0;
    HERD_TRY(add_rope_freqs(l));
    add(l, "token_embd.weight", &m->w.tok_embeddings, 0, 0);
    add(l, "output_norm.weight", &m->w.output_norm, 1, 0);
    if (!c->tied_embeddings)
        add(l, "output.weight", &m->w.output, 0, 0);
    for (int i = 0; i < c->n_layers; i++) {
        const herd_layer_weights *w = &m->w.layers[i];
        const char *names[9] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                "ffn_norm", "ffn_gate", "ffn_down", "ffn_up"};
        const herd_tensor *ts[9] = {&w->attn_norm, &w->wq, &w->wk, &w->wv, &w->wo,
                                    &w->ffn_norm, &w->w1, &w->w2, &w->w3};
        for (int k = 0; k < 9; k++) {
            char name[48];
            snprintf(name, sizeof name, "blk.%d.%s.weight", i, names[k]);
            add(l, name, ts[k], k == 0 || k == 5, k == 1 || k == 2 ? hd : 0);
        }
    }
    return HERD_OK;
}

static herd_status check_tensors(const tensor_list *l, const char *path)
{
    for (int i = 0; i < l->n; i++) {
        const out_tensor *o = &l->v[i];
        const herd_tensor *t = o->t;
        if (!t->data || !herd_row_bytes(t->type, t->cols) || t->rows < 1 || t->cols < 1 ||
            (o->vector && (t->rows != 1 || !herd_type_size(t->type))))
            return herd_fail(HERD_E_ARG, "%s: tensor %s is missing or malformed", path,
                             o->name);
        if (!herd_row_bytes(o->type, t->cols) || (herd_qtype)o->type == HERD_QTYPE_Q8_K)
            return herd_fail(HERD_E_ARG, "%s: tensor %s: rows of %lld values cannot be "
                             "stored as %s", path, o->name, (long long)t->cols,
                             herd_type_name(o->type));
        if (o->rope_hd && (o->rope_hd % 2 != 0 || t->rows % o->rope_hd != 0))
            return herd_fail(HERD_E_ARG, "%s: tensor %s: %lld rows are no whole heads of "
                             "an even head_dim %lld", path, o->name, (long long)t->rows,
                             (long long)o->rope_hd);
    }
    return HERD_OK;
}

static uint64_t stored_bytes(const out_tensor *o)
{
    return (uint64_t)o->t->rows * herd_row_bytes(o->type, o->t->cols);
}

static void put_tensor_infos(herd_gbuf *b, const tensor_list *l)
{
    uint64_t off = 0;
    for (int i = 0; i < l->n; i++) {
        const out_tensor *o = &l->v[i];
        herd_gbuf_str(b, o->name, strlen(o->name));
        herd_gbuf_u32(b, o->vector ? 1 : 2);
        herd_gbuf_u64(b, (uint64_t)o->t->cols);
        if (!o->vector)
            herd_gbuf_u64(b, (uint64_t)o->t->rows);
        herd_gbuf_u32(b, (uint32_t)o->type);
        herd_gbuf_u64(b, off);
        off += (stored_bytes(o) + ALIGN - 1) / ALIGN * ALIGN;
    }
}

/* One row from type st to type dt: copied when the types agree, else
 * converted between float types, else through float32 (tmp, n values). */
static void store_row(void *dst, herd_type dt, const void *src, herd_type st, int64_t n,
                      float *tmp)
{
    if (dt == st) {
        memcpy(dst, src, herd_row_bytes(st, n));
    } else if (herd_type_size(dt) && herd_type_size(st)) {
        herd_convert_row(dst, dt, src, st, n);
    } else {
        herd_qtraits_get((herd_qtype)st)->to_float(src, tmp, n);
        herd_qtraits_get((herd_qtype)dt)->from_float(tmp, dst, n);
    }
}

/* buf and tmp hold max(BATCH_VALUES, cols) values of 4 bytes each. */
static int write_tensor(FILE *f, const out_tensor *o, uint8_t *buf, float *tmp)
{
    const herd_tensor *t = o->t;
    size_t in_row = herd_row_bytes(t->type, t->cols);
    size_t out_row = herd_row_bytes(o->type, t->cols);
    int64_t batch = t->cols < BATCH_VALUES ? BATCH_VALUES / t->cols : 1;
    for (int64_t r0 = 0; r0 < t->rows; r0 += batch) {
        int64_t n = t->rows - r0 < batch ? t->rows - r0 : batch;
        #pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            int64_t r = r0 + i;
            int64_t src = o->rope_hd ? herd_rope_row_hf_to_meta(r, o->rope_hd) : r;
            store_row(buf + (size_t)i * out_row, o->type,
                      (const char *)t->data + (size_t)src * in_row, t->type, t->cols,
                      tmp + (size_t)i * (size_t)t->cols);
        }
        if (fwrite(buf, out_row, (size_t)n, f) != (size_t)n)
            return -1;
    }
    static const char zeros[ALIGN];
    size_t pad = (size_t)((ALIGN - stored_bytes(o) % ALIGN) % ALIGN);
    return fwrite(zeros, 1, pad, f) == pad ? 0 : -1;
}

static void report(const tensor_list *l, int i)
{
    const out_tensor *o = &l->v[i];
    herd_gguf_tensor_report r = {
        i, l->n, o->name, o->t->rows, o->t->cols, o->t->type, o->type,
        (uint64_t)o->t->rows * herd_row_bytes(o->t->type, o->t->cols), stored_bytes(o)};
    l->o->done(l->o->user, &r);
}

static int write_all(FILE *f, const herd_gbuf *hdr, const tensor_list *l)
{
    if (fwrite(hdr->p, 1, hdr->n, f) != hdr->n)
        return -1;
    int64_t max_cols = BATCH_VALUES;
    for (int i = 0; i < l->n; i++) {
        if (l->v[i].t->cols > max_cols)
            max_cols = l->v[i].t->cols;
        herd_qtraits_get((herd_qtype)l->v[i].type); /* set up before the threads */
    }
    uint8_t *buf = malloc((size_t)max_cols * 4);
    float *tmp = malloc((size_t)max_cols * sizeof *tmp);
    int rc = buf && tmp ? 0 : -1;
    if (rc)
        errno = ENOMEM;
    for (int i = 0; i < l->n && rc == 0; i++) {
        if (l->o->progress)
            l->o->progress(l->o->user, i, l->n, l->v[i].name);
        rc = write_tensor(f, &l->v[i], buf, tmp);
        if (rc == 0 && l->o->done)
            report(l, i);
    }
    free(buf);
    free(tmp);
    if (rc == 0 && fflush(f) != 0)
        rc = -1;
    if (rc == 0 && fsync(fileno(f)) != 0)
        rc = -1;
    return rc;
}

/* The header: magic, version, counts, metadata, tensor infos, padding. */
static herd_status build_header(herd_gbuf *hdr, const tensor_list *l, const char *path)
{
    herd_gbuf meta = {0};
    const char *base = strrchr(path, '/');
    char name[128];
    snprintf(name, sizeof name, "%s", base ? base + 1 : path);
    char *dot = strrchr(name, '.');
    if (dot && dot != name)
        *dot = 0;
    const herd_gguf_write_opts *o = l->o;
    if (o->meta) {
        herd_gguf_copy_metadata(&meta, o->meta, o->file_type, o->quant_version);
    } else {
        herd_gguf_put_metadata(&meta, l->m, name, o->file_type);
        if (o->quant_version)
            herd_gbuf_kv_u32(&meta, "general.quantization_version", o->quant_version);
    }
    herd_gbuf_put(hdr, "GGUF", 4);
    herd_gbuf_u32(hdr, 3);
    herd_gbuf_u64(hdr, (uint64_t)l->n);
    herd_gbuf_u64(hdr, meta.n_kv);
    herd_gbuf_put(hdr, meta.p, meta.n);
    put_tensor_infos(hdr, l);
    static const char zeros[ALIGN];
    herd_gbuf_put(hdr, zeros, (ALIGN - hdr->n % ALIGN) % ALIGN);
    int oom = meta.oom || hdr->oom;
    herd_gbuf_free(&meta);
    return oom ? herd_fail(HERD_E_NOMEM, "%s: out of memory", path) : HERD_OK;
}

static herd_status write_file(const char *path, const herd_gbuf *hdr, const tensor_list *l)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 5);
    if (!tmp)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    herd_status s = HERD_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        s = herd_fail(HERD_E_IO, "%s: %s", tmp, strerror(errno));
    } else {
        int rc = write_all(f, hdr, l);
        int e = errno;
        if (fclose(f) != 0 && rc == 0) {
            rc = -1;
            e = errno;
        }
        if (rc == 0 && rename(tmp, path) != 0) {
            rc = -1;
            e = errno;
        }
        if (rc != 0) {
            s = herd_fail(HERD_E_IO, "%s: write failed: %s", path, strerror(e));
            unlink(tmp);
        }
    }
    free(tmp);
    return s;
}

herd_status herd_save_gguf(const herd_model *m, const char *path, herd_type type)
{
    return herd_save_gguf_ex(m, path, type, NULL, NULL);
}

herd_status herd_save_gguf_ex(const herd_model *m, const char *path, herd_type type,
                              herd_progress_fn progress, void *user)
{
    if (type != HERD_TYPE_F32 && type != HERD_TYPE_F16 && type != HERD_TYPE_BF16)
        return herd_fail(HERD_E_ARG, "%s: herd writes GGUF tensors as F32, F16 or BF16",
                         path);
    /* llama_ftype: ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32 */
    herd_gguf_write_opts o = {
        .type = type, .file_type = type == HERD_TYPE_F32 ? 0 : type == HERD_TYPE_F16 ? 1 : 32,
        .progress = progress, .user = user};
    return herd_save_gguf_opts(m, path, &o);
}

herd_status herd_save_gguf_opts(const herd_model *m, const char *path,
                                const herd_gguf_write_opts *o)
{
    if (!o->type_of && (!herd_qtraits_get((herd_qtype)o->type) ||
                        (herd_qtype)o->type == HERD_QTYPE_Q8_K))
        return herd_fail(HERD_E_ARG, "%s: type %d is no type herd writes", path,
                         (int)o->type);
    const herd_config *c = &m->cfg;
    if (c->n_layers < 1 || !m->w.layers || c->n_heads < 1 || c->dim % c->n_heads != 0)
        return herd_fail(HERD_E_ARG, "%s: the model's config is incomplete", path);
    tensor_list l = {.m = m, .o = o};
    l.v = calloc((size_t)c->n_layers * 9 + 4, sizeof *l.v);
    if (!l.v)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", path);
    herd_gbuf hdr = {0};
    herd_status s = collect(&l);
    if (s == HERD_OK)
        s = check_tensors(&l, path);
    if (s == HERD_OK)
        s = build_header(&hdr, &l, path);
    if (s == HERD_OK)
        s = write_file(path, &hdr, &l);
    herd_gbuf_free(&hdr);
    free((void *)l.freqs.data);
    free(l.v);
    return s;
}

/* Training checkpoints (checkpoint.h): atomic save, checked load. */
#include "train/checkpoint.h"
#include "base/error.h"
#include "base/file.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAGIC "HERDCKPT"
#define VERSION 1

/* The config as stored: every field as 32 bits. */
typedef struct {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    float norm_eps, rope_theta;
    int32_t tied, rope_layout, rope_scaling;
    float rope_factor, rope_low, rope_high;
    int32_t rope_orig_ctx;
} ckpt_config;

typedef struct {
    char magic[8];
    uint32_t version, header_bytes;
    ckpt_config cfg;
    uint64_t n_params;
    int64_t step, adam_t;
    uint64_t epoch, index, seed;
    uint32_t n_history, reserved;
} ckpt_header;

static ckpt_config pack(const herd_config *c)
{
    return (ckpt_config){c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads,
                         c->vocab_size, c->seq_len, c->norm_eps, c->rope_theta,
                         c->tied_embeddings, c->rope_layout, c->rope_scaling, c->rope_factor,
                         c->rope_low_freq_factor, c->rope_high_freq_factor, c->rope_orig_ctx};
}

static herd_config unpack(const ckpt_config *p)
{
    herd_config c = {0};
    c.dim = p->dim; c.hidden_dim = p->hidden_dim; c.n_layers = p->n_layers;
    c.n_heads = p->n_heads; c.n_kv_heads = p->n_kv_heads; c.vocab_size = p->vocab_size;
    c.seq_len = p->seq_len; c.norm_eps = p->norm_eps; c.rope_theta = p->rope_theta;
    c.tied_embeddings = p->tied; c.rope_layout = (herd_rope_layout)p->rope_layout;
    c.rope_scaling = (herd_rope_scaling)p->rope_scaling; c.rope_factor = p->rope_factor;
    c.rope_low_freq_factor = p->rope_low; c.rope_high_freq_factor = p->rope_high;
    c.rope_orig_ctx = p->rope_orig_ctx;
    return c;
}

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

typedef struct {
    FILE *f;
    uint64_t hash;
    int failed;
} hwriter;

static void put(hwriter *w, const void *data, size_t n)
{
    if (w->failed)
        return;
    w->hash = fnv(w->hash, data, n);
    if (n && fwrite(data, 1, n, w->f) != n)
        w->failed = errno ? errno : EIO;
}

static void sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

herd_status herd_ckpt_save(const char *path, herd_train_model *tm, herd_adamw *opt,
                           const herd_ckpt_state *st)
{
    size_t n;
    float *p = herd_train_params(tm, &n);
    ckpt_header h = {{0}, VERSION, sizeof h, pack(herd_train_config(tm)), n, st->step,
                     *herd_adamw_t(opt), st->loader.epoch, st->loader.index, st->seed,
                     st->n_history, 0};
    memcpy(h.magic, MAGIC, 8);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return herd_fail(HERD_E_ARG, "%s: path too long", path);
    hwriter w = {fopen(tmp, "wb"), 0xcbf29ce484222325ull, 0};
    if (!w.f)
        return herd_fail(HERD_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
    errno = 0;
    put(&w, &h, sizeof h);
    put(&w, p, n * sizeof *p);
    put(&w, herd_adamw_m(opt, NULL), n * sizeof(float));
    put(&w, herd_adamw_v(opt, NULL), n * sizeof(float));
    put(&w, st->history, st->n_history * sizeof *st->history);
    uint64_t hash = w.hash;
    put(&w, &hash, sizeof hash);
    if (!w.failed && (fflush(w.f) != 0 || fsync(fileno(w.f)) != 0))
        w.failed = errno ? errno : EIO;
    if (fclose(w.f) != 0 && !w.failed)
        w.failed = errno ? errno : EIO;
    if (!w.failed && rename(tmp, path) != 0)
        w.failed = errno ? errno : EIO;
    if (w.failed) {
        remove(tmp);
        return herd_fail(HERD_E_IO, "%s: checkpoint not written (%s); the previous one is "
                         "untouched", path, strerror(w.failed));
    }
    sync_dir(path);
    return HERD_OK;
}

/* Maps the file and checks magic, version, size and hash. */
static herd_status open_checked(const char *path, herd_map *m, ckpt_header *h)
{
    HERD_TRY(herd_map_file(path, m));
    const uint8_t *d = m->data;
    herd_status st = HERD_E_FORMAT;
    if (m->size < sizeof *h + 8 || memcmp(d, MAGIC, 8) != 0)
        herd_fail(st, "%s: not a herd checkpoint", path);
    else if (memcpy(h, d, sizeof *h), h->version != VERSION || h->header_bytes != sizeof *h)
        herd_fail(st, "%s: checkpoint version %u not supported", path, h->version);
    else if (h->n_params > m->size / 12 ||
             m->size != sizeof *h + h->n_params * 12 +
                         (uint64_t)h->n_history * sizeof(herd_ckpt_record) + 8)
        herd_fail(st, "%s: truncated or damaged checkpoint (%zu bytes)", path, m->size);
    else {
        uint64_t want;
        memcpy(&want, d + m->size - 8, 8);
        if (fnv(0xcbf29ce484222325ull, d, m->size - 8) != want)
            herd_fail(st, "%s: checkpoint damaged (hash mismatch)", path);
        else
            st = HERD_OK;
    }
    if (st != HERD_OK)
        herd_unmap(m);
    return st;
}

herd_status herd_ckpt_config(const char *path, herd_config *cfg)
{
    herd_map m;
    ckpt_header h;
    HERD_TRY(open_checked(path, &m, &h));
    *cfg = unpack(&h.cfg);
    herd_unmap(&m);
    return HERD_OK;
}

static herd_status same_shape(const char *path, const herd_config *a, const herd_config *b)
{
#define SAME(f) if (a->f != b->f) return herd_fail(HERD_E_ARG, \
        "%s: checkpoint is for another model: " #f " %g, this model has %g", path, \
        (double)a->f, (double)b->f)
    SAME(dim); SAME(hidden_dim); SAME(n_layers); SAME(n_heads); SAME(n_kv_heads);
    SAME(vocab_size); SAME(tied_embeddings); SAME(norm_eps); SAME(rope_theta);
    SAME(rope_scaling); SAME(rope_layout);
#undef SAME
    return HERD_OK;
}

herd_status herd_ckpt_load(const char *path, herd_train_model *tm, herd_adamw *opt,
                           herd_ckpt_state *st)
{
    herd_map m;
    ckpt_header h;
    HERD_TRY(open_checked(path, &m, &h));
    herd_config c = unpack(&h.cfg);
    size_t n;
    float *p = herd_train_params(tm, &n);
    herd_status s = same_shape(path, &c, herd_train_config(tm));
    if (s == HERD_OK && h.n_params != n)
        s = herd_fail(HERD_E_FORMAT, "%s: %llu parameters, the model has %zu", path,
                      (unsigned long long)h.n_params, n);
    herd_ckpt_record *hist = NULL;
    if (s == HERD_OK && h.n_history &&
        !(hist = malloc(h.n_history * sizeof *hist)))
        s = herd_fail(HERD_E_NOMEM, "out of memory");
    if (s == HERD_OK) {
        const uint8_t *d = (const uint8_t *)m.data + sizeof h;
        memcpy(p, d, n * 4);
        memcpy(herd_adamw_m(opt, NULL), d + n * 4, n * 4);
        memcpy(herd_adamw_v(opt, NULL), d + n * 8, n * 4);
        if (hist)
            memcpy(hist, d + n * 12, h.n_history * sizeof *hist);
        *herd_adamw_t(opt) = h.adam_t;
        *st = (herd_ckpt_state){h.step, {h.epoch, h.index}, h.seed, hist, h.n_history};
    }
    herd_unmap(&m);
    return s;
}

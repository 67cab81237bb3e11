/* herd_reward_save: the backbone written by herd_save_gguf, then the file
 * rewritten with the head appended: the same metadata pairs plus
 * herd.reward_model and its chat template, the same tensor infos plus
 * cls.output.weight and cls.output.bias, the same data section with the
 * head's two tensors after it. PATH.tmp, synced, renamed over PATH. */
#include "train/reward.h"
#include "formats/gguf.h"
#include "formats/gguf_buf.h"
#include "base/error.h"
#include "base/file.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t align_up(uint64_t x, uint64_t a)
{
    return (x + a - 1) / a * a;
}

static void put_info(herd_gbuf *b, const char *name, size_t len, uint32_t n_dims,
                     const int64_t *ne, uint32_t type, uint64_t off)
{
    herd_gbuf_str(b, name, len);
    herd_gbuf_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        herd_gbuf_u64(b, (uint64_t)ne[d]);
    herd_gbuf_u32(b, type);
    herd_gbuf_u64(b, off);
}

/* The new header; *w_off and *b_off get the head's offsets in the data
 * section. */
static herd_status build_header(const herd_gguf *g, int dim, herd_chat_template tpl,
                                herd_gbuf *h, uint64_t *w_off, uint64_t *b_off)
{
    if (!g->n_tensors)
        return herd_fail(HERD_E_FORMAT, "%s: no tensors", g->path);
    size_t kv_end = (size_t)((const uint8_t *)g->tensors[0].name.p - 8 - g->base);
    uint64_t A = g->alignment, data_len = g->size - g->data_start;
    *w_off = align_up(data_len, A);
    *b_off = align_up(*w_off + (uint64_t)dim * sizeof(float), A);
    herd_gbuf_put(h, "GGUF", 4);
    herd_gbuf_u32(h, 3);
    herd_gbuf_u64(h, g->n_tensors + 2);
    herd_gbuf_u64(h, g->n_kv + 2);
    herd_gbuf_put(h, g->base + 24, kv_end - 24);
    herd_gbuf_kv_bool(h, "herd.reward_model", 1);
    herd_gbuf_kv_str(h, "herd.reward_model.chat_template",
                     tpl == HERD_CHAT_LLAMA2 ? "llama2" : tpl == HERD_CHAT_LLAMA3 ? "llama3"
                                                                                  : "none");
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const herd_gguf_tensor *t = &g->tensors[i];
        put_info(h, t->name.p, t->name.len, t->n_dims, t->ne, t->type, t->offset);
    }
    int64_t ne_w[2] = {dim, 1}, ne_b[2] = {1, 1};
    put_info(h, "cls.output.weight", 17, 2, ne_w, HERD_TYPE_F32, *w_off);
    put_info(h, "cls.output.bias", 15, 1, ne_b, HERD_TYPE_F32, *b_off);
    static const char zeros[256];
    herd_gbuf_put(h, zeros, (size_t)((A - h->n % A) % A));
    return h->oom ? herd_fail(HERD_E_NOMEM, "out of memory") : HERD_OK;
}

static int pad_to(FILE *f, uint64_t have, uint64_t want)
{
    static const char zeros[256];
    while (have < want) {
        size_t k = want - have < sizeof zeros ? (size_t)(want - have) : sizeof zeros;
        if (fwrite(zeros, 1, k, f) != k)
            return -1;
        have += k;
    }
    return 0;
}

static int write_body(FILE *f, const herd_gguf *g, const herd_gbuf *h, const float *head,
                      int dim, uint64_t w_off, uint64_t b_off)
{
    uint64_t data_len = g->size - g->data_start;
    if (fwrite(h->p, 1, h->n, f) != h->n ||
        fwrite(g->base + g->data_start, 1, data_len, f) != data_len ||
        pad_to(f, data_len, w_off) || fwrite(head, sizeof *head, (size_t)dim, f) != (size_t)dim ||
        pad_to(f, w_off + (uint64_t)dim * sizeof *head, b_off) ||
        fwrite(head + dim, sizeof *head, 1, f) != 1 ||
        pad_to(f, b_off + sizeof *head, align_up(b_off + sizeof *head, g->alignment)))
        return -1;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        return -1;
    return 0;
}

static herd_status write_with_head(const herd_gguf *g, const float *head, int dim,
                                   herd_chat_template tpl, const char *tmp)
{
    herd_gbuf h = {0};
    uint64_t w_off = 0, b_off = 0;
    herd_status s = build_header(g, dim, tpl, &h, &w_off, &b_off);
    if (s == HERD_OK) {
        FILE *f = fopen(tmp, "wb");
        if (!f) {
            s = herd_fail(HERD_E_IO, "%s: %s", tmp, strerror(errno));
        } else {
            int rc = write_body(f, g, &h, head, dim, w_off, b_off);
            int e = errno;
            if (fclose(f) != 0 && rc == 0)
                rc = -1, e = errno;
            if (rc)
                s = herd_fail(HERD_E_IO, "%s: write failed: %s", tmp, strerror(e));
        }
    }
    herd_gbuf_free(&h);
    return s;
}

herd_status herd_reward_save(const herd_model *m, const float *head, herd_chat_template tpl,
                             const char *path)
{
    size_t n = strlen(path);
    char *body = malloc(n + 16), *tmp = malloc(n + 16);
    if (!body || !tmp) {
        free(body);
        free(tmp);
        return herd_fail(HERD_E_NOMEM, "out of memory");
    }
    snprintf(body, n + 16, "%s.body.tmp", path);
    snprintf(tmp, n + 16, "%s.tmp", path);
    herd_status s = herd_save_gguf(m, body, HERD_TYPE_F32);
    herd_map map = {0};
    herd_gguf g;
    memset(&g, 0, sizeof g);
    if (s == HERD_OK)
        s = herd_map_file(body, &map);
    if (s == HERD_OK) {
        s = herd_gguf_parse(body, map.data, map.size, &g);
        if (s == HERD_OK)
            s = write_with_head(&g, head, m->cfg.dim, tpl, tmp);
        herd_gguf_free(&g);
        herd_unmap(&map);
    }
    unlink(body);
    if (s == HERD_OK && rename(tmp, path) != 0)
        s = herd_fail(HERD_E_IO, "%s: %s", path, strerror(errno));
    if (s != HERD_OK)
        unlink(tmp);
    free(body);
    free(tmp);
    return s;
}

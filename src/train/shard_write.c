/* Writing token shards (format in train/data.h) as a stream: a zeroed
 * header, the tokens as documents arrive, then the offsets (kept in
 * memory, 8 bytes a document) and the real header, into PATH.tmp, which is
 * synced and renamed to PATH. Any failure removes PATH.tmp. */
#define _POSIX_C_SOURCE 200809L
#include "train/data.h"
#include "base/error.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct herd_shard_writer {
    char *path, *tmp;
    FILE *f;
    int width;
    uint32_t vocab;
    uint64_t *off;        /* n_docs + 1 offsets */
    uint64_t n_docs, cap;
    int created;          /* PATH.tmp is ours to remove */
};

static void put32(uint8_t *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (uint8_t)(v >> 8 * k);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (uint8_t)(v >> 8 * k);
}

static herd_status write_all(herd_shard_writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->f) != n)
        return herd_fail(HERD_E_IO, "%s: write failed: %s", w->tmp, strerror(errno));
    return HERD_OK;
}

herd_status herd_shard_writer_new(const char *path, int vocab, herd_shard_writer **out)
{
    *out = NULL;
    if (!path || vocab < 1)
        return herd_fail(HERD_E_ARG, "shard writer: bad path or vocabulary size %d", vocab);
    herd_shard_writer *w = calloc(1, sizeof *w);
    size_t n = strlen(path);
    if (!w || !(w->path = strdup(path)) || !(w->tmp = malloc(n + 5)) ||
        !(w->off = calloc(w->cap = 1024, sizeof *w->off))) {
        herd_shard_writer_abort(w);
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", path);
    }
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".tmp", 5);
    w->width = vocab <= 65536 ? 2 : 4;
    w->vocab = (uint32_t)vocab;
    if (!(w->f = fopen(w->tmp, "wb"))) {
        herd_status s = herd_fail(HERD_E_IO, "%s: %s", w->tmp, strerror(errno));
        herd_shard_writer_abort(w);
        return s;
    }
    w->created = 1;
    setvbuf(w->f, NULL, _IOFBF, 1 << 20);
    uint8_t zero[HERD_SHARD_HEADER] = {0};
    herd_status s = write_all(w, zero, sizeof zero);
    if (s != HERD_OK) {
        herd_shard_writer_abort(w);
        return s;
    }
    *out = w;
    return HERD_OK;
}

static herd_status check_ids(const herd_shard_writer *w, const int *ids, size_t n)
{
    if (n == 0 || !ids)
        return herd_fail(HERD_E_ARG, "%s: an empty document", w->path);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (uint32_t)ids[i] >= w->vocab)
            return herd_fail(HERD_E_RANGE, "%s: token id %d is outside the vocabulary of %u",
                             w->path, ids[i], w->vocab);
    return HERD_OK;
}

herd_status herd_shard_writer_add(herd_shard_writer *w, const int *ids, size_t n)
{
    HERD_TRY(check_ids(w, ids, n));
    if (w->n_docs + 2 > w->cap) {
        uint64_t *p = realloc(w->off, 2 * w->cap * sizeof *p);
        if (!p)
            return herd_fail(HERD_E_NOMEM, "%s: out of memory for document offsets", w->path);
        w->off = p, w->cap *= 2;
    }
    uint8_t buf[4096 * 4];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; i < n && k < sizeof buf; i++, k += (size_t)w->width) {
            if (w->width == 2)
                buf[k] = (uint8_t)ids[i], buf[k + 1] = (uint8_t)(ids[i] >> 8);
            else
                put32(buf + k, (uint32_t)ids[i]);
        }
        HERD_TRY(write_all(w, buf, k));
    }
    w->off[w->n_docs + 1] = w->off[w->n_docs] + n;
    w->n_docs++;
    return HERD_OK;
}

uint64_t herd_shard_writer_tokens(const herd_shard_writer *w)
{
    return w->off[w->n_docs];
}

uint64_t herd_shard_writer_docs(const herd_shard_writer *w)
{
    return w->n_docs;
}

/* Padding, offsets, header, sync. */
static herd_status complete(herd_shard_writer *w)
{
    uint64_t n_tokens = w->off[w->n_docs];
    uint8_t b[HERD_SHARD_HEADER] = {0};
    size_t pad = (size_t)((8 - (HERD_SHARD_HEADER + n_tokens * (uint64_t)w->width) % 8) % 8);
    HERD_TRY(write_all(w, b, pad));
    for (uint64_t i = 0; i <= w->n_docs; i++) {
        put64(b, w->off[i]);
        HERD_TRY(write_all(w, b, 8));
    }
    memcpy(b, HERD_SHARD_MAGIC, 8);
    put32(b + 8, HERD_SHARD_VERSION);
    put32(b + 12, (uint32_t)w->width);
    put32(b + 16, w->vocab);
    put32(b + 20, 0);
    put64(b + 24, n_tokens);
    put64(b + 32, w->n_docs);
    if (fflush(w->f) != 0 || fseek(w->f, 0, SEEK_SET) != 0)
        return herd_fail(HERD_E_IO, "%s: write failed: %s", w->tmp, strerror(errno));
    HERD_TRY(write_all(w, b, HERD_SHARD_HEADER));
    if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
        return herd_fail(HERD_E_IO, "%s: write failed: %s", w->tmp, strerror(errno));
    FILE *f = w->f;
    w->f = NULL;
    if (fclose(f) != 0)
        return herd_fail(HERD_E_IO, "%s: write failed: %s", w->tmp, strerror(errno));
    return HERD_OK;
}

/* Syncs the folder holding path so that the rename lasts (best effort). */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY) : -1;
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

herd_status herd_shard_writer_finish(herd_shard_writer *w)
{
    herd_status s = complete(w);
    if (s == HERD_OK && rename(w->tmp, w->path) != 0)
        s = herd_fail(HERD_E_IO, "%s: cannot rename %s to it: %s", w->path, w->tmp,
                      strerror(errno));
    if (s != HERD_OK) {
        herd_shard_writer_abort(w);
        return s;
    }
    sync_dir(w->path);
    free(w->path);
    free(w->tmp);
    free(w->off);
    free(w);
    return HERD_OK;
}

void herd_shard_writer_abort(herd_shard_writer *w)
{
    if (!w)
        return;
    if (w->f)
        fclose(w->f);
    if (w->created)
        unlink(w->tmp);
    free(w->path);
    free(w->tmp);
    free(w->off);
    free(w);
}

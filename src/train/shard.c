/* Reading token shards (format in train/data.h): the file is mapped and
 * every size, offset and token id is checked before anyone reads it. */
#include "train/data.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* The header and the sizes it implies; fills s's fields but the checks of
 * offsets and ids. */
static herd_status check_header(const char *path, herd_shard *s)
{
    const uint8_t *p = s->map.data;
    size_t size = s->map.size;
    if (size < HERD_SHARD_HEADER)
        return herd_fail(HERD_E_FORMAT, "%s: truncated token shard (%zu bytes, the header "
                         "alone is %d)", path, size, HERD_SHARD_HEADER);
    if (memcmp(p, HERD_SHARD_MAGIC, 8) != 0)
        return herd_fail(HERD_E_FORMAT, "%s: not a herd token shard (no HERDTOK1 magic)", path);
    uint32_t version = rd32(p + 8), width = rd32(p + 12), vocab = rd32(p + 16);
    if (version != HERD_SHARD_VERSION)
        return herd_fail(HERD_E_FORMAT, "%s: token shard version %u (herd reads 1)", path,
                         version);
    if (width != 2 && width != 4)
        return herd_fail(HERD_E_FORMAT, "%s: token width %u (must be 2 or 4)", path, width);
    if (vocab == 0 || vocab > INT32_MAX || (width == 2 && vocab > 65536))
        return herd_fail(HERD_E_FORMAT, "%s: vocabulary size %u does not fit token width %u",
                         path, vocab, width);
    if (rd32(p + 20) != 0)
        return herd_fail(HERD_E_FORMAT, "%s: reserved header field is not 0", path);
    s->width = (int)width;
    s->vocab = vocab;
    s->n_tokens = rd64(p + 24);
    s->n_docs = rd64(p + 32);
    uint64_t room = size - HERD_SHARD_HEADER;
    if (s->n_tokens > room / width)
        return herd_fail(HERD_E_FORMAT, "%s: truncated: %llu tokens do not fit in %zu bytes",
                         path, (unsigned long long)s->n_tokens, size);
    uint64_t off = (HERD_SHARD_HEADER + s->n_tokens * width + 7) / 8 * 8;
    if (off > size)
        return herd_fail(HERD_E_FORMAT, "%s: truncated: no room for the document offsets", path);
    uint64_t tail = size - off;
    if (tail % 8 != 0 || tail / 8 == 0 || tail / 8 - 1 != s->n_docs)
        return herd_fail(HERD_E_FORMAT, "%s: truncated or overlong: %llu documents need %llu "
                         "offset bytes after the tokens, the file has %llu", path,
                         (unsigned long long)s->n_docs,
                         s->n_docs < UINT64_MAX / 8 ? (unsigned long long)(s->n_docs + 1) * 8
                                                    : 0ULL, (unsigned long long)tail);
    s->tokens = p + HERD_SHARD_HEADER;
    s->offsets = p + off;
    for (uint64_t i = HERD_SHARD_HEADER + s->n_tokens * width; i < off; i++)
        if (p[i] != 0)
            return herd_fail(HERD_E_FORMAT, "%s: padding after the tokens is not zero", path);
    return HERD_OK;
}

static herd_status check_body(const char *path, const herd_shard *s)
{
    if (herd_shard_doc_offset(s, 0) != 0)
        return herd_fail(HERD_E_FORMAT, "%s: document 0 starts at %llu, not 0", path,
                         (unsigned long long)herd_shard_doc_offset(s, 0));
    for (uint64_t i = 1; i <= s->n_docs; i++) {
        uint64_t a = herd_shard_doc_offset(s, i - 1), b = herd_shard_doc_offset(s, i);
        if (b <= a || b > s->n_tokens)
            return herd_fail(HERD_E_FORMAT, "%s: document offset %llu is %llu: not after %llu "
                             "or past the %llu tokens", path, (unsigned long long)i,
                             (unsigned long long)b, (unsigned long long)a,
                             (unsigned long long)s->n_tokens);
    }
    if (herd_shard_doc_offset(s, s->n_docs) != s->n_tokens)
        return herd_fail(HERD_E_FORMAT, "%s: the documents end at token %llu, not at the "
                         "last (%llu)", path,
                         (unsigned long long)herd_shard_doc_offset(s, s->n_docs),
                         (unsigned long long)s->n_tokens);
    for (uint64_t i = 0; i < s->n_tokens; i++)
        if ((uint32_t)herd_shard_token(s, i) >= s->vocab)
            return herd_fail(HERD_E_FORMAT, "%s: token %llu is id %u, outside the vocabulary "
                             "of %u", path, (unsigned long long)i,
                             (uint32_t)herd_shard_token(s, i), s->vocab);
    return HERD_OK;
}

herd_status herd_shard_open(const char *path, herd_shard *s)
{
    memset(s, 0, sizeof *s);
    herd_status st = herd_map_file(path, &s->map);
    if (st == HERD_OK)
        st = check_header(path, s);
    if (st == HERD_OK)
        st = check_body(path, s);
    if (st == HERD_OK && !(s->path = strdup(path)))
        st = herd_fail(HERD_E_NOMEM, "%s: out of memory", path);
    if (st != HERD_OK)
        herd_shard_close(s);
    return st;
}

void herd_shard_close(herd_shard *s)
{
    herd_unmap(&s->map);
    free(s->path);
    memset(s, 0, sizeof *s);
}

uint64_t herd_shard_doc_of(const herd_shard *s, uint64_t i)
{
    uint64_t lo = 0, hi = s->n_docs; /* off[lo] <= i < off[hi] */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (herd_shard_doc_offset(s, mid) <= i)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

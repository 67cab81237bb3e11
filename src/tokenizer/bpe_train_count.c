/* The first pass of BPE training: the distinct words of the text with their
 * counts. Each line is normalized as the tokenizer will normalize it (a
 * "▁" in front, spaces as "▁") and cut into words where a "▁" follows
 * another character: "▁the", "▁▁▁x" (a run of spaces stays with the word
 * after it). A word longer than BT_MAX_WORD bytes is cut between two
 * characters. Bytes that are not UTF-8 are kept as they are. */
#include "tokenizer/bpe_train_impl.h"
#include "tokenizer/spm.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

/* FNV-1a, 64 bits. */
static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

herd_status herd_bpe_counter_new(herd_bpe_counter **out)
{
    *out = NULL;
    herd_bpe_counter *c = calloc(1, sizeof *c);
    if (c)
        c->slots = calloc(1024, sizeof *c->slots);
    if (!c || !c->slots) {
        free(c);
        return herd_fail(HERD_E_NOMEM, "train-tokenizer: out of memory");
    }
    c->mask = 1023;
    *out = c;
    return HERD_OK;
}

void herd_bpe_counter_free(herd_bpe_counter *c)
{
    if (!c)
        return;
    free(c->bytes);
    free(c->words);
    free(c->slots);
    free(c);
}

static int rehash(herd_bpe_counter *c)
{
    size_t n = (c->mask + 1) * 2;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s)
        return 0;
    for (size_t w = 0; w < c->n_words; w++) {
        size_t i = c->words[w].hash & (n - 1);
        while (s[i])
            i = (i + 1) & (n - 1);
        s[i] = (uint32_t)(w + 1);
    }
    free(c->slots);
    c->slots = s;
    c->mask = n - 1;
    return 1;
}

/* Room for a new word of n bytes; 0 when out of memory or full. */
static int make_room(herd_bpe_counter *c, size_t n)
{
    if (c->n_words >= INT32_MAX - 1)
        return 0;
    if (c->n_bytes + n > c->cap_bytes) {
        size_t cap = c->cap_bytes ? c->cap_bytes * 2 : 1 << 16;
        while (cap < c->n_bytes + n)
            cap *= 2;
        char *b = realloc(c->bytes, cap);
        if (!b)
            return 0;
        c->bytes = b;
        c->cap_bytes = cap;
    }
    if (c->n_words == c->cap_words) {
        size_t cap = c->cap_words ? c->cap_words * 2 : 1024;
        bt_word *w = realloc(c->words, cap * sizeof *w);
        if (!w)
            return 0;
        c->words = w;
        c->cap_words = cap;
    }
    return 1;
}

/* Counts one occurrence of the word in buf. */
static int put_word(herd_bpe_counter *c)
{
    const char *p = c->buf;
    size_t n = c->n_buf;
    c->n_buf = 0;
    uint64_t h = hash_bytes(p, n);
    size_t i = h & c->mask;
    for (; c->slots[i]; i = (i + 1) & c->mask) {
        bt_word *e = &c->words[c->slots[i] - 1];
        if (e->hash == h && e->len == n && memcmp(c->bytes + e->off, p, n) == 0) {
            e->count++;
            return 1;
        }
    }
    if (!make_room(c, n))
        return 0;
    memcpy(c->bytes + c->n_bytes, p, n);
    c->words[c->n_words] = (bt_word){h, c->n_bytes, (uint32_t)n, 1};
    c->n_bytes += n;
    c->slots[i] = (uint32_t)++c->n_words;
    return c->n_words * 2 <= c->mask || rehash(c);
}

static int add_line(herd_bpe_counter *c, const char *s, size_t n)
{
    c->n_lines++;
    memcpy(c->buf, BT_WS, 3);
    c->n_buf = 3;
    int prev_ws = 1;
    for (size_t i = 0; i < n;) {
        int l = herd_utf8_len((const unsigned char *)s + i, n - i);
        l = l ? l : 1;
        int ws = s[i] == ' ' || (l == 3 && memcmp(s + i, BT_WS, 3) == 0);
        if (((ws && !prev_ws) || c->n_buf + (size_t)l > BT_MAX_WORD) && !put_word(c))
            return 0;
        if (ws) {
            memcpy(c->buf + c->n_buf, BT_WS, 3);
            c->n_buf += 3;
        } else {
            memcpy(c->buf + c->n_buf, s + i, (size_t)l);
            c->n_buf += (size_t)l;
        }
        prev_ws = ws;
        i += (size_t)l;
    }
    return put_word(c);
}

herd_status herd_bpe_counter_add(herd_bpe_counter *c, const char *text, size_t len)
{
    if (!c || (!text && len))
        return herd_fail(HERD_E_ARG, "herd_bpe_counter_add: bad arguments");
    while (len > 0) {
        const char *nl = memchr(text, '\n', len);
        size_t n = nl ? (size_t)(nl - text) : len;
        if (n > 0 && !add_line(c, text, n))
            return herd_fail(HERD_E_NOMEM, "train-tokenizer: out of memory after %zu "
                             "distinct words", c->n_words);
        n += nl ? 1 : 0;
        text += n;
        len -= n;
    }
    return HERD_OK;
}

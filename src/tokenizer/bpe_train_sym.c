/* The trainer's symbols: the bytes of each (a character, the rare-character
 * stand-in, or a merged piece) with what the merge rules need to know, and
 * a hash map from bytes to id so that a merge spelling an existing piece
 * finds it. */
#include "tokenizer/bpe_train_impl.h"
#include <stdlib.h>
#include <string.h>

static uint32_t hash_bytes(const char *s, int n)
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

int bt_sym_find(const bt_syms *s, const char *p, int len)
{
    if (!s->slots)
        return -1;
    for (uint32_t i = hash_bytes(p, len) & s->mask;; i = (i + 1) & s->mask) {
        uint32_t v = s->slots[i];
        if (!v)
            return -1;
        int id = (int)v - 1;
        if (s->len[id] == len && memcmp(s->str + s->off[id], p, (size_t)len) == 0)
            return id;
    }
}

static void map_put(uint32_t *slots, uint32_t mask, const bt_syms *s, int id)
{
    uint32_t i = hash_bytes(s->str + s->off[id], s->len[id]) & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = (uint32_t)id + 1;
}

static int grow_map(bt_syms *s)
{
    uint32_t n = s->slots ? (s->mask + 1) * 2 : 1024;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots)
        return 0;
    for (int id = 0; id < s->n; id++)
        map_put(slots, n - 1, s, id);
    free(s->slots);
    s->slots = slots;
    s->mask = n - 1;
    return 1;
}

#define GROW(field)                                                   \
    do {                                                              \
        void *q_ = realloc(s->field, (size_t)cap * sizeof *s->field); \
        if (!q_)                                                      \
            return 0;                                                 \
        s->field = q_;                                                \
    } while (0)

static int grow_arrays(bt_syms *s)
{
    int cap = s->cap ? s->cap * 2 : 1024;
    GROW(off);
    GROW(len);
    GROW(nchar);
    GROW(nws);
    GROW(flags);
    GROW(script);
    s->cap = cap;
    return 1;
}

static int grow_str(bt_syms *s, int len)
{
    if (s->n_str + (size_t)len <= s->cap_str)
        return 1;
    size_t cap = s->cap_str ? s->cap_str * 2 : 1 << 16;
    char *p = realloc(s->str, cap);
    if (!p || cap > UINT32_MAX)
        return 0;
    s->str = p;
    s->cap_str = cap;
    return 1;
}

int bt_sym_add(bt_syms *s, const char *p, int len, int nchar, int nws, int script, int flags)
{
    if ((s->n == s->cap && !grow_arrays(s)) || !grow_str(s, len))
        return -1;
    if ((uint32_t)(s->n + 1) * 2 > (s->slots ? s->mask : 0) && !grow_map(s))
        return -1;
    int id = s->n++;
    memcpy(s->str + s->n_str, p, (size_t)len);
    s->off[id] = (uint32_t)s->n_str;
    s->n_str += (size_t)len;
    s->len[id] = (uint16_t)len;
    s->nchar[id] = (uint8_t)nchar;
    s->nws[id] = (uint8_t)nws;
    s->flags[id] = (uint8_t)flags;
    s->script[id] = script;
    map_put(s->slots, s->mask, s, id);
    return id;
}

void bt_syms_free(bt_syms *s)
{
    free(s->str);
    free(s->off);
    free(s->len);
    free(s->nchar);
    free(s->nws);
    free(s->flags);
    free(s->script);
    free(s->slots);
    memset(s, 0, sizeof *s);
}

/* Reading tests/fixtures/bpe_llama3*.txt (written by
 * tests/reference/bpe_golden.mjs from Hugging Face tokenizers): lines
 * "escaped text TAB ids [TAB plain ids]", # for comments. Escapes: \\ \t
 * \n \r and \u{hex}. */
#ifndef HERD_TEST_BPE_FIXTURE_H
#define HERD_TEST_BPE_FIXTURE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *text;
    size_t len;
    int *ids, n;           /* the reference's ids */
    int *plain, n_plain;   /* special file: the ids with special tokens as text */
} bpe_case;

static inline size_t bpe_put_utf8(char *o, unsigned long c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | c >> 6), o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12), o[1] = (char)(0x80 | (c >> 6 & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18), o[1] = (char)(0x80 | (c >> 12 & 0x3F));
    o[2] = (char)(0x80 | (c >> 6 & 0x3F)), o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Unescapes s[0..n) into a new buffer. */
static inline char *bpe_unescape(const char *s, size_t n, size_t *len)
{
    char *o = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 >= n) {
            o[k++] = s[i];
            continue;
        }
        char c = s[++i];
        if (c == 'n')
            o[k++] = '\n';
        else if (c == 't')
            o[k++] = '\t';
        else if (c == 'r')
            o[k++] = '\r';
        else if (c == 'u' && i + 1 < n && s[i + 1] == '{') {
            char *end;
            unsigned long cp = strtoul(s + i + 2, &end, 16);
            k += bpe_put_utf8(o + k, cp);
            i = (size_t)(end - s); /* at the '}' */
        } else {
            o[k++] = c;
        }
    }
    o[k] = 0;
    *len = k;
    return o;
}

static inline int *bpe_parse_ids(const char *s, const char *end, int *n)
{
    int cap = 16, *ids = malloc((size_t)cap * sizeof *ids);
    *n = 0;
    while (s < end) {
        char *e;
        long v = strtol(s, &e, 10);
        if (e == s)
            break;
        if (*n == cap)
            ids = realloc(ids, (size_t)(cap *= 2) * sizeof *ids);
        ids[(*n)++] = (int)v;
        s = e;
    }
    return ids;
}

/* The cases of a fixture file; -1 when it cannot be read. */
static inline int bpe_load_cases(const char *path, bpe_case **out)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int n = 0, room = 0;
    bpe_case *c = NULL;
    while ((got = getline(&line, &cap, f)) > 0) {
        if (line[got - 1] == '\n')
            line[--got] = 0;
        char *tab = strchr(line, '\t');
        if (line[0] == '#' || !tab)
            continue;
        if (n == room)
            c = realloc(c, (size_t)(room = room ? 2 * room : 256) * sizeof *c);
        bpe_case *k = &c[n++];
        memset(k, 0, sizeof *k);
        k->text = bpe_unescape(line, (size_t)(tab - line), &k->len);
        char *tab2 = strchr(tab + 1, '\t');
        k->ids = bpe_parse_ids(tab + 1, tab2 ? tab2 : line + got, &k->n);
        if (tab2)
            k->plain = bpe_parse_ids(tab2 + 1, line + got, &k->n_plain);
    }
    free(line);
    fclose(f);
    *out = c;
    return n;
}

static inline void bpe_free_cases(bpe_case *c, int n)
{
    for (int i = 0; i < n; i++) {
        free(c[i].text);
        free(c[i].ids);
        free(c[i].plain);
    }
    free(c);
}

/* Joins the decoded bytes of ids into a new buffer. */
static inline char *bpe_decode(const herd_tokenizer *t, const int *ids, int n, size_t *len)
{
    char *out = malloc((size_t)n * 256 + 1), buf[256];
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        int m = herd_token_to_bytes(t, i ? ids[i - 1] : -1, ids[i], buf);
        if (m > 0) {
            memcpy(out + k, buf, (size_t)m);
            k += (size_t)m;
        }
    }
    *len = k;
    return out;
}

static inline void bpe_print_ids(const char *what, const int *ids, int n)
{
    fprintf(stderr, "  %s:", what);
    for (int i = 0; i < n && i < 60; i++)
        fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 60 ? " ...\n" : "\n");
}
#endif

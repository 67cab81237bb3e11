/* herd detokenize: token ids back to the exact bytes, or with --jsonl one
 * JSON array of ids a line to one JSON string a line. */
#include "cli/tokenize.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends the bytes of ids to *out (grown as needed). SentencePiece's
 * decoder drops the space its encoder put before the first piece: decode as
 * if after BOS. */
static int decode(const herd_tokenizer *t, const int *ids, int n, char **out, size_t *len,
                  size_t *cap)
{
    int prev = herd_tokenizer_bos(t);
    *len = 0;
    for (int i = 0; i < n; i++) {
        if (*len + 512 > *cap) {
            char *b = realloc(*out, *cap = 2 * *cap + 1024);
            if (!b)
                return cli_fail(HERD_OK, "out of memory");
            *out = b;
        }
        int k = herd_token_to_bytes(t, prev, ids[i], *out + *len);
        if (k < 0)
            return cli_fail(HERD_OK, "cannot decode a token id");
        *len += (size_t)k;
        prev = ids[i];
    }
    return 0;
}

/* Writes bytes as a JSON string; returns the number of U+FFFD written. */
static int print_json_string(const unsigned char *p, size_t n)
{
    int replaced = 0, bad;
    putchar('"');
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        int k = utf8_char(p + i, n - i, &bad);
        if (!k) {
            fputs("\xEF\xBF\xBD", stdout);
            replaced++;
            i += (size_t)bad;
            continue;
        }
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            fwrite(p + i, 1, (size_t)k, stdout);
        i += (size_t)k;
    }
    puts("\"");
    return replaced;
}

/* One id from a JSON array element or a word; 0 or prints and returns 1. */
static int check_id(const herd_tokenizer *t, long lineno, double v, const char *word, int *id)
{
    int n_vocab = herd_tokenizer_n_vocab(t);
    if (v < 0 || v >= n_vocab || v != (double)(long)v) {
        if (word)
            fprintf(stderr, "herd detokenize: line %ld: token id %s is out of range (the "
                    "vocabulary has ids 0 to %d)\n", lineno, word, n_vocab - 1);
        else
            fprintf(stderr, "herd detokenize: line %ld: token id %.17g is not a whole number "
                    "from 0 to %d\n", lineno, v, n_vocab - 1);
        return 1;
    }
    *id = (int)v;
    return 0;
}

/* Appends one id to a growing array; 0 or 1 (out of memory). */
static int push_id(int **ids, int *n, int *cap, int id)
{
    if (*n == *cap) {
        int *p = *cap < INT_MAX / 2 ? realloc(*ids, (size_t)(*cap = 2 * *cap + 256) * sizeof *p)
                                    : NULL;
        if (!p)
            return cli_fail(HERD_OK, "out of memory");
        *ids = p;
    }
    (*ids)[(*n)++] = id;
    return 0;
}

/* The ids of one --jsonl line; 0 or prints and returns 1. */
static int json_ids(const herd_tokenizer *t, char *line, size_t len, long lineno, int **ids,
                    int *n, int *cap)
{
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(line, len, &end, 0), *e;
    if (doc && end)
        end += strspn(end, " \t\r");
    int rc = !doc || !cJSON_IsArray(doc) || (end && end != line + len);
    if (rc)
        fprintf(stderr, "herd detokenize: line %ld: not a JSON array of token ids (--jsonl "
                "wants one array per line)\n", lineno);
    *n = 0;
    for (e = rc ? NULL : doc->child; e && !rc; e = e->next) {
        int id = 0;
        if (!cJSON_IsNumber(e)) {
            fprintf(stderr, "herd detokenize: line %ld: element %d of the array is not a "
                    "number\n", lineno, *n + 1);
            rc = 1;
        }
        rc = rc || check_id(t, lineno, e->valuedouble, NULL, &id) || push_id(ids, n, cap, id);
    }
    cJSON_Delete(doc);
    return rc;
}

int detokenize_jsonl(const herd_tokenizer *t, char *buf, size_t len)
{
    char *cur = buf, *line, *out = NULL;
    size_t n, out_len, out_cap = 0;
    int *ids = NULL, n_ids, cap = 0, rc = 0;
    for (long lineno = 1; !rc && (line = next_line(&cur, buf + len, &n)); lineno++) {
        if ((rc = json_ids(t, line, n, lineno, &ids, &n_ids, &cap)) ||
            (rc = decode(t, ids, n_ids, &out, &out_len, &out_cap)))
            break;
        int k = print_json_string((const unsigned char *)out, out_len);
        if (k)
            fprintf(stderr, "herd detokenize: line %ld: the text is not valid UTF-8: %d "
                    "invalid sequence%s written as U+FFFD\n", lineno, k, k > 1 ? "s" : "");
    }
    free(ids);
    free(out);
    return rc;
}

/* Whitespace-separated ids, all checked before anything is written. */
int detokenize_plain(const herd_tokenizer *t, char *buf, size_t len)
{
    int *ids = NULL, n = 0, cap = 0, rc = 0;
    if (strlen(buf) != len) {
        fprintf(stderr, "herd detokenize: the input holds a NUL byte\n");
        return 1;
    }
    long lineno = 1;
    for (char *p = buf; !rc && *p;) {
        if (strchr(" \t\r\n\v\f", *p)) {
            lineno += *p++ == '\n';
            continue;
        }
        size_t wl = strcspn(p, " \t\r\n\v\f");
        char save = p[wl], *end;
        p[wl] = 0;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || *end || !(*p >= '0' && *p <= '9')) {
            fprintf(stderr, "herd detokenize: line %ld: '%.40s' is not a token id (want "
                    "whole numbers separated by spaces)\n", lineno, p);
            rc = 1;
        }
        int id;
        rc = rc || check_id(t, lineno, (double)v, p, &id) || push_id(&ids, &n, &cap, id);
        p[wl] = save;
        p += wl;
    }
    char *out = NULL;
    size_t out_len, out_cap = 0;
    if (!rc && !(rc = decode(t, ids, n, &out, &out_len, &out_cap)))
        fwrite(out, 1, out_len, stdout);
    free(out);
    free(ids);
    return rc;
}


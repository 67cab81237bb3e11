/* Meta's Llama 3 tokenizer.model, tiktoken's format: one line per token,
 * "base64(bytes) rank", the rank being the token's id (ranks 0..n-1, each
 * once, in any order; empty lines are skipped as tiktoken does). The 256
 * special tokens of Meta's llama3 tokenizer.py follow from id n on. */
#include "tokenizer/bpe.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Strict base64 (padded, no whitespace) into out; the length or -1. */
static int b64_decode(const char *s, size_t n, char *out)
{
    if (n == 0 || n % 4)
        return -1;
    int k = 0;
    for (size_t i = 0; i < n; i += 4) {
        int pad = (s[i + 3] == '=') + (s[i + 2] == '=');
        if (pad && i + 4 != n)
            return -1;
        if (pad == 1 && s[i + 2] == '=')
            return -1;
        unsigned v = 0;
        for (int j = 0; j < 4 - pad; j++) {
            int d = b64_value((unsigned char)s[i + j]);
            if (d < 0)
                return -1;
            v |= (unsigned)d << (18 - 6 * j);
        }
        out[k++] = (char)(v >> 16);
        if (pad < 2)
            out[k++] = (char)(v >> 8);
        if (pad < 1)
            out[k++] = (char)v;
    }
    return k;
}

int herd_bpe_ranks_sniff(const char *data, size_t size)
{
    size_t i = 0;
    while (i < size && b64_value((unsigned char)data[i]) >= 0)
        i++;
    while (i < size && data[i] == '=')
        i++;
    if (i == 0 || i % 4 || i >= size || data[i] != ' ')
        return 0;
    size_t d = ++i;
    while (i < size && data[i] >= '0' && data[i] <= '9')
        i++;
    return i > d && (i == size || data[i] == '\n' || data[i] == '\r');
}

typedef struct {
    const char *path;
    int n, cap;            /* lines read */
    char *bytes;           /* decoded tokens, back to back */
    size_t used;
    size_t *start, *lens;  /* by rank */
    int *line;             /* the line of each rank, 0 when none yet */
} rank_table;

/* One line "base64 rank" (no newline): adds the token at its rank. */
static herd_status parse_line(rank_table *r, const char *s, size_t n, int lineno)
{
    const char *sp = memchr(s, ' ', n);
    if (!sp)
        return herd_fail(HERD_E_FORMAT, "%s: line %d: not \"base64 rank\"", r->path, lineno);
    size_t b = (size_t)(sp - s), i = b + 1;
    long rank = 0;
    if (i >= n)
        return herd_fail(HERD_E_FORMAT, "%s: line %d: no rank", r->path, lineno);
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || rank >= r->cap)
            return herd_fail(HERD_E_FORMAT, "%s: line %d: the rank is not a number below %d",
                             r->path, lineno, r->cap);
        rank = rank * 10 + (s[i] - '0');
    }
    if (rank >= r->cap)
        return herd_fail(HERD_E_FORMAT, "%s: line %d: the rank is not a number below %d",
                         r->path, lineno, r->cap);
    if (b > 4 * ((HERD_MAX_PIECE + 2) / 3))
        return herd_fail(HERD_E_UNSUPPORTED, "%s: line %d: the token is longer than %d bytes",
                         r->path, lineno, HERD_MAX_PIECE);
    int k = b64_decode(s, b, r->bytes + r->used);
    if (k <= 0)
        return herd_fail(HERD_E_FORMAT, "%s: line %d: bad base64", r->path, lineno);
    if (r->line[rank])
        return herd_fail(HERD_E_FORMAT, "%s: line %d: rank %ld is already on line %d", r->path,
                         lineno, rank, r->line[rank]);
    r->line[rank] = lineno;
    r->start[rank] = r->used;
    r->lens[rank] = (size_t)k;
    r->used += (size_t)k;
    r->n++;
    return HERD_OK;
}

static herd_status parse_lines(rank_table *r, const char *data, size_t size)
{
    int lineno = 0;
    for (size_t at = 0; at < size;) {
        const char *nl = memchr(data + at, '\n', size - at);
        size_t end = nl ? (size_t)(nl - data) : size, n = end - at;
        lineno++;
        if (n && data[at + n - 1] == '\r')
            n--;
        if (n)
            HERD_TRY(parse_line(r, data + at, n, lineno));
        at = end + 1;
    }
    for (int i = 0; i < r->n; i++)
        if (!r->line[i])
            return herd_fail(HERD_E_FORMAT, "%s: %d tokens but no rank %d", r->path, r->n, i);
    return HERD_OK;
}

/* The tokens and the special tokens after them, as the builder takes them. */
static herd_status build(rank_table *r, herd_tokenizer **out)
{
    int n = r->n + HERD_LLAMA3_N_SPECIAL;
    const char **pieces = malloc((size_t)n * sizeof *pieces);
    size_t *lens = malloc((size_t)n * sizeof *lens);
    int *types = malloc((size_t)n * sizeof *types);
    char *names = malloc((size_t)HERD_LLAMA3_N_SPECIAL * 64);
    herd_status s = HERD_OK;
    if (!pieces || !lens || !types || !names) {
        s = herd_fail(HERD_E_NOMEM, "%s: out of memory", r->path);
        goto done;
    }
    for (int i = 0; i < r->n; i++) {
        pieces[i] = r->bytes + r->start[i];
        lens[i] = r->lens[i];
        types[i] = HERD_PIECE_NORMAL;
    }
    for (int i = 0; i < HERD_LLAMA3_N_SPECIAL; i++) {
        char *p = names + 64 * i;
        herd_llama3_special_name(i, p, 64);
        pieces[r->n + i] = p;
        lens[r->n + i] = strlen(p);
        types[r->n + i] = HERD_PIECE_CONTROL;
    }
    herd_bpe_spec spec = {.n = n, .pieces = pieces, .lens = lens, .types = types,
                          .ignore_merges = 1, .bos = r->n, .eos = r->n + 1};
    s = herd_bpe_build(&spec, r->path, out);
done:
    free(pieces);
    free(lens);
    free(types);
    free(names);
    return s;
}

herd_status herd_bpe_parse_ranks(const char *path, const char *data, size_t size,
                                 herd_tokenizer **out)
{
    *out = NULL;
    rank_table r = {.path = path, .cap = 1 << 24};
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (lines < (size_t)r.cap)
        r.cap = (int)lines;
    r.bytes = malloc(size + 1);
    r.start = malloc((size_t)r.cap * sizeof *r.start);
    r.lens = malloc((size_t)r.cap * sizeof *r.lens);
    r.line = calloc((size_t)r.cap, sizeof *r.line);
    herd_status s;
    if (!r.bytes || !r.start || !r.lens || !r.line)
        s = herd_fail(HERD_E_NOMEM, "%s: out of memory", path);
    else if ((s = parse_lines(&r, data, size)) == HERD_OK)
        s = build(&r, out);
    free(r.bytes);
    free(r.start);
    free(r.lens);
    free(r.line);
    return s;
}

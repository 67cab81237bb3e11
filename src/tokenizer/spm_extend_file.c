/* herd_spm_read_pieces: a pieces file for vocabulary extension, one piece
 * per line, every space written as SentencePiece's "▁" (U+2581). */
#include "tokenizer/spm_extend.h"
#include "tokenizer/spm.h"
#include "base/error.h"
#include "base/file.h"
#include <stdlib.h>
#include <string.h>

#define WS "\xE2\x96\x81"

/* Copies line (n bytes) to dst with spaces as "▁"; returns its new length. */
static size_t escape_line(char *dst, const char *line, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (line[i] == ' ') {
            memcpy(dst + k, WS, 3);
            k += 3;
        } else {
            dst[k++] = line[i];
        }
    }
    return k;
}

static herd_status check_line(const char *path, int lineno, const char *s, size_t n)
{
    if (n > HERD_MAX_PIECE)
        return herd_fail(HERD_E_UNSUPPORTED, "%s:%d: the piece is %zu bytes, longer than %d",
                         path, lineno, n, HERD_MAX_PIECE);
    for (size_t k = 0; k < n;) {
        int c = herd_utf8_len((const unsigned char *)s + k, n - k);
        if (c == 0)
            return herd_fail(HERD_E_FORMAT, "%s:%d: not valid UTF-8 (byte %zu of the line)",
                             path, lineno, k + 1);
        if (c == 1 && s[k] == 0)
            return herd_fail(HERD_E_FORMAT, "%s:%d: a NUL byte", path, lineno);
        k += (size_t)c;
    }
    return HERD_OK;
}

/* Splits data into escaped lines in out (room for 3 bytes per input byte). */
static herd_status split(const char *path, const char *data, size_t size, char *out,
                         const char **pieces, size_t *lens, int *n)
{
    size_t at = 0;
    int lineno = 0;
    for (size_t i = 0; i < size;) {
        const char *nl = memchr(data + i, '\n', size - i);
        size_t end = nl ? (size_t)(nl - data) : size, len = end - i;
        lineno++;
        if (len > 0 && data[i + len - 1] == '\r')
            len--;
        if (len > 0) {
            size_t k = escape_line(out + at, data + i, len);
            HERD_TRY(check_line(path, lineno, out + at, k));
            pieces[*n] = out + at;
            lens[(*n)++] = k;
            at += k;
        }
        i = end + 1;
    }
    if (*n == 0)
        return herd_fail(HERD_E_FORMAT, "%s: no pieces (the file has one piece per line)",
                         path);
    return HERD_OK;
}

herd_status herd_spm_read_pieces(const char *path, char **buf, const char ***pieces,
                                 size_t **lens, int *n)
{
    *buf = NULL;
    *pieces = NULL;
    *lens = NULL;
    *n = 0;
    char *data;
    size_t size;
    HERD_TRY(herd_read_file(path, &data, &size));
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    herd_status s = HERD_OK;
    if (size > ((size_t)1 << 30) || lines > (1u << 24))
        s = herd_fail(HERD_E_UNSUPPORTED, "%s: too large for a pieces file", path);
    if (s == HERD_OK) {
        *buf = malloc(3 * size + 1);
        *pieces = malloc(lines * sizeof **pieces);
        *lens = malloc(lines * sizeof **lens);
        if (!*buf || !*pieces || !*lens)
            s = herd_fail(HERD_E_NOMEM, "%s: out of memory", path);
    }
    if (s == HERD_OK)
        s = split(path, data, size, *buf, *pieces, *lens, n);
    free(data);
    if (s != HERD_OK) {
        free(*buf);
        free((void *)*pieces);
        free(*lens);
        *buf = NULL;
        *pieces = NULL;
        *lens = NULL;
        *n = 0;
    }
    return s;
}

/* llama2.c's tokenizer.bin: int32 max_token_length, then until the end of
 * the file, per token: float32 score, int32 length, the bytes (little
 * endian). llama2.c's exporter wrote SentencePiece's pieces with U+2581
 * turned into a space and <s>, </s> as "\n<s>\n", "\n</s>\n"; herd turns
 * them back, so the tokenizer is the SentencePiece one it came from.
 * Ids 0, 1, 2 are <unk>, <s>, </s>. */
#include "tokenizer/spm.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

static int32_t rd_i32(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    int32_t v;
    memcpy(&v, &u, 4);
    return v;
}

static float rd_f32(const uint8_t *p)
{
    int32_t v = rd_i32(p);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

int herd_llama2c_tok_sniff(const uint8_t *data, size_t size)
{
    if (size < 12)
        return 0;
    int32_t max_len = rd_i32(data), len = rd_i32(data + 8);
    return max_len >= 1 && max_len <= 4096 && len >= 0 && len <= max_len;
}

/* Walks the records: their count and the bytes of their pieces. */
static herd_status walk(const char *path, const uint8_t *d, size_t size, int *n, size_t *bytes)
{
    *n = 0;
    *bytes = 0;
    for (size_t pos = 4; pos < size;) {
        if (size - pos < 8)
            return herd_fail(HERD_E_FORMAT, "%s: truncated after %d tokens", path, *n);
        int32_t len = rd_i32(d + pos + 4);
        if (len < 0 || (size_t)len > size - pos - 8)
            return herd_fail(HERD_E_FORMAT, "%s: token %d has length %d, past the end of "
                             "the file", path, *n, len);
        if (*n >= (1 << 24))
            return herd_fail(HERD_E_FORMAT, "%s: more than %d tokens", path, 1 << 24);
        pos += 8 + (size_t)len;
        *bytes += (size_t)len;
        ++*n;
    }
    if (*n < 3)
        return herd_fail(HERD_E_FORMAT, "%s: %d tokens; a tokenizer.bin starts with <unk>, "
                         "<s>, </s>", path, *n);
    return HERD_OK;
}

/* Copies a piece into dst with spaces turned back into U+2581. */
static size_t unescape(char *dst, const uint8_t *src, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == ' ') {
            memcpy(dst + k, "\xE2\x96\x81", 3);
            k += 3;
        } else {
            dst[k++] = (char)src[i];
        }
    }
    return k;
}

typedef struct {
    const char **pieces;
    size_t *lens;
    float *scores;
    char *text;
} bin_vocab;

static void fill(const uint8_t *d, int n, bin_vocab *v)
{
    static const char *special[3] = {"<unk>", "<s>", "</s>"};
    size_t pos = 4, at = 0;
    for (int i = 0; i < n; i++) {
        size_t len = (size_t)rd_i32(d + pos + 4);
        v->scores[i] = rd_f32(d + pos);
        if (i < 3) {
            v->pieces[i] = special[i];
            v->lens[i] = strlen(special[i]);
        } else {
            v->pieces[i] = v->text + at;
            v->lens[i] = unescape(v->text + at, d + pos + 8, len);
            at += v->lens[i];
        }
        pos += 8 + len;
    }
}

herd_status herd_llama2c_tok_parse(const char *path, const uint8_t *data, size_t size,
                                   herd_tokenizer **out)
{
    int n;
    size_t bytes;
    if (size < 4)
        return herd_fail(HERD_E_FORMAT, "%s: truncated header", path);
    HERD_TRY(walk(path, data, size, &n, &bytes));
    bin_vocab v = {
        malloc((size_t)n * sizeof *v.pieces), malloc((size_t)n * sizeof *v.lens),
        malloc((size_t)n * sizeof *v.scores), malloc(3 * bytes + 1),
    };
    herd_status s = HERD_OK;
    if (!v.pieces || !v.lens || !v.scores || !v.text)
        s = herd_fail(HERD_E_NOMEM, "%s: out of memory for %d tokens", path, n);
    if (s == HERD_OK) {
        fill(data, n, &v);
        herd_spm_spec spec = {
            .n = n, .pieces = v.pieces, .lens = v.lens, .scores = v.scores, .types = NULL,
            .bos = 1, .eos = 2, .unk = 0, .add_dummy_prefix = 1, .remove_extra_ws = 0,
            .escape_ws = 1, .byte_fallback = -1,
        };
        s = herd_spm_build(&spec, path, out);
    }
    free(v.pieces);
    free(v.lens);
    free(v.scores);
    free(v.text);
    return s;
}

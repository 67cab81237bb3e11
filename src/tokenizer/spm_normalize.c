/* SentencePiece's normalizer with the identity rules Llama uses: no Unicode
 * normalization (herd refuses models with a precompiled NFKC map), an
 * optional dummy space in front, optional removal of extra spaces, and spaces
 * written as U+2581.
 *
 * Bytes that are not valid UTF-8 pass through unchanged here; the splitter
 * then makes each bad byte a symbol of its own, which byte fallback encodes
 * as <0xNN>, so decoding gives the original bytes back. (SentencePiece itself
 * replaces each bad byte with U+FFFD; Python strings never hold bad bytes,
 * so the two agree on every text the reference can be given.) */
#include "tokenizer/spm.h"
#include "base/error.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void put_ws(const herd_tokenizer *t, char *out, size_t *n)
{
    if (t->escape_ws) {
        memcpy(out + *n, "\xE2\x96\x81", 3);
        *n += 3;
    } else {
        out[(*n)++] = ' ';
    }
}

herd_status herd_spm_normalize(const herd_tokenizer *t, const char *text, size_t len,
                               char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    size_t i = 0;
    if (t->remove_extra_ws)
        while (i < len && text[i] == ' ')
            i++;
    if (i == len)
        return HERD_OK;
    if (len > (SIZE_MAX - 8) / 3 || len > (size_t)INT32_MAX / 4)
        return herd_fail(HERD_E_RANGE, "tokenize: %zu bytes of text is too long", len);
    char *buf = malloc(3 * len + 4);
    if (!buf)
        return herd_fail(HERD_E_NOMEM, "tokenize: out of memory for %zu bytes of text", len);
    size_t n = 0;
    if (t->add_dummy_prefix)
        put_ws(t, buf, &n);
    int pending = 0;
    for (; i < len; i++) {
        if (text[i] != ' ') {
            if (pending)
                put_ws(t, buf, &n);
            pending = 0;
            buf[n++] = text[i];
        } else if (t->remove_extra_ws) {
            pending = 1;
        } else {
            put_ws(t, buf, &n);
        }
    }
    *out = buf;
    *out_len = n;
    return HERD_OK;
}

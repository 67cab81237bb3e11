/* Decoding one token at a time, as SentencePiece's decoder joins pieces; a
 * byte BPE token is simply its bytes (special tokens their text). */
#include "tokenizer/spm.h"
#include <string.h>

#define WS_ESCAPED "\xE2\x96\x81"

int herd_token_to_bytes(const herd_tokenizer *t, int prev, int id, char *buf)
{
    if (!t || !buf || id < 0 || id >= t->n_vocab)
        return -1;
    const char *p = t->blob + t->off[id];
    size_t n = t->len[id], k = 0, i = 0;
    int b;
    if (t->kind == HERD_TOK_BYTE_BPE) {
        memcpy(buf, p, n);
        return (int)n;
    }
    switch (t->type[id]) {
    case HERD_PIECE_CONTROL:
        return 0;
    case HERD_PIECE_UNKNOWN:
        n = strlen(t->unk_surface);
        memcpy(buf, t->unk_surface, n);
        return (int)n;
    case HERD_PIECE_BYTE:
        if ((b = herd_byte_piece_value(p, n)) >= 0) {
            buf[0] = (char)b;
            return 1;
        }
        break; /* not spelled <0xNN>: its text as it is */
    default:
        break;
    }
    const char *ws = t->escape_ws ? WS_ESCAPED : " ";
    size_t wn = strlen(ws);
    /* The dummy prefix: the first piece after BOS loses its leading space. */
    if (t->add_dummy_prefix && t->bos >= 0 && prev == t->bos && n >= wn &&
        memcmp(p, ws, wn) == 0)
        i = wn;
    while (i < n) {
        if (i + wn <= n && memcmp(p + i, ws, wn) == 0) {
            buf[k++] = ' ';
            i += wn;
        } else {
            buf[k++] = p[i++];
        }
    }
    return (int)k;
}

/* Building a SentencePiece tokenizer from its vocabulary, and the accessors
 * every loader and writer shares. */
#include "tokenizer/spm.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

#define WS_ESCAPED "\xE2\x96\x81" /* U+2581, SentencePiece's space */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int herd_byte_piece_value(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static int infer_type(const herd_spm_spec *s, int id)
{
    if (id == s->unk)
        return HERD_PIECE_UNKNOWN;
    if (id == s->bos || id == s->eos)
        return HERD_PIECE_CONTROL;
    if (herd_byte_piece_value(s->pieces[id], s->lens[id]) >= 0)
        return HERD_PIECE_BYTE;
    return HERD_PIECE_NORMAL;
}

static int mergeable(int type)
{
    return type == HERD_PIECE_NORMAL || type == HERD_PIECE_USER_DEFINED ||
           type == HERD_PIECE_UNUSED;
}

/* Whether a piece holds whitespace right after another character. */
static int ws_after_char(const char *p, size_t n, const char *ws, size_t wn)
{
    for (size_t k = 1; k + wn <= n; k++)
        if (memcmp(p + k, ws, wn) == 0 && (k < wn || memcmp(p + k - wn, ws, wn) != 0))
            return 1;
    return 0;
}

/* byte_id, word_split and the user-defined prefix table. */
static void derive(herd_tokenizer *t)
{
    const char *ws = t->escape_ws ? WS_ESCAPED : " ";
    size_t wn = strlen(ws);
    for (int b = 0; b < 256; b++)
        t->byte_id[b] = -1;
    t->word_split = 1;
    for (int id = 0; id < t->n_vocab; id++) {
        const char *p = t->blob + t->off[id];
        size_t n = t->len[id];
        int b = herd_byte_piece_value(p, n);
        if (t->type[id] == HERD_PIECE_BYTE && b >= 0 && t->byte_id[b] < 0)
            t->byte_id[b] = id;
        if (mergeable(t->type[id]) && ws_after_char(p, n, ws, wn))
            t->word_split = 0;
        if (t->type[id] == HERD_PIECE_USER_DEFINED && n > 0) {
            if ((int)n > t->max_user_len)
                t->max_user_len = (int)n;
            t->user_first[(unsigned char)p[0] >> 3] |= (uint8_t)(1u << (p[0] & 7));
        }
    }
}

static herd_status check_spec(const herd_spm_spec *s, const char *what, size_t *total)
{
    if (s->n < 1 || s->n > (1 << 24))
        return herd_fail(HERD_E_FORMAT, "%s: %d pieces in the vocabulary", what, s->n);
    int ids[3] = {s->bos, s->eos, s->unk};
    for (int i = 0; i < 3; i++)
        if (ids[i] < -1 || ids[i] >= s->n)
            return herd_fail(HERD_E_FORMAT, "%s: special token id %d is outside the %d pieces",
                             what, ids[i], s->n);
    *total = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->lens[i] > HERD_MAX_PIECE || (s->lens[i] && !s->pieces[i]))
            return herd_fail(HERD_E_UNSUPPORTED, "%s: piece %d is %zu bytes, longer than %d",
                             what, i, s->lens[i], HERD_MAX_PIECE);
        if (s->types && (s->types[i] < HERD_PIECE_NORMAL || s->types[i] > HERD_PIECE_BYTE))
            return herd_fail(HERD_E_FORMAT, "%s: piece %d has unknown type %d", what, i,
                             s->types[i]);
        *total += s->lens[i] + 1;
    }
    if (s->unk_surface_len >= sizeof ((herd_tokenizer *)0)->unk_surface)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: the unknown surface is too long", what);
    return HERD_OK;
}

herd_status herd_vocab_fill(herd_tokenizer *t, int n, const char *const *pieces,
                            const size_t *lens, size_t total, const char *what)
{
    t->blob = malloc(total);
    t->off = malloc((size_t)n * sizeof *t->off);
    t->len = malloc((size_t)n * sizeof *t->len);
    t->score = calloc((size_t)n, sizeof *t->score);
    t->type = malloc((size_t)n);
    if (!t->blob || !t->off || !t->len || !t->score || !t->type)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory for %d pieces", what, n);
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        if (lens[i])
            memcpy(t->blob + at, pieces[i], lens[i]);
        t->blob[at + lens[i]] = 0;
        t->off[i] = (uint32_t)at;
        t->len[i] = (uint32_t)lens[i];
        at += lens[i] + 1;
    }
    return HERD_OK;
}

static herd_status fill(herd_tokenizer *t, const herd_spm_spec *s, size_t total, const char *what)
{
    HERD_TRY(herd_vocab_fill(t, s->n, s->pieces, s->lens, total, what));
    for (int i = 0; i < s->n; i++) {
        t->score[i] = s->scores ? s->scores[i] : 0.0f;
        t->type[i] = (uint8_t)(s->types ? s->types[i] : infer_type(s, i));
    }
    return HERD_OK;
}

static void set_flags(herd_tokenizer *t, const herd_spm_spec *s)
{
    t->kind = HERD_TOK_SPM;
    t->n_vocab = s->n;
    t->bos = s->bos;
    t->eos = s->eos;
    t->unk = s->unk;
    t->add_dummy_prefix = !!s->add_dummy_prefix;
    t->remove_extra_ws = !!s->remove_extra_ws;
    t->escape_ws = !!s->escape_ws;
    if (s->unk_surface)
        memcpy(t->unk_surface, s->unk_surface, s->unk_surface_len);
    else
        strcpy(t->unk_surface, " \xE2\x81\x87 ");
}

herd_status herd_spm_build(const herd_spm_spec *s, const char *what, herd_tokenizer **out)
{
    *out = NULL;
    size_t total = 0;
    HERD_TRY(check_spec(s, what, &total));
    herd_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", what);
    set_flags(t, s);
    herd_status st = fill(t, s, total, what);
    if (st == HERD_OK)
        st = herd_piece_map_init(t, what);
    if (st != HERD_OK) {
        herd_tokenizer_free(t);
        return st;
    }
    derive(t);
    int any_byte = 0;
    for (int b = 0; b < 256; b++)
        any_byte |= t->byte_id[b] >= 0;
    t->byte_fallback = s->byte_fallback < 0 ? any_byte : !!s->byte_fallback;
    *out = t;
    return HERD_OK;
}

herd_status herd_spm_from_vocab(int n, const char *const *pieces, const size_t *lens,
                                const float *scores, const int *types, int bos, int eos,
                                int unk, int add_dummy_prefix, herd_tokenizer **out)
{
    if (!out || n < 1 || !pieces || !lens)
        return herd_fail(HERD_E_ARG, "herd_spm_from_vocab: no vocabulary");
    herd_spm_spec s = {
        .n = n, .pieces = pieces, .lens = lens, .scores = scores, .types = types,
        .bos = bos, .eos = eos, .unk = unk, .add_dummy_prefix = add_dummy_prefix,
        .remove_extra_ws = 0, .escape_ws = 1, .byte_fallback = -1,
    };
    return herd_spm_build(&s, "vocabulary", out);
}

void herd_tokenizer_free(herd_tokenizer *t)
{
    if (!t)
        return;
    herd_bpe_free(t->bpe);
    free(t->map.slots);
    free(t->blob);
    free(t->off);
    free(t->len);
    free(t->score);
    free(t->type);
    free(t);
}

int herd_tokenizer_n_vocab(const herd_tokenizer *t) { return t ? t->n_vocab : 0; }
int herd_tokenizer_bos(const herd_tokenizer *t) { return t ? t->bos : -1; }
int herd_tokenizer_eos(const herd_tokenizer *t) { return t ? t->eos : -1; }
int herd_tokenizer_unk(const herd_tokenizer *t) { return t ? t->unk : -1; }
int herd_tokenizer_add_dummy_prefix(const herd_tokenizer *t) { return t && t->add_dummy_prefix; }

const char *herd_token_piece(const herd_tokenizer *t, int id)
{
    return t && id >= 0 && id < t->n_vocab ? t->blob + t->off[id] : NULL;
}

float herd_token_score(const herd_tokenizer *t, int id)
{
    return t && id >= 0 && id < t->n_vocab ? t->score[id] : 0.0f;
}

herd_piece_type herd_token_type(const herd_tokenizer *t, int id)
{
    return t && id >= 0 && id < t->n_vocab ? (herd_piece_type)t->type[id] : HERD_PIECE_UNKNOWN;
}

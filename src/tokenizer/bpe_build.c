/* Building a byte BPE tokenizer from its tokens (and merges, when the source
 * lists them), and freeing its state. */
#include "tokenizer/bpe.h"
#include "base/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int known_type(int type)
{
    return type == HERD_PIECE_NORMAL || type == HERD_PIECE_CONTROL ||
           type == HERD_PIECE_USER_DEFINED || type == HERD_PIECE_UNUSED;
}

static herd_status check_spec(const herd_bpe_spec *s, const char *what, size_t *total)
{
    if (s->n < 256 || s->n > (1 << 24))
        return herd_fail(HERD_E_FORMAT, "%s: %d tokens in the vocabulary", what, s->n);
    if (s->bos < -1 || s->bos >= s->n || s->eos < -1 || s->eos >= s->n)
        return herd_fail(HERD_E_FORMAT, "%s: BOS %d or EOS %d is outside the %d tokens", what,
                         s->bos, s->eos, s->n);
    if (s->n_merges < 0 || (s->n_merges > 0 && !s->merges))
        return herd_fail(HERD_E_ARG, "%s: no merges", what);
    *total = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->lens[i] > HERD_MAX_PIECE || (s->lens[i] && !s->pieces[i]))
            return herd_fail(HERD_E_UNSUPPORTED, "%s: token %d is %zu bytes, longer than %d",
                             what, i, s->lens[i], HERD_MAX_PIECE);
        if (!known_type(s->types[i]))
            return herd_fail(HERD_E_FORMAT, "%s: token %d has type %d", what, i, s->types[i]);
        if (s->lens[i] == 0 && s->types[i] != HERD_PIECE_UNUSED)
            return herd_fail(HERD_E_FORMAT, "%s: token %d is empty", what, i);
        *total += s->lens[i] + 1;
    }
    return HERD_OK;
}

static herd_status fill(herd_tokenizer *t, const herd_bpe_spec *s, size_t total, const char *what)
{
    HERD_TRY(herd_vocab_fill(t, s->n, s->pieces, s->lens, total, what));
    if (!(t->bpe = calloc(1, sizeof *t->bpe)))
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", what);
    for (int i = 0; i < s->n; i++)
        t->type[i] = (uint8_t)s->types[i];
    return HERD_OK;
}

/* Every mergeable token is unique, and every byte is a token. */
static herd_status check_tokens(herd_tokenizer *t, const char *what)
{
    for (int id = 0; id < t->n_vocab; id++) {
        if (t->type[id] != HERD_PIECE_NORMAL)
            continue;
        int first = herd_piece_find(t, t->blob + t->off[id], t->len[id]);
        if (first != id)
            return herd_fail(HERD_E_FORMAT, "%s: tokens %d and %d have the same bytes", what,
                             first, id);
    }
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        int id = herd_piece_find(t, &c, 1);
        if (id < 0 || t->type[id] != HERD_PIECE_NORMAL)
            return herd_fail(HERD_E_FORMAT, "%s: no token for the byte 0x%02X", what, b);
        t->byte_id[b] = id;
    }
    return HERD_OK;
}

static herd_status build(herd_tokenizer *t, const herd_bpe_spec *s, size_t total,
                         const char *what)
{
    HERD_TRY(fill(t, s, total, what));
    HERD_TRY(herd_piece_map_init(t, what));
    HERD_TRY(check_tokens(t, what));
    t->bpe->ignore_merges = s->merges ? !!s->ignore_merges : 1;
    if (s->merges)
        HERD_TRY(herd_bpe_pairs_init(t, s->merges, s->n_merges, what));
    HERD_TRY(herd_bpe_special_init(t, what));
    return herd_bpe_regex_compile(t->bpe);
}

herd_status herd_bpe_build(const herd_bpe_spec *s, const char *what, herd_tokenizer **out)
{
    *out = NULL;
    size_t total = 0;
    HERD_TRY(check_spec(s, what, &total));
    herd_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", what);
    t->kind = HERD_TOK_BYTE_BPE;
    t->n_vocab = s->n;
    t->bos = s->bos;
    t->eos = s->eos;
    t->unk = -1;
    herd_status st = build(t, s, total, what);
    if (st != HERD_OK) {
        herd_tokenizer_free(t);
        return st;
    }
    *out = t;
    return HERD_OK;
}

void herd_bpe_free(struct herd_bpe *b)
{
    if (!b)
        return;
    if (b->re)
        herd_bpe_regex_free(b);
    free(b->pairs);
    free(b->special.slots);
    free(b);
}

/* Meta's llama3 tokenizer.py (meta-llama/llama3): ten named tokens, then
 * reserved ones numbered on from 5. Llama 3.1's tokenizer.json renames some
 * reserved ids (128010 <|python_tag|>, ...); those come from its own file. */
void herd_llama3_special_name(int i, char *buf, size_t n)
{
    static const char *const named[10] = {
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
        "<|reserved_special_token_1|>", "<|reserved_special_token_2|>",
        "<|reserved_special_token_3|>", "<|start_header_id|>", "<|end_header_id|>",
        "<|reserved_special_token_4|>", "<|eot_id|>",
    };
    if (i >= 0 && i < 10)
        snprintf(buf, n, "%s", named[i]);
    else
        snprintf(buf, n, "<|reserved_special_token_%d|>", i - 5);
}

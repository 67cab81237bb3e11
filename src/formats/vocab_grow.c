/* herd_model_grow_vocab: token_embd (and an untied output) get one new row
 * per appended piece, the mean of the old rows or zero; the old rows are
 * copied as they are (dequantized to F32 when the matrix is quantized). */
#include "formats/vocab_grow.h"
#include "tokenizer/spm.h"
#include "quant/quant.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

/* tok must extend m's tokenizer: m's pieces first, byte for byte. */
static herd_status check_extends(const herd_model *m, const herd_tokenizer *tok)
{
    const herd_tokenizer *old = m->tok;
    if (!old)
        return herd_fail(HERD_E_ARG, "the model carries no tokenizer (give its "
                         "tokenizer.model with -z)");
    int n = old->n_vocab;
    if (n != m->cfg.vocab_size)
        return herd_fail(HERD_E_FORMAT, "the tokenizer has %d tokens but the model's "
                         "vocabulary is %d", n, m->cfg.vocab_size);
    if (!tok || tok->n_vocab <= n)
        return herd_fail(HERD_E_ARG, "the new tokenizer adds no pieces");
    for (int i = 0; i < n; i++)
        if (tok->len[i] != old->len[i] ||
            memcmp(tok->blob + tok->off[i], old->blob + old->off[i], old->len[i]) != 0)
            return herd_fail(HERD_E_ARG, "the new tokenizer's piece %d is not the model's", i);
    return HERD_OK;
}

/* A copy of t with rows grown to n_rows; the new rows the mean or zero. */
static herd_status grow(herd_model *m, const herd_tensor *t, int64_t n_rows,
                        herd_grow_init init, herd_tensor *out)
{
    herd_type type = herd_type_size(t->type) ? t->type : HERD_TYPE_F32;
    const herd_qtraits *in = herd_qtraits_get((herd_qtype)t->type);
    const herd_qtraits *st = herd_qtraits_get((herd_qtype)type);
    size_t in_row = herd_row_bytes(t->type, t->cols), row = herd_row_bytes(type, t->cols);
    if (!in || !st || !in_row || !row)
        return herd_fail(HERD_E_UNSUPPORTED, "a %s embedding matrix", herd_type_name(t->type));
    char *dst = herd_owned_alloc(&m->owned, (size_t)n_rows * row);
    double *sum = calloc((size_t)t->cols, sizeof *sum);
    float *tmp = malloc((size_t)t->cols * sizeof *tmp);
    if (!dst || !sum || !tmp) {
        free(sum);
        free(tmp);
        return herd_fail(HERD_E_NOMEM, "out of memory for the grown embeddings");
    }
    for (int64_t r = 0; r < t->rows; r++) {
        const char *src = (const char *)t->data + (size_t)r * in_row;
        in->to_float(src, tmp, t->cols);
        if (type == t->type)
            memcpy(dst + (size_t)r * row, src, row);
        else
            memcpy(dst + (size_t)r * row, tmp, row);
        for (int64_t c = 0; c < t->cols; c++)
            sum[c] += tmp[c];
    }
    for (int64_t c = 0; c < t->cols; c++)
        tmp[c] = init == HERD_GROW_ZERO ? 0.0f : (float)(sum[c] / (double)t->rows);
    for (int64_t r = t->rows; r < n_rows; r++)
        st->from_float(tmp, dst + (size_t)r * row, t->cols);
    free(sum);
    free(tmp);
    *out = (herd_tensor){.data = dst, .type = type, .rows = n_rows, .cols = t->cols};
    return HERD_OK;
}

herd_status herd_model_grow_vocab(herd_model *m, herd_tokenizer *tok, herd_grow_init init)
{
    HERD_TRY(check_extends(m, tok));
    int n = tok->n_vocab;
    herd_tensor emb, outp = m->w.output;
    HERD_TRY(grow(m, &m->w.tok_embeddings, n, init, &emb));
    if (!m->cfg.tied_embeddings && m->w.output.data)
        HERD_TRY(grow(m, &m->w.output, n, init, &outp));
    m->w.tok_embeddings = emb;
    m->w.output = outp;
    m->cfg.vocab_size = n;
    herd_tokenizer_free(m->tok);
    m->tok = tok;
    return HERD_OK;
}

/* tokenizer.model for a SentencePiece tokenizer: a ModelProto written by
 * hand (the fields spm_proto.c reads, numbered as sentencepiece_model.proto
 * numbers them), so that SentencePiece, transformers' LlamaTokenizer and
 * herd encode with it as with the original.
 *   ModelProto     1: pieces {1 piece, 2 score, 3 type}, 2: trainer_spec,
 *                  3: normalizer_spec
 *   TrainerSpec    3 model_type (2 = BPE), 4 vocab_size, 35 byte_fallback,
 *                  40..43 unk/bos/eos/pad ids, 44 unk_surface
 *   NormalizerSpec 1 name, 3 add_dummy_prefix, 4 remove_extra_whitespaces,
 *                  5 escape_whitespaces */
#include "formats/convert.h"
#include "formats/gguf_buf.h"
#include "tokenizer/spm.h"
#include "base/error.h"
#include <string.h>

static void varint(herd_gbuf *b, uint64_t v)
{
    uint8_t buf[10];
    int n = 0;
    do {
        buf[n++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    herd_gbuf_put(b, buf, (size_t)n);
}

static void tag(herd_gbuf *b, uint32_t field, int wire)
{
    varint(b, (uint64_t)field << 3 | (uint64_t)wire);
}

/* An int32 or bool field: negative values as ten-byte varints. */
static void int_field(herd_gbuf *b, uint32_t field, int v)
{
    tag(b, field, 0);
    varint(b, (uint64_t)(int64_t)v);
}

static void bytes_field(herd_gbuf *b, uint32_t field, const void *p, size_t n)
{
    tag(b, field, 2);
    varint(b, n);
    herd_gbuf_put(b, p, n);
}

static void piece(herd_gbuf *b, herd_gbuf *tmp, const herd_tokenizer *t, int id)
{
    tmp->n = 0;
    bytes_field(tmp, 1, t->blob + t->off[id], t->len[id]);
    tag(tmp, 2, 5);
    uint32_t u;
    memcpy(&u, &t->score[id], 4);
    uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    herd_gbuf_put(tmp, le, 4);
    int_field(tmp, 3, t->type[id]);
    bytes_field(b, 1, tmp->p, tmp->n);
}

static void trainer(herd_gbuf *b, herd_gbuf *tmp, const herd_tokenizer *t)
{
    tmp->n = 0;
    int_field(tmp, 3, 2);
    int_field(tmp, 4, t->n_vocab);
    int_field(tmp, 35, t->byte_fallback);
    int_field(tmp, 40, t->unk);
    int_field(tmp, 41, t->bos);
    int_field(tmp, 42, t->eos);
    int_field(tmp, 43, -1);
    bytes_field(tmp, 44, t->unk_surface, strlen(t->unk_surface));
    bytes_field(b, 2, tmp->p, tmp->n);
}

static void normalizer(herd_gbuf *b, herd_gbuf *tmp, const herd_tokenizer *t)
{
    tmp->n = 0;
    bytes_field(tmp, 1, "identity", 8);
    int_field(tmp, 3, t->add_dummy_prefix);
    int_field(tmp, 4, t->remove_extra_ws);
    int_field(tmp, 5, t->escape_ws);
    bytes_field(b, 3, tmp->p, tmp->n);
}

herd_status herd_hf_write_spm(const herd_tokenizer *t, const char *dir)
{
    if (herd_tokenizer_kind(t) != HERD_TOK_SPM)
        return herd_fail(HERD_E_ARG, "tokenizer.model: not a SentencePiece tokenizer");
    herd_gbuf b = {0}, tmp = {0};
    for (int i = 0; i < t->n_vocab; i++)
        piece(&b, &tmp, t, i);
    trainer(&b, &tmp, t);
    normalizer(&b, &tmp, t);
    herd_status s = b.oom || tmp.oom
                        ? herd_fail(HERD_E_NOMEM, "tokenizer.model: out of memory")
                        : herd_hf_write_file(dir, "tokenizer.model", b.p, b.n);
    herd_gbuf_free(&b);
    herd_gbuf_free(&tmp);
    return s;
}

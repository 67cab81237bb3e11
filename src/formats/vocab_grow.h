/* herd extend-vocab, the model side: a model's vocabulary grown to match an
 * extended tokenizer (token_embd and, when untied, output get new rows),
 * saved as GGUF with every other tensor as it was; and an extended
 * tokenizer saved alone as a SentencePiece tokenizer.model. Both outputs
 * are written under a temporary name and renamed into place. */
#ifndef HERD_FORMATS_VOCAB_GROW_H
#define HERD_FORMATS_VOCAB_GROW_H
#include "formats/convert.h"

typedef enum {
    HERD_GROW_MEAN = 0,  /* each new row is the mean of the existing rows */
    HERD_GROW_ZERO = 1   /* each new row is zero */
} herd_grow_init;

/* Grows m (loaded with herd_model_load, not prepared) in place to tok's
 * vocabulary, which must begin with m's own pieces (same bytes, same
 * order) and be longer. The old rows keep their values and type (F32, F16,
 * BF16; a quantized matrix becomes F32, its rows dequantized); the new
 * rows are the mean of the old ones (computed in double) or zero. On
 * success m owns tok and its old tokenizer is freed; on failure the caller
 * keeps tok and m is unchanged. */
herd_status herd_model_grow_vocab(herd_model *m, herd_tokenizer *tok, herd_grow_init init);

/* Writes m as GGUF with every tensor in the type it has (bytes copied as
 * they are), the metadata herd writes for a model, tokenizer included.
 * An existing out is an error unless force. */
herd_status herd_save_gguf_as_is(const herd_model *m, const char *out, int force,
                                 herd_progress_fn progress, void *user);

/* Writes a SentencePiece tokenizer as tokenizer.model (protobuf) to path,
 * through a temporary folder beside it. An existing path is an error
 * unless force. */
herd_status herd_spm_save(const herd_tokenizer *t, const char *path, int force);

#endif

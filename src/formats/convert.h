/* herd convert: a model in any format herd reads (GGUF, Hugging Face
 * folder, llama2.c) written as GGUF or as a Hugging Face folder, with its
 * tokenizer and chat template. The pieces: opening a model without widening
 * its weights (herd_model_load), the output's replace-or-refuse logic
 * (convert.c), element-type conversion of rows (convert_rows.c), Llama 3.1's
 * rope scaling as llama.cpp's rope_freqs divisors and back
 * (convert_rope.c), a byte-level BPE tokenizer's merges list
 * (convert_merges.c), and the writers (gguf_write*.c, hf_write*.c). */
#ifndef HERD_FORMATS_CONVERT_H
#define HERD_FORMATS_CONVERT_H
#include <stdint.h>
#include "model/model.h"

/* Called before each tensor is written: index i of n, its name. */
typedef void (*herd_progress_fn)(void *user, int i, int n, const char *name);
/* A message about something the output leaves out (no tokenizer, ...). */
typedef void (*herd_warn_fn)(void *user, const char *msg);

typedef struct {
    herd_type type;            /* 2-D weights: F32, F16 or BF16; norms stay F32 */
    int force;                 /* replace an existing output */
    herd_progress_fn progress; /* may be NULL */
    herd_warn_fn warn;         /* may be NULL */
    void *user;
} herd_convert_opts;

/* Writes m to out: GGUF when out ends in ".gguf", else a Hugging Face
 * folder. An existing out is an error unless o->force; either way the
 * output is written beside it under a temporary name and renamed into
 * place, so a failure leaves no partial output and an existing one
 * untouched. */
herd_status herd_convert_save(const herd_model *m, const char *out, const herd_convert_opts *o);

/* herd_save_gguf with a progress callback (gguf_write.c). */
herd_status herd_save_gguf_ex(const herd_model *m, const char *path, herd_type type,
                              herd_progress_fn progress, void *user);

/* Writes a Hugging Face folder into dir, which must exist (hf_write.c):
 * config.json, model.safetensors (HF tensor names; q/k rows in the
 * half-split order), and the tokenizer: tokenizer.model (SentencePiece
 * protobuf) or tokenizer.json (byte-level BPE), with tokenizer_config.json
 * (bos/eos, chat template). *wrote_tokenizer says whether there was one. */
herd_status herd_save_hf(const herd_model *m, const char *dir, herd_type type,
                         herd_progress_fn progress, void *user, int *wrote_tokenizer);

/* ---- the files of a Hugging Face folder (hf_write_*.c) ---- */

/* config.json: model_type llama and every field herd's config has, rope
 * scaling included (from rope_freqs.weight when the model has that). */
herd_status herd_hf_write_config(const herd_model *m, const char *dir, herd_type type);
/* model.safetensors, streamed tensor by tensor (never the whole model in
 * memory): HF names, 2-D weights as type, norms F32. */
herd_status herd_hf_write_weights(const herd_model *m, const char *dir, herd_type type,
                                  herd_progress_fn progress, void *user);
/* tokenizer.model: a SentencePiece ModelProto (BPE, identity normalizer)
 * with the tokenizer's pieces, scores, types and settings. */
herd_status herd_hf_write_spm(const herd_tokenizer *t, const char *dir);
/* tokenizer.json: Llama 3's byte-level BPE pipeline with the tokenizer's
 * vocabulary, added tokens and merges. */
herd_status herd_hf_write_tokenizer_json(const herd_tokenizer *t, const char *dir);
/* tokenizer_config.json: bos/eos (and unk), the tokenizer class, the chat
 * template when the model has one. */
herd_status herd_hf_write_tokenizer_config(const herd_model *m, const char *dir);
/* Writes len bytes to dir/name, flushed to disk. */
herd_status herd_hf_write_file(const char *dir, const char *name, const void *data,
                               size_t len);
/* Writes a JSON document to dir/name (pretty-printed unless compact). */
struct cJSON;
herd_status herd_hf_write_json(const char *dir, const char *name, const struct cJSON *j,
                               int compact);

/* ---- pieces of the writers ---- */

/* Converts n elements from src (type st) to dst (type dt); F32, F16, BF16. */
void herd_convert_row(void *dst, herd_type dt, const void *src, herd_type st, int64_t n);

/* llama.cpp's rope_freqs.weight for Llama 3.1's scaling (convert_hf_to_gguf
 * .py): for each pair i < head_dim/2, the divisor of theta^(-2i/head_dim). */
void herd_llama3_rope_factors(const herd_config *c, float *div);
/* The inverse: the rope scaling a rope_freqs tensor stands for, written
 * into c (NONE when every divisor is 1; LINEAR when all are equal;
 * otherwise LLAMA3 with low_freq_factor 1 and high_freq_factor 4, as every
 * published Llama 3.1/3.2 has, and the original context solved from the
 * blended divisors). HERD_E_UNSUPPORTED when no such config gives the same
 * divisors (to 1e-5 relative). */
herd_status herd_llama3_scaling_from_factors(herd_config *c, const float *div);

/* The merges of a byte-level BPE tokenizer as (left, right) id pairs in
 * rank order (malloc'd, *n pairs): the list the tokenizer was built with
 * (tokenizer.json, GGUF), or, for Meta's tiktoken rank file, which has
 * none, the list Hugging Face's TikTokenConverter derives: for each token
 * in rank order every split into two tokens, ordered by the parts' ranks.
 * BPE over that list merges exactly as tiktoken's ranks do. */
herd_status herd_bpe_merge_list(const herd_tokenizer *t, int32_t **pairs, int *n);

#endif

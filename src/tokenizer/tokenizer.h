/* Tokenizer internals shared with the loaders. */
#ifndef HERD_TOKENIZER_TOKENIZER_H
#define HERD_TOKENIZER_TOKENIZER_H
#include <stddef.h>
#include "herd.h"

/* SentencePiece's piece types (the same numbers GGUF's
 * tokenizer.ggml.token_type uses). */
typedef enum {
    HERD_PIECE_NORMAL = 1,
    HERD_PIECE_UNKNOWN = 2,
    HERD_PIECE_CONTROL = 3,
    HERD_PIECE_USER_DEFINED = 4,
    HERD_PIECE_UNUSED = 5,
    HERD_PIECE_BYTE = 6
} herd_piece_type;

/* Builds a SentencePiece BPE tokenizer from a vocabulary (as GGUF metadata
 * or a llama2.c tokenizer.bin gives it). pieces[i] has lens[i] bytes (not
 * NUL-terminated); types may be NULL (inferred: <unk>, <s>, </s>, <0xNN>).
 * bos/eos/unk are ids, -1 when absent. All arrays are copied. */
herd_status herd_spm_from_vocab(int n, const char *const *pieces,
                                const size_t *lens, const float *scores,
                                const int *types, int bos, int eos, int unk,
                                int add_dummy_prefix, herd_tokenizer **out);

/* Builds a byte-level BPE tokenizer (Llama 3) from a vocabulary as GGUF
 * "gpt2" metadata gives it: NORMAL (and BYTE) tokens spelled in GPT-2's
 * byte-to-unicode mapping, CONTROL (special), USER_DEFINED (always parsed
 * from text), UNKNOWN (taken as CONTROL) and UNUSED tokens as their text;
 * types may be NULL (all NORMAL). merges[i] is "a b" in GPT-2 spelling, its
 * rank i. A piece that is a token is that token (as llama.cpp encodes Llama
 * 3). bos/eos -1: <|begin_of_text|> / <|end_of_text|> when present. The
 * pre-tokenizer is Llama 3's. All arrays are copied. */
herd_status herd_bpe_from_vocab(int n, const char *const *tokens, const size_t *lens,
                                const int *types, int n_merges, const char *const *merges,
                                const size_t *merge_lens, int bos, int eos,
                                herd_tokenizer **out);

/* What a writer needs to store a tokenizer again (GGUF metadata). */
float herd_token_score(const herd_tokenizer *t, int id);
herd_piece_type herd_token_type(const herd_tokenizer *t, int id);
int herd_tokenizer_unk(const herd_tokenizer *t);
int herd_tokenizer_add_dummy_prefix(const herd_tokenizer *t);

#endif

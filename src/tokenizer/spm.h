/* The tokenizer behind herd_tokenizer: a vocabulary of pieces with a hash map
 * for lookup, and the settings of the algorithm that encodes with it.
 * Two kinds share the vocabulary: SentencePiece BPE (Llama 1/2, the fields
 * below) and byte-level BPE (Llama 3, the extra state in bpe, bpe.h). */
#ifndef HERD_TOKENIZER_SPM_H
#define HERD_TOKENIZER_SPM_H
#include <stddef.h>
#include <stdint.h>
#include "tokenizer/tokenizer.h"

/* herd_tok_kind (herd.h): HERD_TOK_SPM from tokenizer.model, tokenizer.bin
 * and GGUF "llama"; HERD_TOK_BYTE_BPE from Meta's Llama 3 tokenizer.model,
 * tokenizer.json and GGUF "gpt2". */

struct herd_bpe;

/* The longest piece herd keeps: herd_token_to_bytes writes a piece into a
 * caller's 256-byte buffer. */
#define HERD_MAX_PIECE 256

/* Open addressing from piece bytes to id; slots hold id + 1 (0: empty). */
typedef struct {
    uint32_t *slots;
    uint32_t mask;
} herd_piece_map;

struct herd_tokenizer {
    herd_tok_kind kind;
    int n_vocab, bos, eos, unk;
    struct herd_bpe *bpe;  /* byte BPE: regex, merges, special tokens; else NULL */
    char *blob;            /* every piece, a NUL after each */
    uint32_t *off, *len;   /* piece i is blob + off[i], len[i] bytes */
    float *score;
    uint8_t *type;         /* herd_piece_type */
    herd_piece_map map;
    int byte_id[256];      /* id of the piece <0xNN> (byte BPE: of the one-byte
                              token), -1 when absent */
    /* SentencePiece settings (trainer_spec and normalizer_spec). */
    int add_dummy_prefix;  /* prepend one space to the text */
    int remove_extra_ws;   /* strip spaces at both ends, squeeze runs */
    int escape_ws;         /* spaces become U+2581 */
    int byte_fallback;     /* a character with no piece becomes <0xNN> pieces */
    char unk_surface[32];  /* what <unk> decodes to */
    /* Derived at build time. */
    int word_split;        /* no mergeable piece has whitespace after another
                              character, so merges never cross a word start */
    int max_user_len;      /* longest user-defined piece, 0 when none */
    uint8_t user_first[32];/* bitmap: first bytes of user-defined pieces */
};

/* Everything the builder needs; arrays are copied. */
typedef struct {
    int n;
    const char *const *pieces;
    const size_t *lens;
    const float *scores;   /* NULL: all 0 */
    const int *types;      /* NULL: inferred from ids and <0xNN> */
    int bos, eos, unk;     /* -1 when absent */
    int add_dummy_prefix, remove_extra_ws, escape_ws;
    int byte_fallback;     /* -1: on when the vocabulary has byte pieces */
    const char *unk_surface; /* NULL: " \xE2\x81\x87 " as SentencePiece */
    size_t unk_surface_len;
} herd_spm_spec;

/* Builds a SentencePiece tokenizer; what names the source in messages. */
herd_status herd_spm_build(const herd_spm_spec *s, const char *what, herd_tokenizer **out);

/* Allocates a vocabulary of n pieces (total bytes with a NUL after each)
 * and copies them in; scores zeroed, types left for the caller. */
herd_status herd_vocab_fill(herd_tokenizer *t, int n, const char *const *pieces,
                            const size_t *lens, size_t total, const char *what);

/* Piece lookup: the id of the piece with these bytes, -1 when none. */
int herd_piece_find(const herd_tokenizer *t, const char *s, size_t n);
herd_status herd_piece_map_init(herd_tokenizer *t, const char *what);
/* The byte of a piece spelled <0xNN>, or -1. */
int herd_byte_piece_value(const char *s, size_t n);

/* Loaders (path names the file in messages; data is the whole file). */
herd_status herd_spm_parse_proto(const char *path, const uint8_t *data, size_t size,
                                 herd_tokenizer **out);
herd_status herd_llama2c_tok_parse(const char *path, const uint8_t *data, size_t size,
                                   herd_tokenizer **out);
/* Whether a file's first bytes look like a llama2.c tokenizer.bin. */
int herd_llama2c_tok_sniff(const uint8_t *data, size_t size);

/* UTF-8: the length of the valid character at s (n bytes left), or 0 when
 * the bytes there are not a well-formed character (bad lead byte, missing
 * continuation, overlong form, surrogate, beyond U+10FFFF). */
int herd_utf8_len(const unsigned char *s, size_t n);

/* SentencePiece's normalizer (identity rules): the normalized text in a new
 * malloc'd buffer (*out, *out_len; *out NULL when the text is empty). */
herd_status herd_spm_normalize(const herd_tokenizer *t, const char *text, size_t len,
                               char **out, size_t *out_len);

/* One symbol of the BPE: a slice of the normalized text. */
typedef struct {
    int32_t start, len;    /* len 0: merged into its left neighbour */
    int32_t prev, next;    /* -1 at the ends */
    int32_t freeze;        /* user-defined piece or a bad byte: never merged */
} herd_bpe_sym;

typedef struct {
    float score;
    int32_t left, right, size;
} herd_bpe_pair;

/* Scratch of one encoding, grown as needed and freed at the end. */
typedef struct {
    herd_bpe_sym *sym;
    int n_sym, cap_sym;
    herd_bpe_pair *heap;
    int n_heap, cap_heap;
    int32_t (*unused)[3];  /* merges that made an unused piece: start, left len, right len */
    int n_unused, cap_unused;
} herd_bpe_work;

/* The SentencePiece encoder behind herd_tokenize_ex (spm_encode.c). */
herd_status herd_spm_tokenize(const herd_tokenizer *t, const char *text, size_t len,
                              int add_bos, int add_eos, int *ids, int max, int *n_out);
/* Frees the byte BPE state (NULL: nothing); herd_tokenizer_free calls it. */
void herd_bpe_free(struct herd_bpe *b);

/* Merges the symbols w->sym[0..n_sym) of text as SentencePiece's BPE does. */
herd_status herd_bpe_merge(const herd_tokenizer *t, const char *text, herd_bpe_work *w);
void herd_bpe_work_free(herd_bpe_work *w);
/* Makes room for need elements of elem bytes in p (capacity *cap): the
 * array, moved or not, or NULL when out of memory (p is then still valid). */
void *herd_grow(void *p, int *cap, int need, size_t elem);

#endif

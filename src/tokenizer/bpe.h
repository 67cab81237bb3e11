/* Byte-level BPE (Llama 3, tiktoken style): the state behind a
 * herd_tokenizer of kind HERD_TOK_BYTE_BPE and the steps of its encoder.
 *
 * Token i's bytes are the shared vocabulary's piece i (spm.h: blob, off,
 * len, map). Types: NORMAL tokens take part in BPE; CONTROL tokens are the
 * special tokens (parsed from text only with HERD_TOKENIZE_SPECIAL);
 * USER_DEFINED tokens are added tokens that are always parsed from text;
 * UNUSED marks ids no token has.
 *
 * Encoding: split the text at special tokens (bpe_special.c), split each
 * stretch at bytes that are not valid UTF-8 (each such byte is the token of
 * that byte), cut the valid UTF-8 into pieces with the Llama 3 regex
 * (bpe_regex.c), then each piece is one token when it is one (the fast
 * path), else merged from its bytes (bpe_merge.c).
 *
 * Two ways to rank a merge:
 *  - tiktoken (Meta's tokenizer.model): two adjacent parts merge when their
 *    concatenation is a token; lower id (= rank) first;
 *  - merges list (tokenizer.json, GGUF): a pair of tokens merges when it is
 *    in the list; earlier in the list first.
 * Ties go to the leftmost pair in both. */
#ifndef HERD_TOKENIZER_BPE_H
#define HERD_TOKENIZER_BPE_H
#include <stddef.h>
#include <stdint.h>
#include "tokenizer/spm.h"

/* Llama 3's pre-tokenizer: tiktoken's cl100k pattern with digits in runs of
 * at most three. */
#define HERD_LLAMA3_PATTERN                                                   \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|" \
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* Merges list: (left id, right id) -> (rank, result id), open addressing. */
typedef struct {
    uint64_t key;          /* (left + 1) << 32 | (right + 1); 0: empty */
    uint32_t rank;
    int32_t id;
} herd_bpe_pair_slot;

/* Added tokens (CONTROL and USER_DEFINED) by their bytes. */
typedef struct {
    int32_t *slots;        /* id + 1, 0: empty */
    uint32_t mask;
    int n, n_always;       /* added tokens; of them USER_DEFINED */
    int lens[HERD_MAX_PIECE]; /* the distinct lengths, longest first */
    int n_lens;
    uint8_t first[32];     /* bitmap of first bytes */
} herd_bpe_special;

struct herd_bpe {
    void *re;              /* pcre2_code_8 of HERD_LLAMA3_PATTERN */
    int jit;               /* it was JIT-compiled */
    void *mctx;            /* pcre2_match_context_8: limits lifted */
    herd_bpe_pair_slot *pairs; /* NULL: tiktoken ranks */
    uint32_t pair_mask;
    int n_merges;
    int ignore_merges;     /* a piece that is a token is that token (the fast path) */
    herd_bpe_special special;
};

/* Everything the builder needs; arrays are copied. */
typedef struct {
    int n;                     /* ids 0..n-1 */
    const char *const *pieces; /* token bytes */
    const size_t *lens;
    const int *types;          /* herd_piece_type: NORMAL, CONTROL, USER_DEFINED, UNUSED */
    const int32_t *merges;     /* n_merges pairs of ids (left, right); NULL: tiktoken */
    int n_merges;
    int ignore_merges;         /* tiktoken: always on */
    int bos, eos;              /* -1 when absent */
} herd_bpe_spec;

/* Builds a byte BPE tokenizer; what names the source in messages. */
herd_status herd_bpe_build(const herd_bpe_spec *s, const char *what, herd_tokenizer **out);

/* Loaders (path names the file in messages; data is the whole file, NUL
 * after it). */
herd_status herd_bpe_parse_ranks(const char *path, const char *data, size_t size,
                                 herd_tokenizer **out);
herd_status herd_bpe_parse_json(const char *path, const char *data, size_t size,
                                herd_tokenizer **out);
/* tokenizer.json: checks of the model and of the normalizer and
 * pre-tokenizer (bpe_json_check.c). */
struct cJSON;
herd_status herd_bpe_json_check_model(const char *path, const struct cJSON *model);
herd_status herd_bpe_json_check_pipeline(const char *path, const struct cJSON *root);
/* Whether a file's first bytes look like a tiktoken rank file. */
int herd_bpe_ranks_sniff(const char *data, size_t size);
/* The special tokens of Meta's llama3 tokenizer.py: name of id 128000 + i. */
void herd_llama3_special_name(int i, char *buf, size_t n);
#define HERD_LLAMA3_N_SPECIAL 256

/* GPT-2's byte-to-unicode mapping, which tokenizer.json and GGUF "gpt2"
 * spell tokens in. Decodes n bytes of spelled text into raw bytes (out:
 * room for n bytes); returns the length, or -1 when a character is not one
 * of the 256 the mapping uses. */
int herd_gpt2_decode(const char *s, size_t n, char *out);
/* Spells n raw bytes (out: room for 2n bytes); returns the length. */
size_t herd_gpt2_encode(const char *s, size_t n, char *out);

/* The regex (bpe_regex.c). */
herd_status herd_bpe_regex_compile(struct herd_bpe *b);
void herd_bpe_regex_free(struct herd_bpe *b);
/* Calls fn on each piece of the n bytes at s, in order: (start, length,
 * 0), or (start, 1, 1) for a byte that is not valid UTF-8. */
typedef herd_status (*herd_bpe_piece_fn)(void *user, size_t start, size_t len, int bad);
herd_status herd_bpe_pretokenize(const struct herd_bpe *b, const char *s, size_t n,
                                 herd_bpe_piece_fn fn, void *user);

/* Special tokens (bpe_special.c). */
herd_status herd_bpe_special_init(herd_tokenizer *t, const char *what);
/* The first added token in s[0..n) to parse (CONTROL ones only when
 * with_control): its id, start (*at) and length (*len); -1 when none. */
int herd_bpe_special_next(const herd_tokenizer *t, const char *s, size_t n, int with_control,
                          size_t *at, size_t *len);

/* Merges (bpe_merge.c). */
herd_status herd_bpe_pairs_init(herd_tokenizer *t, const int32_t *merges, int n,
                                const char *what);
/* Scratch of the merge loop, grown as needed and freed at the end. */
typedef struct {
    struct herd_bpe_msym *sym;
    int cap_sym;
    struct herd_bpe_mcand *heap;
    int n_heap, cap_heap;
} herd_bpe_merge_work;
/* The ids of one piece of n bytes: calls put for each, left to right. */
typedef void (*herd_bpe_put_fn)(void *user, int id);
herd_status herd_bpe_merge_piece(const herd_tokenizer *t, const char *s, size_t n,
                                 herd_bpe_merge_work *w, herd_bpe_put_fn put, void *user);
void herd_bpe_merge_work_free(herd_bpe_merge_work *w);

/* The encoder behind herd_tokenize_ex (bpe_encode.c). */
herd_status herd_bpe_tokenize(const herd_tokenizer *t, const char *text, size_t len,
                              unsigned flags, int *ids, int max, int *n_out);

#endif

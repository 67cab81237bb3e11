/* The pieces of the BPE trainer (bpe_train*.c) share these: the word
 * counter, the symbol table, the pair table with its heap, the trainer. */
#ifndef HERD_TOKENIZER_BPE_TRAIN_IMPL_H
#define HERD_TOKENIZER_BPE_TRAIN_IMPL_H
#include "tokenizer/bpe_train.h"

#define BT_WS "\xE2\x96\x81"   /* U+2581 */
#define BT_MAX_WORD 1024        /* longer words are cut (bytes) */

/* ---- word counts (bpe_train_count.c) ---- */
typedef struct {
    uint64_t hash;
    size_t off;               /* into bytes */
    uint32_t len;
    int64_t count;
} bt_word;

struct herd_bpe_counter {
    char *bytes;              /* every distinct word, normalized */
    size_t n_bytes, cap_bytes;
    bt_word *words;
    size_t n_words, cap_words;
    uint32_t *slots;          /* word index + 1, 0: empty */
    size_t mask;
    int64_t n_lines;
    char buf[BT_MAX_WORD + 8];/* the word being read */
    size_t n_buf;
};

/* ---- symbols (bpe_train_sym.c) ---- */
enum { BT_DIGIT = 1, BT_RARE = 2 };

typedef struct {
    char *str;                /* the bytes of every symbol */
    size_t n_str, cap_str;
    uint32_t *off;
    uint16_t *len;
    uint8_t *nchar, *nws, *flags;
    int32_t *script;          /* 0: none (whitespace only) */
    int n, cap;
    uint32_t *slots;          /* symbol id + 1 by its bytes */
    uint32_t mask;
} bt_syms;

/* The id of a new symbol, or -1 when out of memory. */
int bt_sym_add(bt_syms *s, const char *p, int len, int nchar, int nws, int script, int flags);
int bt_sym_find(const bt_syms *s, const char *p, int len);
void bt_syms_free(bt_syms *s);

/* ---- pairs and their heap (bpe_train_pairs.c) ---- */
typedef struct {
    int32_t a, b;
    int64_t count;            /* occurrences weighted by word counts */
    int32_t *words;           /* words it may occur in (repeats allowed) */
    int n_words, cap_words;
    int32_t stamp;            /* the last step that touched it */
} bt_pair;

typedef struct {
    int64_t count;
    int32_t pair;
} bt_entry;

typedef struct {
    bt_pair *p;
    int n, cap;
    uint32_t *slots;          /* pair index + 1 by (a, b) */
    uint32_t mask;
    bt_entry *heap;
    size_t n_heap, cap_heap;
    int32_t *touched;         /* pairs changed in this step */
    int n_touched, cap_touched;
} bt_pairs;

int bt_pair_find(const bt_pairs *pp, int32_t a, int32_t b);
/* The pair (a, b), made when new; -1 when out of memory. */
int bt_pair_get(bt_pairs *pp, int32_t a, int32_t b);
/* Pushes every touched pair with a count onto the heap; 0 when out of memory. */
int bt_pairs_flush(bt_pairs *pp);
/* The pair with the highest count (ties: smaller a, then smaller b), taken
 * off the heap; -1 when none is left. */
int bt_pairs_best(bt_pairs *pp);
void bt_pairs_free(bt_pairs *pp);

/* ---- the trainer (bpe_train.c, bpe_train_alpha.c, bpe_train_vocab.c) ---- */
typedef struct {
    const herd_bpe_train_params *p;
    int max_chars, allow_ws_pieces;
    bt_syms sy;               /* 0..n_chars-1 the alphabet, then rare, merges */
    int n_chars, rare;
    bt_pairs pp;
    int32_t *pool;            /* the symbols of every word */
    size_t *w_off;
    int32_t *w_len, *w_stamp;
    int64_t *w_count;
    size_t n_words;
    int32_t *merged;          /* the new pieces in the order they were made */
    int n_merged, n_reused;
    int32_t step;
    int oom;
    herd_bpe_train_stats st;
} bt_train;

/* Counts characters, keeps the covered ones as symbols 0..n_chars-1 and
 * writes every word as symbols (bpe_train_alpha.c). */
herd_status bt_alphabet(bt_train *t, const herd_bpe_counter *c, double coverage);
/* Whether (a, b) may become a piece. */
int bt_pair_valid(const bt_train *t, int32_t a, int32_t b);
/* The tokenizer of the trained vocabulary (bpe_train_vocab.c). */
herd_status bt_build(const bt_train *t, herd_tokenizer **out);

#endif

/* Learning a SentencePiece BPE vocabulary from text (herd train-tokenizer),
 * with Llama's trainer settings: <unk> <s> </s>, the 256 byte-fallback
 * pieces <0x00>..<0xFF>, then the merged pieces (merge k scores -k) and last
 * the characters, as SentencePiece's BPE trainer lays them out. The
 * normalizer is Llama's: identity, a dummy space in front of each line,
 * spaces written as U+2581 ("▁").
 *
 * The text is read as lines (SentencePiece's sentences; a newline is never
 * part of a piece, it encodes as <0x0A>). A line is cut into words where a
 * "▁" follows another character, so pieces never cross a word start. Pieces
 * follow SentencePiece's rules: "▁" only as a piece's first character
 * (or whitespace-only pieces when allowed), one Unicode script per piece,
 * digits never merged (split_digits), at most 16 characters. Characters
 * beyond the coverage (the rarest ones, 0.05% of the text by default) get
 * no piece: they encode as their bytes.
 *
 * Merging: the most frequent adjacent pair of symbols over all words wins,
 * counted as the merge would take it (a run "xxx" holds one (x, x), "xxxx"
 * two, as SentencePiece counts);
 * among equal counts the pair whose left symbol has the smaller id, then
 * the smaller right id (characters are numbered by frequency, most frequent
 * first, ties by code point; merged symbols after them in the order they
 * were made). A merge that spells an existing piece reuses it (no new
 * piece). So training is deterministic: the same text gives the same
 * vocabulary, byte for byte. */
#ifndef HERD_TOKENIZER_BPE_TRAIN_H
#define HERD_TOKENIZER_BPE_TRAIN_H
#include <stddef.h>
#include <stdint.h>
#include "herd.h"

/* What training found; filled when herd_bpe_train_params.stats is set. */
typedef struct {
    int64_t n_lines;          /* non-empty lines */
    int64_t n_chars;          /* characters, dummy prefixes included */
    size_t n_words;           /* distinct words */
    int n_alphabet;           /* characters that got a piece */
    int n_rare;               /* distinct characters left to byte fallback */
    int n_merges;             /* merged pieces in the vocabulary */
    int n_reused;             /* merges that spelled an existing piece */
} herd_bpe_train_stats;

typedef struct {
    int vocab_size;           /* every piece: 259 + characters + merges */
    double character_coverage;/* 0: 0.9995, SentencePiece's default */
    int max_piece_chars;      /* 0: 16, SentencePiece's default */
    int split_ws_runs;        /* 1: every space starts a word, no whitespace-
                                 only pieces (SentencePiece's default); 0: a
                                 run of spaces stays whole and "▁▁" pieces
                                 may be learned (Llama's
                                 allow_whitespace_only_pieces) */
    /* Called after each merge: done of total merges. May be NULL. */
    void (*progress)(void *user, int done, int total);
    void *user;
    herd_bpe_train_stats *stats; /* filled when not NULL */
} herd_bpe_train_params;

/* Word counts, fed text a piece at a time (train-tokenizer streams files). */
typedef struct herd_bpe_counter herd_bpe_counter;

herd_status herd_bpe_counter_new(herd_bpe_counter **out);
/* Adds text made of whole lines: a line never continues in the next call. */
herd_status herd_bpe_counter_add(herd_bpe_counter *c, const char *text, size_t len);
void herd_bpe_counter_free(herd_bpe_counter *c);

/* Learns a vocabulary from the counted words: a SentencePiece tokenizer
 * that herd_hf_write_spm writes as tokenizer.model. HERD_E_ARG when the
 * vocabulary size is below 259 + the characters the text needs, above
 * 1 << 20, or more than the text can fill; HERD_E_ARG for no text. */
herd_status herd_bpe_train_counted(const herd_bpe_counter *c, const herd_bpe_train_params *p,
                                   herd_tokenizer **out);

/* herd_bpe_train_counted over one text. */
herd_status herd_bpe_train(const char *text, size_t len, const herd_bpe_train_params *p,
                           herd_tokenizer **out);

/* The Unicode script class of a code point, coarse as SentencePiece's
 * split_by_unicode_script needs it: pieces never mix two classes. Hiragana
 * and Katakana count as Han; punctuation, symbols and emoji are Common;
 * a code point in a block the table does not name gets that block. */
int herd_bpe_script(uint32_t cp);

#endif

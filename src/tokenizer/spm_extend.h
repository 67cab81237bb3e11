/* Vocabulary extension of a SentencePiece BPE tokenizer, as Chinese LLaMA
 * did it: new pieces appended after the existing vocabulary, every old id
 * kept. Appended pieces score below every existing piece, each one below
 * the one before, so SentencePiece's BPE (highest score first) makes every
 * old merge before any new one: the old encoding of a text is reached
 * first and new merges only continue from it. */
#ifndef HERD_TOKENIZER_SPM_EXTEND_H
#define HERD_TOKENIZER_SPM_EXTEND_H
#include <stddef.h>
#include "herd.h"

typedef struct {
    int added;          /* pieces appended in all */
    int added_given;    /* of them, pieces as given */
    int added_chars;    /* missing single characters (closure) */
    int added_prefixes; /* missing prefixes c1c2, c1c2c3, ... (closure) */
    int skipped;        /* given pieces already in the vocabulary or given twice */
} herd_spm_extend_stats;

/* A new tokenizer: t's pieces (same ids, scores, types and settings) and
 * then each of the n given pieces (UTF-8, 1..256 bytes, no NUL) not yet
 * present, as NORMAL pieces. With closure, each given piece c1..ck is
 * preceded by its missing single characters and its missing prefixes
 * c1c2, ..., c1..c(k-1), in that order, so BPE can reach it by merging
 * left to right. The k-th appended piece scores the k-th float below the
 * lowest existing score (steps of 1 while they are exact). t must be a
 * SentencePiece tokenizer (HERD_E_UNSUPPORTED for byte-level BPE). st may
 * be NULL. */
herd_status herd_spm_extend(const herd_tokenizer *t, const char *const *pieces,
                            const size_t *lens, int n, int closure,
                            herd_tokenizer **out, herd_spm_extend_stats *st);

/* The NORMAL pieces of another SentencePiece tokenizer in id order (the
 * order its trainer learned them); pointers into src, malloc'd arrays.
 * *n_other: its control, byte, unknown, user-defined and unused pieces,
 * which are left out. */
herd_status herd_spm_normal_pieces(const herd_tokenizer *src, const char ***pieces,
                                   size_t **lens, int *n, int *n_other);

/* A pieces file: one piece per line (UTF-8; "\n" or "\r\n" ends a line;
 * empty lines are skipped), every space written as U+2581 "▁", so the line
 * " hello" is the piece "▁hello". The pieces point into *buf (free it and
 * the two arrays). An empty file, a line longer than 256 bytes once
 * spaces are replaced, invalid UTF-8 or a NUL byte is an error naming the
 * line. */
herd_status herd_spm_read_pieces(const char *path, char **buf, const char ***pieces,
                                 size_t **lens, int *n);

#endif

/* Pretraining data: token shards (written by herd prepare), their writer,
 * and the loader that cuts a shard into batches of packed documents.
 *
 * A shard file (PREFIX.train.bin, PREFIX.val.bin), every number
 * little-endian:
 *
 *   offset  size
 *        0  8     magic "HERDTOK1"
 *        8  u32   version, 1
 *       12  u32   token width in bytes: 2 (uint16, when the vocabulary has
 *                 at most 65536 ids) or 4 (uint32)
 *       16  u32   vocabulary size: every token id is below it
 *       20  u32   reserved, 0
 *       24  u64   n_tokens
 *       32  u64   n_docs
 *       40        n_tokens ids, width bytes each
 *                 zero bytes up to a multiple of 8
 *                 n_docs + 1 u64 document offsets: document i is tokens
 *                 [off[i], off[i+1]); off[0] = 0, off[n_docs] = n_tokens,
 *                 strictly increasing (no document is empty)
 *                 and nothing after.
 *
 * herd prepare writes each document as BOS + text + EOS. */
#ifndef HERD_TRAIN_DATA_H
#define HERD_TRAIN_DATA_H
#include <stdint.h>
#include "herd_train.h"
#include "base/file.h"

#define HERD_SHARD_MAGIC "HERDTOK1"
#define HERD_SHARD_VERSION 1
#define HERD_SHARD_HEADER 40

/* ---- reading ---- */

typedef struct {
    herd_map map;
    char *path;
    int width;                /* 2 or 4 */
    uint32_t vocab;
    uint64_t n_tokens, n_docs;
    const uint8_t *tokens;    /* n_tokens * width bytes */
    const uint8_t *offsets;   /* (n_docs + 1) * 8 bytes */
} herd_shard;

/* Maps a shard and checks all of it: header, sizes, every offset and every
 * token id (HERD_E_FORMAT naming the file on any fault). */
herd_status herd_shard_open(const char *path, herd_shard *s);
void herd_shard_close(herd_shard *s);

/* Token i (< n_tokens). */
static inline int herd_shard_token(const herd_shard *s, uint64_t i)
{
    const uint8_t *p = s->tokens + i * (uint64_t)s->width;
    if (s->width == 2)
        return (int)(p[0] | (unsigned)p[1] << 8);
    return (int)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24);
}

/* Offset i (<= n_docs): where document i starts. */
static inline uint64_t herd_shard_doc_offset(const herd_shard *s, uint64_t i)
{
    const uint8_t *p = s->offsets + i * 8;
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = v << 8 | p[k];
    return v;
}

/* The document holding token i (< n_tokens). */
uint64_t herd_shard_doc_of(const herd_shard *s, uint64_t i);

/* ---- writing ----
 * Documents are appended one at a time and their tokens streamed to
 * PATH.tmp; finish writes the offsets and the header, syncs the file and
 * renames it to PATH. Any failure (a full disk included) removes PATH.tmp,
 * so PATH is either the whole shard or untouched. */

typedef struct herd_shard_writer herd_shard_writer;

/* A writer for ids below vocab (1 .. 2^31-1): uint16 when vocab <= 65536. */
herd_status herd_shard_writer_new(const char *path, int vocab, herd_shard_writer **out);
/* Appends one document of n >= 1 ids. On failure the writer is spent:
 * call herd_shard_writer_abort. */
herd_status herd_shard_writer_add(herd_shard_writer *w, const int *ids, size_t n);
uint64_t herd_shard_writer_tokens(const herd_shard_writer *w);
uint64_t herd_shard_writer_docs(const herd_shard_writer *w);
/* Completes the file and frees w (also on failure, leaving no file). */
herd_status herd_shard_writer_finish(herd_shard_writer *w);
/* Removes PATH.tmp and frees w; NULL is fine. */
void herd_shard_writer_abort(herd_shard_writer *w);

/* ---- batches ----
 * The shard's tokens are one stream cut into windows of T + 1 tokens with
 * stride T: window k is tokens [k*T, k*T + T], (n_tokens - 1) / T windows.
 * A row's inputs are a window's first T tokens, its targets the last T
 * (the target of input t is token t + 1 of the window), so windows share
 * one token at their seams and every token is a target once. doc_start[t]
 * is 1 where input t begins a document and at t = 0 (each row starts
 * afresh). A batch is the next B windows of a stream that visits every
 * window once per epoch: in the order of a permutation drawn from
 * (seed, epoch) when shuffling, else in order. A batch may span the end of
 * an epoch. */

typedef struct herd_loader herd_loader;

typedef struct {
    uint64_t epoch;   /* epochs completed */
    uint64_t index;   /* windows taken in this epoch, < herd_loader_windows */
} herd_loader_pos;

/* A loader over s (which must outlive it). Fails with HERD_E_ARG, "dataset
 * too small", when s has fewer than B windows. */
herd_status herd_loader_new(const herd_shard *s, int B, int T, uint64_t seed, int shuffle,
                            herd_loader **out);
void herd_loader_free(herd_loader *l);
uint64_t herd_loader_windows(const herd_loader *l);
/* Fills B*T tokens, targets and doc_start (doc_start may be NULL). */
void herd_loader_next(herd_loader *l, int *tokens, int *targets, uint8_t *doc_start);
/* The next batch into buffers the loader owns, valid until the next call. */
void herd_loader_batch(herd_loader *l, herd_batch *b);
/* Where the stream stands, for checkpoints: a loader set to a saved
 * position gives exactly the batches the saved one would have given. */
herd_loader_pos herd_loader_state(const herd_loader *l);
herd_status herd_loader_set_state(herd_loader *l, herd_loader_pos p);

#endif

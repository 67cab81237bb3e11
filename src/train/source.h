/* Where the trainer's batches come from: token shards (herd prepare) for
 * pretraining or SFT examples (a .jsonl file, train/sft.h) for finetuning,
 * behind one interface with a resumable position. */
#ifndef HERD_TRAIN_SOURCE_H
#define HERD_TRAIN_SOURCE_H
#include "train/data.h"
#include "train/sft.h"

typedef struct {
    herd_shard shard;
    int have_shard;
    herd_sft_set *sft;
    herd_sft_stats stats;
    herd_loader *sl;
    herd_sft_loader *fl;
} herd_source;

/* Opens path: a .jsonl file is read as SFT examples (rendered with tok and
 * o's template, at most T + 1 tokens each), anything else as a shard. */
herd_status herd_source_open(herd_source *s, const char *path, const herd_tokenizer *tok,
                             const herd_sft_opts *o);
/* Starts batches of B rows of T tokens. */
herd_status herd_source_start(herd_source *s, int B, int T, uint64_t seed, int shuffle);
void herd_source_batch(herd_source *s, herd_batch *b);
/* Batches in one pass over the data (at least 1). */
uint64_t herd_source_batches(const herd_source *s, int B);
/* The largest token id + 1 the data may hold (0: no limit known). */
uint32_t herd_source_vocab(const herd_source *s);
herd_loader_pos herd_source_state(const herd_source *s);
herd_status herd_source_set_state(herd_source *s, herd_loader_pos p);
void herd_source_close(herd_source *s);

#endif

/* The trainer's data sources (source.h). */
#include "train/source.h"
#include "base/error.h"
#include <string.h>

static int is_jsonl(const char *path)
{
    size_t n = strlen(path);
    return n >= 6 && !strcmp(path + n - 6, ".jsonl");
}

herd_status herd_source_open(herd_source *s, const char *path, const herd_tokenizer *tok,
                             const herd_sft_opts *o)
{
    memset(s, 0, sizeof *s);
    if (!is_jsonl(path)) {
        HERD_TRY(herd_shard_open(path, &s->shard));
        s->have_shard = 1;
        return HERD_OK;
    }
    if (!tok)
        return herd_fail(HERD_E_ARG, "%s: SFT data needs a tokenizer (the model's, or "
                         "\"tokenizer\" in the config)", path);
    return herd_sft_load(path, tok, o, &s->sft, &s->stats);
}

herd_status herd_source_start(herd_source *s, int B, int T, uint64_t seed, int shuffle)
{
    if (s->have_shard)
        return herd_loader_new(&s->shard, B, T, seed, shuffle, &s->sl);
    return herd_sft_loader_new(s->sft, B, T, seed, shuffle, &s->fl);
}

void herd_source_batch(herd_source *s, herd_batch *b)
{
    if (s->sl)
        herd_loader_batch(s->sl, b);
    else
        herd_sft_loader_batch(s->fl, b);
}

uint64_t herd_source_batches(const herd_source *s, int B)
{
    uint64_t rows = s->sl ? herd_loader_windows(s->sl) : herd_sft_loader_epoch_rows(s->fl);
    return rows / (uint64_t)B ? rows / (uint64_t)B : 1;
}

uint32_t herd_source_vocab(const herd_source *s)
{
    return s->have_shard ? s->shard.vocab : 0;
}

herd_loader_pos herd_source_state(const herd_source *s)
{
    if (s->sl)
        return herd_loader_state(s->sl);
    herd_sft_pos p = herd_sft_loader_state(s->fl);
    return (herd_loader_pos){p.epoch, p.index};
}

herd_status herd_source_set_state(herd_source *s, herd_loader_pos p)
{
    if (s->sl)
        return herd_loader_set_state(s->sl, p);
    return herd_sft_loader_set_state(s->fl, (herd_sft_pos){p.epoch, p.index});
}

void herd_source_close(herd_source *s)
{
    herd_loader_free(s->sl);
    herd_sft_loader_free(s->fl);
    herd_sft_set_free(s->sft);
    if (s->have_shard)
        herd_shard_close(&s->shard);
    memset(s, 0, sizeof *s);
}

/* Training checkpoints: everything a run needs to continue exactly where it
 * stopped, in one file written atomically.
 *
 * Layout (little-endian):
 *   "HERDCKPT", u32 version 1, u32 header bytes
 *   the config (herd_ckpt_config), u64 n_params
 *   i64 step (optimizer steps done), i64 adam t, u64 loader epoch,
 *   u64 loader index, u64 seed, u32 n_history, u32 reserved
 *   params, adam m, adam v: n_params float32 each
 *   n_history records (herd_ckpt_record)
 *   u64 FNV-1a hash of every byte before it
 * Saved as PATH.tmp, fsync'd, renamed over PATH and the folder fsync'd: a
 * crash or a full disk at any moment leaves the previous checkpoint whole. */
#ifndef HERD_TRAIN_CHECKPOINT_H
#define HERD_TRAIN_CHECKPOINT_H
#include "herd_train.h"
#include "train/data.h"

/* One logged optimizer step. val_loss is NaN where none was measured. */
typedef struct {
    int64_t step;
    float lr, loss, grad_norm, val_loss;
    double tokens_per_s;
} herd_ckpt_record;

typedef struct {
    int64_t step;
    herd_loader_pos loader;
    uint64_t seed;
    herd_ckpt_record *history;  /* malloc'd by herd_ckpt_load */
    uint32_t n_history;
} herd_ckpt_state;

herd_status herd_ckpt_save(const char *path, herd_train_model *tm, herd_adamw *opt,
                           const herd_ckpt_state *st);
/* Reads a checkpoint into tm and opt, which must have the checkpoint's
 * config (else HERD_E_ARG naming the first field that differs). */
herd_status herd_ckpt_load(const char *path, herd_train_model *tm, herd_adamw *opt,
                           herd_ckpt_state *st);
/* Only the config of a checkpoint (to build the model before loading). */
herd_status herd_ckpt_config(const char *path, herd_config *cfg);

#endif

/* The pretraining loop behind `herd train`: options (from a JSON config
 * file), the loop with gradient accumulation, clipping, the cosine schedule,
 * evaluation, checkpoints, the loss CSV and plot, and the final export. */
#ifndef HERD_TRAIN_TRAINER_H
#define HERD_TRAIN_TRAINER_H
#include "herd_train.h"
#include "train/checkpoint.h"

#define HERD_PATH_MAX 1024

typedef struct {
    herd_config model;          /* shape; vocab_size 0: the tokenizer's or data's */
    char init[HERD_PATH_MAX];   /* start from this model file instead of random */
    char tokenizer[HERD_PATH_MAX];
    char train_data[HERD_PATH_MAX], val_data[HERD_PATH_MAX];
    char out_dir[HERD_PATH_MAX];
    int batch_size, seq_len, grad_accum;
    int64_t steps, warmup;
    float lr, min_lr_ratio, grad_clip;
    herd_adamw_params adamw;
    int eval_every, eval_batches, save_every;
    uint64_t seed;
    int threads, recompute;
    /* Finetuning (herd finetune): train_data / val_data ending in .jsonl are
     * SFT examples (train/sft.h) rendered with chat_template. */
    char method[8];             /* "full", "lora" or "qlora" */
    herd_lora_params lora;      /* r 8, alpha 16, dropout 0.05, targets q and v */
    char chat_template[16];     /* "auto" (the model's, none for a base model),
                                   "llama2", "llama3", "none" */
    int truncate, skip_bad;     /* long SFT examples cut (else dropped); bad lines skipped */
    /* Long context: train with seq_len beyond the model's context, the
     * rotary positions stretched (saved in the exported model). */
    herd_rope_scaling rope_scaling;
    float rope_factor;
} herd_train_opts;

void herd_train_opts_defaults(herd_train_opts *o);
/* Reads a JSON config file over the defaults: unknown keys, wrong types and
 * impossible values are errors naming the key. */
herd_status herd_train_opts_load(const char *path, herd_train_opts *o);
/* Checks the options once the vocabulary is known. */
herd_status herd_train_opts_check(const herd_train_opts *o);

typedef struct {
    /* After every optimizer step (val_loss NaN unless it was evaluated). */
    void (*on_step)(void *user, const herd_ckpt_record *r, int64_t total_steps);
    /* Messages: resumed, saved, exported. */
    void (*on_note)(void *user, const char *msg);
    void *user;
    volatile int *stop;         /* set non-zero (a signal): save and return */
} herd_train_callbacks;

/* Runs the training the options describe, from scratch or (resume) from
 * out_dir/checkpoint.bin; stop_at > 0 stops after that many steps (saving a
 * checkpoint) as if interrupted. */
herd_status herd_train_run(const herd_train_opts *o, int resume, int64_t stop_at,
                           const herd_train_callbacks *cb);
/* No training: the mean loss over the whole validation set (val_data) of
 * the model the options start from (init, or the checkpoint when resume),
 * in *loss, over *tokens scored targets. */
herd_status herd_train_evaluate(const herd_train_opts *o, int resume, double *loss,
                                int64_t *tokens);

#endif

/* The state of one herd reward-train run, shared by its setup
 * (reward_setup.c) and its loop (reward_train.c). */
#ifndef HERD_TRAIN_REWARD_RUN_H
#define HERD_TRAIN_REWARD_RUN_H
#include "train/reward.h"
#include <stdio.h>

typedef struct {
    const herd_reward_opts *o;
    const herd_reward_callbacks *cb;
    herd_model *base;
    const herd_tokenizer *tok;
    herd_chat_template tpl;
    herd_pref_set *train, *val;
    herd_train_model *tm;
    herd_adamw *opt;
    int T;                        /* most tokens of a sequence */
    int P;                        /* pairs per step */
    int64_t warmup;
    float *head, *dhead;          /* [dim + 1] */
    float *head_m, *head_v;       /* AdamW moments of the head */
    int64_t *order;               /* the training pairs in this epoch's order */
    int64_t next;                 /* pairs taken in this epoch */
    uint64_t epoch;
    int *tokens, *targets, *last; /* [2P * T], [2P * T], [2P] */
    float *margin;                /* [P] */
    const herd_pref_pair **batch; /* [P] */
    FILE *csv;
} herd_reward_run;

herd_status herd_reward_setup(herd_reward_run *r, const herd_reward_opts *o,
                              const herd_reward_callbacks *cb);
void herd_reward_teardown(herd_reward_run *r);
void herd_reward_note(const herd_reward_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* OUT/name into buf (HERD_REWARD_PATH + 32 bytes). */
herd_status herd_reward_path(const herd_reward_run *r, const char *name, char *buf);

#endif

/* The state of one herd train / herd finetune run, shared by the loop
 * (trainer.c) and its setup and export (trainer_setup.c). */
#ifndef HERD_TRAIN_RUN_H
#define HERD_TRAIN_RUN_H
#include "train/trainer.h"
#include "train/source.h"

typedef struct {
    const herd_train_opts *o;
    const herd_train_callbacks *cb;
    herd_source train, val;
    int have_val, T;
    herd_model *base;            /* the init model (LoRA: the frozen weights) */
    herd_train_model *tm;
    herd_adamw *opt;
    herd_tokenizer *own_tok;     /* opened from the config's tokenizer */
    const herd_tokenizer *tok;   /* own_tok or the base model's */
    herd_ckpt_state st;
    uint32_t cap;
    char ckpt[HERD_PATH_MAX + 32];
} herd_run;

void herd_run_note(herd_run *r, const char *fmt, const char *arg);
herd_status herd_run_path(const herd_run *r, const char *name, char *buf);
/* Data, model and optimizer; the checkpoint when resuming. */
herd_status herd_run_setup(herd_run *r, int resume);
/* The result: model.gguf (full) or the adapter as a PEFT folder and a GGUF
 * LoRA file (lora, qlora). */
herd_status herd_run_export(herd_run *r);
void herd_run_free(herd_run *r);

#endif

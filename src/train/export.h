/* What a training run leaves behind, the same for train, finetune, dpo and
 * ppo: OUT/model.gguf (the weights, the tokenizer and the chat template) for
 * full training, or the adapter as OUT/adapter/ (PEFT) and OUT/adapter.gguf
 * (llama.cpp --lora) for LoRA. */
#ifndef HERD_TRAIN_EXPORT_H
#define HERD_TRAIN_EXPORT_H
#include <stddef.h>
#include "herd_train.h"

/* Writes tm's result into out_dir; base_name (may be NULL) is the PEFT
 * config's base_model_name_or_path. msg (cap bytes) says what was written. */
herd_status herd_train_export(herd_train_model *tm, const herd_tokenizer *tok,
                              const char *chat_template, const char *out_dir,
                              const char *base_name, char *msg, size_t cap);

#endif

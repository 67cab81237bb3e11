/* The JSON config files of herd's trainers (train, finetune, reward-train,
 * dpo, ppo): reading one into an options struct key by key, and the value
 * kinds they share, each failing with "config: \"KEY\" ..." messages. */
#ifndef HERD_TRAIN_JSON_CONFIG_H
#define HERD_TRAIN_JSON_CONFIG_H
#include <stddef.h>
#include "herd.h"

struct cJSON;

/* A number in lo..hi. */
herd_status herd_cfg_num(const struct cJSON *v, double lo, double hi, double *out);
/* A string that fits cap bytes. */
herd_status herd_cfg_str(const struct cJSON *v, char *out, size_t cap);
herd_status herd_cfg_bool(const struct cJSON *v, int *out);
/* "q,k,v,o,gate,up,down" (or "all", or the HF names q_proj ...) to
 * HERD_LORA_* bits. */
herd_status herd_cfg_lora_targets(const struct cJSON *v, unsigned *out);
/* "auto", "none", "llama2" or "llama3" into out. */
herd_status herd_cfg_template(const struct cJSON *v, char *out, size_t cap);
/* The template a config's chat_template names: "auto" is the one the model
 * carries (none for a base model), "none" the plain template. */
herd_chat_template herd_cfg_pick_template(const char *name, const herd_model *m,
                                          const herd_tokenizer *t);
/* Reads the JSON object in path and hands each key to key(v, opts); errors
 * come back prefixed with the path. */
herd_status herd_cfg_load(const char *path, herd_status (*key)(const struct cJSON *, void *),
                          void *opts);

#endif

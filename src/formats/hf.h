/* Internals of the Hugging Face folder loader (hf.c): config.json
 * (hf_config.c) and the weights, one safetensors file or several shards
 * behind model.safetensors.index.json (hf_weights.c). */
#ifndef HERD_FORMATS_HF_H
#define HERD_FORMATS_HF_H
#include "formats/safetensors.h"
#include "model/model.h"

#define HERD_HF_PATH 4096

/* Reads dir/config.json into c (starting from HF's defaults for the keys a
 * Llama config may leave out) and checks it. */
herd_status herd_hf_read_config(const char *dir, herd_config *c);

typedef struct {
    char where[HERD_HF_PATH];  /* model.safetensors or the index: for messages */
    herd_st_file *shards;
    const char **shard_names;  /* file names as the index gives them */
    int n_shards;
    cJSON *index;              /* NULL for a single file */
    const cJSON *weight_map;   /* inside index */
} herd_hf_weights;

/* Opens the folder's safetensors files and hands their maps to o. The
 * index is checked whole: every shard exists and holds what it lists. */
herd_status herd_hf_weights_open(const char *dir, herd_owned *o, herd_hf_weights *w);
void herd_hf_weights_close(herd_hf_weights *w);
/* Looks a tensor up by its Hugging Face name; *found 0 when absent. */
herd_status herd_hf_weight(const herd_hf_weights *w, const char *name, herd_tensor *t,
                           int *found);

#endif

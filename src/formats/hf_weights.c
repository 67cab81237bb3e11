/* The weights of a Hugging Face folder: dir/model.safetensors, or the
 * shards dir/model.safetensors.index.json lists in its "weight_map"
 * (tensor name -> shard file name). Every file is mapped once and its map
 * handed to the model; the index is checked against the shards up front. */
#include "formats/hf.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

static int find_shard(const herd_hf_weights *w, const char *name)
{
    for (int i = 0; i < w->n_shards; i++)
        if (strcmp(w->shard_names[i], name) == 0)
            return i;
    return -1;
}

static herd_status add_shard(herd_hf_weights *w, const char *dir, const char *name,
                             herd_owned *o)
{
    char path[HERD_HF_PATH];
    HERD_TRY(herd_path_join(path, sizeof path, dir, name));
    herd_st_file *s = realloc(w->shards, (size_t)(w->n_shards + 1) * sizeof *s);
    if (s)
        w->shards = s;
    const char **n = realloc(w->shard_names, (size_t)(w->n_shards + 1) * sizeof *n);
    if (n)
        w->shard_names = n;
    if (!s || !n)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    HERD_TRY(herd_st_open(path, &w->shards[w->n_shards]));
    w->shard_names[w->n_shards] = name;
    w->n_shards++;
    return herd_st_give_map(&w->shards[w->n_shards - 1], o);
}

/* A shard must be a plain file name beside the index. */
static int plain_name(const char *s)
{
    return *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static herd_status open_shards(herd_hf_weights *w, const char *dir, herd_owned *o)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, w->weight_map) {
        if (!cJSON_IsString(v) || !plain_name(v->valuestring))
            return herd_fail(HERD_E_FORMAT, "%s: weight_map gives tensor %s no usable "
                             "file name", w->where, v->string);
        if (find_shard(w, v->valuestring) < 0)
            HERD_TRY(add_shard(w, dir, v->valuestring, o));
    }
    if (w->n_shards == 0)
        return herd_fail(HERD_E_FORMAT, "%s: weight_map is empty", w->where);
    cJSON_ArrayForEach(v, w->weight_map) {
        int i = find_shard(w, v->valuestring);
        if (!herd_st_find(&w->shards[i], v->string))
            return herd_fail(HERD_E_FORMAT, "%s: puts tensor %s in %s, which lacks it",
                             w->where, v->string, v->valuestring);
    }
    return HERD_OK;
}

static herd_status open_index(herd_hf_weights *w, const char *dir, herd_owned *o)
{
    char *text;
    size_t size;
    HERD_TRY(herd_read_file(w->where, &text, &size));
    const char *end = NULL;
    w->index = cJSON_ParseWithOpts(text, &end, 1);
    if (!w->index) {
        herd_status s = herd_fail(HERD_E_FORMAT, "%s: not valid JSON (near byte %td)",
                                  w->where, end ? end - text : (ptrdiff_t)0);
        free(text);
        return s;
    }
    free(text);
    w->weight_map = cJSON_GetObjectItemCaseSensitive(w->index, "weight_map");
    if (!cJSON_IsObject(w->weight_map))
        return herd_fail(HERD_E_FORMAT, "%s: no weight_map object", w->where);
    return open_shards(w, dir, o);
}

herd_status herd_hf_weights_open(const char *dir, herd_owned *o, herd_hf_weights *w)
{
    memset(w, 0, sizeof *w);
    char single[HERD_HF_PATH], index[HERD_HF_PATH], bin[HERD_HF_PATH];
    HERD_TRY(herd_path_join(single, sizeof single, dir, "model.safetensors"));
    HERD_TRY(herd_path_join(index, sizeof index, dir, "model.safetensors.index.json"));
    HERD_TRY(herd_path_join(bin, sizeof bin, dir, "pytorch_model.bin"));
    herd_status s;
    if (herd_file_exists(single)) {
        strcpy(w->where, single);
        s = add_shard(w, dir, "model.safetensors", o);
    } else if (herd_file_exists(index)) {
        strcpy(w->where, index);
        s = open_index(w, dir, o);
    } else if (herd_file_exists(bin)) {
        return herd_fail(HERD_E_UNSUPPORTED, "%s: PyTorch pickles are not read; save the "
                         "model as safetensors", bin);
    } else {
        return herd_fail(HERD_E_IO, "%s: no model.safetensors or model.safetensors.index.json",
                         dir);
    }
    if (s != HERD_OK)
        herd_hf_weights_close(w);
    return s;
}

void herd_hf_weights_close(herd_hf_weights *w)
{
    for (int i = 0; i < w->n_shards; i++)
        herd_st_close(&w->shards[i]);
    free(w->shards);
    free(w->shard_names);
    cJSON_Delete(w->index);
    memset(w, 0, sizeof *w);
}

herd_status herd_hf_weight(const herd_hf_weights *w, const char *name, herd_tensor *t,
                           int *found)
{
    if (!w->weight_map)
        return herd_st_tensor(&w->shards[0], name, t, found);
    memset(t, 0, sizeof *t);
    *found = 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(w->weight_map, name);
    if (!v)
        return HERD_OK;
    return herd_st_tensor(&w->shards[find_shard(w, v->valuestring)], name, t, found);
}

/* herd_save_hf: a model as a Hugging Face folder (config.json,
 * model.safetensors, the tokenizer files), and the small file writers the
 * folder's parts share. */
#include "formats/convert.h"
#include "formats/hf.h"
#include "base/error.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

herd_status herd_hf_write_file(const char *dir, const char *name, const void *data,
                               size_t len)
{
    char path[HERD_HF_PATH];
    HERD_TRY(herd_path_join(path, sizeof path, dir, name));
    FILE *f = fopen(path, "wb");
    if (!f)
        return herd_fail(HERD_E_IO, "%s: %s", path, strerror(errno));
    int ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    return ok ? HERD_OK : herd_fail(HERD_E_IO, "%s: write failed: %s", path, strerror(e));
}

herd_status herd_hf_write_json(const char *dir, const char *name, const cJSON *j, int compact)
{
    char *s = compact ? cJSON_PrintUnformatted(j) : cJSON_Print(j);
    if (!s)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", name);
    size_t n = strlen(s);
    s[n] = '\n'; /* over the NUL: the file ends with a newline */
    herd_status st = herd_hf_write_file(dir, name, s, n + 1);
    free(s);
    return st;
}

static herd_status write_tokenizer(const herd_model *m, const char *dir, int *wrote)
{
    *wrote = 0;
    if (!m->tok)
        return HERD_OK;
    if (herd_tokenizer_kind(m->tok) == HERD_TOK_BYTE_BPE)
        HERD_TRY(herd_hf_write_tokenizer_json(m->tok, dir));
    else
        HERD_TRY(herd_hf_write_spm(m->tok, dir));
    HERD_TRY(herd_hf_write_tokenizer_config(m, dir));
    *wrote = 1;
    return HERD_OK;
}

herd_status herd_save_hf(const herd_model *m, const char *dir, herd_type type,
                         herd_progress_fn progress, void *user, int *wrote_tokenizer)
{
    int wrote = 0;
    if (type != HERD_TYPE_F32 && type != HERD_TYPE_F16 && type != HERD_TYPE_BF16)
        return herd_fail(HERD_E_ARG, "%s: herd writes safetensors weights as F32, F16 or "
                         "BF16", dir);
    HERD_TRY(herd_hf_write_config(m, dir, type));
    HERD_TRY(write_tokenizer(m, dir, &wrote));
    HERD_TRY(herd_hf_write_weights(m, dir, type, progress, user));
    if (wrote_tokenizer)
        *wrote_tokenizer = wrote;
    return HERD_OK;
}

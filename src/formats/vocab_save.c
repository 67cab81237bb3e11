/* The outputs of herd extend-vocab: a grown model as GGUF with every tensor
 * in the type it has, and an extended tokenizer alone as tokenizer.model
 * (written by the Hugging Face writer into a temporary folder beside the
 * output, then renamed into place). */
#include "formats/vocab_grow.h"
#include "formats/quantize.h"
#include "formats/hf.h"
#include "base/error.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static herd_status check_out(const char *out, int force)
{
    struct stat st;
    if (!out || !*out)
        return herd_fail(HERD_E_ARG, "no output path");
    if (lstat(out, &st) != 0)
        return HERD_OK;
    if (S_ISDIR(st.st_mode))
        return herd_fail(HERD_E_ARG, "%s is a folder; the output is a file", out);
    if (!force)
        return herd_fail(HERD_E_ARG, "%s already exists (-f replaces it)", out);
    return HERD_OK;
}

static herd_type keep_type(void *user, const char *name, const herd_tensor *t)
{
    (void)user;
    (void)name;
    return t->type;
}

/* llama_ftype of a model by its attention matrices' type. */
static uint32_t file_type(herd_type t)
{
    switch (t) {
    case HERD_TYPE_F16: return HERD_FTYPE_MOSTLY_F16;
    case HERD_TYPE_BF16: return HERD_FTYPE_MOSTLY_BF16;
    case HERD_TYPE_Q8_0: return HERD_FTYPE_MOSTLY_Q8_0;
    case HERD_TYPE_Q4_0: return HERD_FTYPE_MOSTLY_Q4_0;
    case HERD_TYPE_Q4_K: return HERD_FTYPE_MOSTLY_Q4_K_M;
    case HERD_TYPE_Q6_K: return HERD_FTYPE_MOSTLY_Q6_K;
    default: return HERD_FTYPE_ALL_F32;
    }
}

herd_status herd_save_gguf_as_is(const herd_model *m, const char *out, int force,
                                 herd_progress_fn progress, void *user)
{
    HERD_TRY(check_out(out, force));
    if (m->cfg.n_layers < 1 || !m->w.layers)
        return herd_fail(HERD_E_ARG, "%s: the model has no layers", out);
    herd_type t = m->w.layers[0].wq.type;
    herd_gguf_write_opts o = {
        .type = HERD_TYPE_F32, .type_of = keep_type, .file_type = file_type(t),
        .quant_version = herd_type_size(t) ? 0 : HERD_GGUF_QNT_VERSION,
        .progress = progress, .user = user};
    return herd_save_gguf_opts(m, out, &o);
}

/* Removes the temporary folder and what the writer left in it. */
static void remove_tmp(const char *dir)
{
    char p[HERD_HF_PATH];
    if (herd_path_join(p, sizeof p, dir, "tokenizer.model") == HERD_OK)
        unlink(p);
    rmdir(dir);
}

herd_status herd_spm_save(const herd_tokenizer *t, const char *path, int force)
{
    HERD_TRY(check_out(path, force));
    char dir[HERD_HF_PATH], file[HERD_HF_PATH];
    int made = 0;
    for (int i = 0; i < 100 && !made; i++) {
        if (snprintf(dir, sizeof dir, "%s.tmp-%ld-%d", path, (long)getpid(), i) >=
            (int)sizeof dir)
            return herd_fail(HERD_E_ARG, "%s: path too long", path);
        if (mkdir(dir, 0777) == 0)
            made = 1;
        else if (errno != EEXIST)
            return herd_fail(HERD_E_IO, "%s: cannot create a folder: %s", dir, strerror(errno));
    }
    if (!made)
        return herd_fail(HERD_E_IO, "%s: no free temporary name beside it", path);
    herd_status s = herd_hf_write_spm(t, dir);
    if (s == HERD_OK)
        s = herd_path_join(file, sizeof file, dir, "tokenizer.model");
    if (s == HERD_OK && rename(file, path) != 0)
        s = herd_fail(HERD_E_IO, "%s: cannot rename %s to it: %s", path, file, strerror(errno));
    remove_tmp(dir);
    return s;
}

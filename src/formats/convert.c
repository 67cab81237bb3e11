/* herd_convert_save: where a conversion goes and how it replaces what is
 * there. A GGUF output is written as OUT.tmp and renamed (gguf_write.c); a
 * Hugging Face folder is written into a fresh OUT.tmp-PID-N folder beside
 * it and renamed into place. An existing output is refused unless force;
 * with force, a folder is replaced only when it holds a config.json (so a
 * mistyped -o never empties an unrelated folder): it is moved aside, the
 * new one renamed in, and then the old one's files deleted. */
#include "formats/convert.h"
#include "formats/hf.h"
#include "base/error.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_gguf_name(const char *p)
{
    size_t n = strlen(p);
    return n >= 5 && strcasecmp(p + n - 5, ".gguf") == 0;
}

static void warn(const herd_convert_opts *o, const char *msg)
{
    if (o->warn)
        o->warn(o->user, msg);
}

/* Deletes the files of a folder (not its subfolders) and the folder;
 * returns 0 when the folder is gone. */
static int remove_flat(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[HERD_HF_PATH];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
                herd_path_join(path, sizeof path, dir, e->d_name) == HERD_OK)
                unlink(path);
        closedir(d);
    }
    herd_clear_error();
    return rmdir(dir);
}

/* A name beside path that does not exist yet: PATH.TAG-PID-N. */
static herd_status fresh_name(const char *path, const char *tag, char *out, size_t n)
{
    struct stat st;
    for (int i = 0; i < 1000; i++) {
        if (snprintf(out, n, "%s.%s-%ld-%d", path, tag, (long)getpid(), i) >= (int)n)
            return herd_fail(HERD_E_ARG, "%s: path too long", path);
        if (lstat(out, &st) != 0 && errno == ENOENT)
            return HERD_OK;
    }
    return herd_fail(HERD_E_IO, "%s: no free temporary name beside it", path);
}

static herd_status make_tmp_dir(const char *dir, char *tmp, size_t n)
{
    for (int tries = 0; tries < 10; tries++) {
        HERD_TRY(fresh_name(dir, "tmp", tmp, n));
        if (mkdir(tmp, 0777) == 0)
            return HERD_OK;
        if (errno != EEXIST)
            return herd_fail(HERD_E_IO, "%s: cannot create a folder: %s", tmp, strerror(errno));
    }
    return herd_fail(HERD_E_IO, "%s: no free temporary name beside it", dir);
}

/* Swaps the finished tmp folder in for the existing dir. */
static herd_status replace(const char *dir, const char *tmp, int was_dir,
                           const herd_convert_opts *o)
{
    char old[HERD_HF_PATH], msg[2 * HERD_HF_PATH + 64];
    HERD_TRY(fresh_name(dir, "old", old, sizeof old));
    if (rename(dir, old) != 0)
        return herd_fail(HERD_E_IO, "%s: cannot move it aside: %s", dir, strerror(errno));
    if (rename(tmp, dir) != 0) {
        int e = errno;
        rename(old, dir);
        return herd_fail(HERD_E_IO, "%s: cannot rename %s to it: %s", dir, tmp, strerror(e));
    }
    if (was_dir ? remove_flat(old) != 0 : unlink(old) != 0) {
        snprintf(msg, sizeof msg, "the old %s is kept as %s", dir, old);
        warn(o, msg);
    }
    return HERD_OK;
}

static herd_status check_existing(const char *dir, const struct stat *st, int force)
{
    char cfg[HERD_HF_PATH];
    if (!force)
        return herd_fail(HERD_E_ARG, "%s already exists (--force replaces it)", dir);
    if (!S_ISDIR(st->st_mode))
        return HERD_OK;
    HERD_TRY(herd_path_join(cfg, sizeof cfg, dir, "config.json"));
    if (!herd_file_exists(cfg))
        return herd_fail(HERD_E_ARG, "%s is a folder without config.json: herd replaces only "
                         "a model folder", dir);
    return HERD_OK;
}

static herd_status save_folder(const herd_model *m, const char *out, const herd_convert_opts *o)
{
    char dir[HERD_HF_PATH], tmp[HERD_HF_PATH];
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        n--;
    if (n >= sizeof dir - 32)
        return herd_fail(HERD_E_ARG, "%s: path too long", out);
    memcpy(dir, out, n);
    dir[n] = 0;
    struct stat st;
    int exists = lstat(dir, &st) == 0;
    if (exists)
        HERD_TRY(check_existing(dir, &st, o->force));
    HERD_TRY(make_tmp_dir(dir, tmp, sizeof tmp));
    int wrote_tok = 0;
    herd_status s = herd_save_hf(m, tmp, o->type, o->progress, o->user, &wrote_tok);
    if (s == HERD_OK && exists)
        s = replace(dir, tmp, S_ISDIR(st.st_mode), o);
    else if (s == HERD_OK && rename(tmp, dir) != 0)
        s = herd_fail(HERD_E_IO, "%s: cannot rename %s to it: %s", dir, tmp, strerror(errno));
    if (s != HERD_OK) {
        herd_status keep = s;
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", herd_last_error());
        remove_flat(tmp);
        return herd_fail(keep, "%s", msg);
    }
    if (!wrote_tok)
        warn(o, "the model has no tokenizer, so the folder has none (give one with -z)");
    return HERD_OK;
}

static herd_status save_gguf(const herd_model *m, const char *out, const herd_convert_opts *o)
{
    struct stat st;
    if (lstat(out, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return herd_fail(HERD_E_ARG, "%s is a folder; a .gguf output is a file", out);
        if (!o->force)
            return herd_fail(HERD_E_ARG, "%s already exists (--force replaces it)", out);
    }
    HERD_TRY(herd_save_gguf_ex(m, out, o->type, o->progress, o->user));
    if (!m->tok)
        warn(o, "the model has no tokenizer, so the GGUF has none (llama.cpp needs one: "
                "give it with -z)");
    return HERD_OK;
}

/* The writers convert F32, F16 and BF16 elements; block types (a quantized
 * GGUF) would need dequantizing first. */
static herd_status check_type(const herd_model *m, const herd_tensor *t)
{
    if (!t->data || t->type == HERD_TYPE_F32 || t->type == HERD_TYPE_F16 ||
        t->type == HERD_TYPE_BF16)
        return HERD_OK;
    return herd_fail(HERD_E_UNSUPPORTED, "%s: a weight has type %s: herd convert reads F32, "
                     "F16 and BF16 weights", m->path ? m->path : "model",
                     herd_type_name(t->type));
}

static herd_status check_types(const herd_model *m)
{
    const herd_weights *w = &m->w;
    HERD_TRY(check_type(m, &w->tok_embeddings));
    HERD_TRY(check_type(m, &w->output_norm));
    HERD_TRY(check_type(m, &w->output));
    HERD_TRY(check_type(m, &w->rope_freqs));
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const herd_layer_weights *L = &w->layers[l];
        const herd_tensor *all[9] = {&L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo,
                                     &L->ffn_norm, &L->w1, &L->w2, &L->w3};
        for (int i = 0; i < 9; i++)
            HERD_TRY(check_type(m, all[i]));
    }
    return HERD_OK;
}

herd_status herd_convert_save(const herd_model *m, const char *out, const herd_convert_opts *o)
{
    if (o->type != HERD_TYPE_F32 && o->type != HERD_TYPE_F16 && o->type != HERD_TYPE_BF16)
        return herd_fail(HERD_E_ARG, "output type %d: herd writes F32, F16 or BF16",
                         (int)o->type);
    if (!out || !*out)
        return herd_fail(HERD_E_ARG, "no output path");
    HERD_TRY(check_types(m));
    return is_gguf_name(out) ? save_gguf(m, out, o) : save_folder(m, out, o);
}

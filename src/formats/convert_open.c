/* herd_convert_open: a model loaded and checked as herd_model_open does,
 * minus herd_model_prepare, so that its weights stay in their file types
 * (mapped, not widened), optionally with another tokenizer. */
#include "formats/convert.h"
#include "base/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_gguf(const char *path)
{
    char magic[4];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(magic, "GGUF", 4) == 0;
}

/* The format detection of herd_model_open (model/open.c). */
static herd_status load(const char *path, herd_model *m)
{
    herd_config_defaults(&m->cfg);
    if (herd_is_dir(path))
        return herd_load_hf(path, m);
    if (!herd_file_exists(path))
        return herd_fail(HERD_E_IO, "%s: no such file or folder", path);
    if (is_gguf(path))
        return herd_load_gguf(path, m);
    return herd_load_llama2c(path, m);
}

static herd_status attach_tokenizer(herd_model *m, const char *path)
{
    if (path) {
        herd_tokenizer *t;
        HERD_TRY(herd_tokenizer_open(path, &t));
        herd_tokenizer_free(m->tok);
        m->tok = t;
    }
    if (!m->tok)
        return HERD_OK;
    int n = herd_tokenizer_n_vocab(m->tok);
    if (n != m->cfg.vocab_size)
        return herd_fail(HERD_E_FORMAT, "%s: the tokenizer has %d tokens but the model's "
                         "vocabulary is %d", path ? path : m->path, n, m->cfg.vocab_size);
    return HERD_OK;
}

herd_status herd_convert_open(const char *path, const char *tokenizer, herd_model **out)
{
    *out = NULL;
    herd_model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return herd_fail(HERD_E_NOMEM, "out of memory");
    }
    herd_status s = load(path, m);
    if (s == HERD_OK && (s = herd_model_check(m)) != HERD_OK)
        herd_fail_prefix(s, "%s", path);
    if (s == HERD_OK)
        s = attach_tokenizer(m, tokenizer);
    if (s != HERD_OK) {
        herd_model_free(m);
        return s;
    }
    *out = m;
    return HERD_OK;
}

#include "model/model.h"
#include "model/adapter.h"
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

static herd_status check_tokenizer(const herd_model *m)
{
    if (!m->tok)
        return HERD_OK;
    int n = herd_tokenizer_n_vocab(m->tok);
    if (n != m->cfg.vocab_size)
        return herd_fail(HERD_E_FORMAT,
                         "the tokenizer has %d tokens but the model's vocabulary is %d",
                         n, m->cfg.vocab_size);
    return HERD_OK;
}

herd_status herd_model_load(const char *path, const char *tokenizer, herd_model **out)
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
    if (s == HERD_OK && tokenizer) {
        herd_tokenizer *t;
        if ((s = herd_tokenizer_open(tokenizer, &t)) == HERD_OK) {
            herd_tokenizer_free(m->tok);
            m->tok = t;
        }
    }
    if (s == HERD_OK && (s = check_tokenizer(m)) != HERD_OK)
        herd_fail_prefix(s, "%s", tokenizer ? tokenizer : path);
    if (s != HERD_OK) {
        herd_model_free(m);
        return s;
    }
    *out = m;
    return HERD_OK;
}

herd_status herd_model_open(const char *path, herd_model **out)
{
    return herd_model_open_ex(path, NULL, out);
}

herd_status herd_model_open_ex(const char *path, const char *tokenizer, herd_model **out)
{
    HERD_TRY(herd_model_load(path, tokenizer, out));
    herd_status s = herd_model_prepare(*out);
    if (s != HERD_OK) {
        herd_fail_prefix(s, "%s", path);
        herd_model_free(*out);
        *out = NULL;
    }
    return s;
}

void herd_model_free(herd_model *m)
{
    if (!m)
        return;
    herd_tokenizer_free(m->tok);
    for (int k = 0; k < m->n_adapters; k++)
        herd_adapter_free(m->adapters[k]);
    free(m->adapters);
    free(m->adapter_scale);
    free(m->chat_template);
    herd_owned_free(&m->owned);
    free(m->path);
    free(m);
}

const herd_config *herd_model_config(const herd_model *m) { return &m->cfg; }

herd_tokenizer *herd_model_tokenizer(herd_model *m) { return m->tok; }

const char *herd_model_chat_template(const herd_model *m) { return m->chat_template; }

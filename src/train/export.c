/* The result of a training run on disk (export.h). */
#include "train/export.h"
#include "base/error.h"
#include "base/file.h"
#include "formats/adapter.h"
#include "formats/convert.h"
#include "model/adapter.h"
#include "model/model.h"
#include <stdio.h>

#define PATH_CAP 4096

static herd_status export_adapter(herd_train_model *tm, const char *out_dir,
                                  const char *base_name, char *msg, size_t cap)
{
    char dir[PATH_CAP], path[PATH_CAP];
    herd_adapter *a;
    HERD_TRY(herd_train_lora_adapter(tm, &a));
    herd_status st = herd_path_join(dir, sizeof dir, out_dir, "adapter");
    if (st == HERD_OK)
        st = herd_adapter_save_peft(a, herd_train_config(tm), dir, base_name);
    if (st == HERD_OK)
        st = herd_path_join(path, sizeof path, out_dir, "adapter.gguf");
    if (st == HERD_OK)
        st = herd_adapter_save_gguf(a, path);
    herd_adapter_free(a);
    HERD_TRY(st);
    snprintf(msg, cap, "exported the adapter to %s (PEFT) and %s (llama.cpp --lora)", dir,
             path);
    return HERD_OK;
}

herd_status herd_train_export(herd_train_model *tm, const herd_tokenizer *tok,
                              const char *chat_template, const char *out_dir,
                              const char *base_name, char *msg, size_t cap)
{
    herd_model *m = (herd_model *)herd_train_as_model(tm);
    if (!m)
        return export_adapter(tm, out_dir, base_name, msg, cap);
    char path[PATH_CAP];
    HERD_TRY(herd_path_join(path, sizeof path, out_dir, "model.gguf"));
    m->tok = (herd_tokenizer *)tok;
    m->chat_template = (char *)chat_template;
    herd_status st = herd_save_gguf_ex(m, path, HERD_TYPE_F32, NULL, NULL);
    m->tok = NULL;
    m->chat_template = NULL;
    HERD_TRY(st);
    snprintf(msg, cap, "exported %s", path);
    return HERD_OK;
}

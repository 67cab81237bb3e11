/* JSON config files (json_config.h). */
#include "train/json_config.h"
#include "herd_train.h"
#include "base/error.h"
#include "base/file.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

herd_status herd_cfg_num(const cJSON *v, double lo, double hi, double *out)
{
    if (!cJSON_IsNumber(v))
        return herd_fail(HERD_E_ARG, "config: \"%s\" must be a number", v->string);
    if (!(v->valuedouble >= lo && v->valuedouble <= hi))
        return herd_fail(HERD_E_ARG, "config: \"%s\" = %g is outside %g..%g", v->string,
                         v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return HERD_OK;
}

herd_status herd_cfg_str(const cJSON *v, char *out, size_t cap)
{
    if (!cJSON_IsString(v))
        return herd_fail(HERD_E_ARG, "config: \"%s\" must be a string", v->string);
    if (strlen(v->valuestring) >= cap)
        return herd_fail(HERD_E_ARG, "config: \"%s\" is too long", v->string);
    strcpy(out, v->valuestring);
    return HERD_OK;
}

herd_status herd_cfg_bool(const cJSON *v, int *out)
{
    if (!cJSON_IsBool(v))
        return herd_fail(HERD_E_ARG, "config: \"%s\" must be true or false", v->string);
    *out = cJSON_IsTrue(v);
    return HERD_OK;
}

herd_status herd_cfg_lora_targets(const cJSON *v, unsigned *out)
{
    static const char *names[7] = {"q", "k", "v", "o", "gate", "up", "down"};
    char buf[128];
    HERD_TRY(herd_cfg_str(v, buf, sizeof buf));
    *out = 0;
    for (char *save, *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        int found = !strcmp(t, "all");
        *out |= found ? HERD_LORA_ALL : 0;
        for (int i = 0; i < 7 && !found; i++) {
            size_t n = strlen(names[i]);
            if (!strncmp(t, names[i], n) && (!t[n] || !strcmp(t + n, "_proj")))
                *out |= 1u << i, found = 1;
        }
        if (!found)
            return herd_fail(HERD_E_ARG, "config: lora_targets: unknown matrix '%s' (q, k, v, "
                             "o, gate, up, down, all)", t);
    }
    return *out ? HERD_OK : herd_fail(HERD_E_ARG, "config: lora_targets is empty");
}

herd_status herd_cfg_template(const cJSON *v, char *out, size_t cap)
{
    herd_chat_template t;
    const char *w = cJSON_IsString(v) ? v->valuestring : "";
    if (strcmp(w, "auto") && strcmp(w, "none") && herd_chat_template_parse(w, &t) != HERD_OK)
        return herd_fail(HERD_E_ARG, "config: \"%s\" must be auto, none, llama2 or llama3",
                         v->string);
    return herd_cfg_str(v, out, cap);
}

herd_status herd_cfg_load(const char *path, herd_status (*key)(const cJSON *, void *),
                          void *opts)
{
    char *text;
    size_t len;
    HERD_TRY(herd_read_file(path, &text, &len));
    cJSON *j = cJSON_ParseWithLength(text, len);
    herd_status st = HERD_OK;
    if (!j || !cJSON_IsObject(j))
        st = herd_fail(HERD_E_FORMAT, "not a JSON object (error near byte %ld)",
                       j ? 0L : (long)(cJSON_GetErrorPtr() - text));
    for (const cJSON *v = j ? j->child : NULL; st == HERD_OK && v; v = v->next)
        st = key(v, opts);
    if (st != HERD_OK)
        herd_fail_prefix(st, "%s", path);
    cJSON_Delete(j);
    free(text);
    return st;
}

herd_chat_template herd_cfg_pick_template(const char *name, const herd_model *m,
                                          const herd_tokenizer *t)
{
    herd_chat_template tpl = HERD_CHAT_NONE;
    if (!strcmp(name, "auto")) {
        const char *jinja = m ? herd_model_chat_template(m) : NULL;
        return jinja ? herd_chat_template_detect(jinja, t) : HERD_CHAT_NONE;
    }
    if (strcmp(name, "none"))
        herd_chat_template_parse(name, &tpl);
    return tpl;
}

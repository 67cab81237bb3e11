/* Which chat template a model uses, by name, by its metadata or by its
 * vocabulary; and the tokens that end a turn. */
#include "herd.h"
#include "base/error.h"
#include <string.h>

herd_status herd_chat_template_parse(const char *name, herd_chat_template *out)
{
    if (name && !strcmp(name, "llama2"))
        *out = HERD_CHAT_LLAMA2;
    else if (name && !strcmp(name, "llama3"))
        *out = HERD_CHAT_LLAMA3;
    else
        return herd_fail(HERD_E_ARG, "unknown chat template '%s' (herd knows llama2 and "
                         "llama3)", name ? name : "");
    return HERD_OK;
}

const char *herd_chat_template_name(herd_chat_template tpl)
{
    return tpl == HERD_CHAT_LLAMA2 ? "llama2" : tpl == HERD_CHAT_LLAMA3 ? "llama3" : "none";
}

herd_chat_template herd_chat_template_detect(const char *jinja, const herd_tokenizer *t)
{
    if (jinja && strstr(jinja, "<|start_header_id|>"))
        return HERD_CHAT_LLAMA3;
    if (jinja && strstr(jinja, "[INST]"))
        return HERD_CHAT_LLAMA2;
    if (t && herd_token_id(t, "<|start_header_id|>") >= 0)
        return HERD_CHAT_LLAMA3;
    return HERD_CHAT_LLAMA2;
}

int herd_chat_is_end(const herd_tokenizer *t, herd_chat_template tpl, int id)
{
    if (id == herd_tokenizer_eos(t))
        return 1;
    return tpl == HERD_CHAT_LLAMA3 && id == herd_token_id(t, "<|eot_id|>");
}

int herd_chat_end_token(const herd_tokenizer *t, herd_chat_template tpl)
{
    int eot = tpl == HERD_CHAT_LLAMA3 ? herd_token_id(t, "<|eot_id|>") : -1;
    return eot >= 0 ? eot : herd_tokenizer_eos(t);
}

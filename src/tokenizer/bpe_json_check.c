/* What herd accepts of a Hugging Face tokenizer.json besides its vocabulary:
 * a BPE model without subword affixes or byte fallback, no normalizer, and
 * Llama 3's pre-tokenizer (Split on HERD_LLAMA3_PATTERN, isolated, then
 * ByteLevel without its own regex). Anything else is HERD_E_UNSUPPORTED,
 * named, rather than a tokenizer that quietly encodes differently. */
#include "tokenizer/bpe.h"
#include "base/error.h"
#include <cjson/cJSON.h>
#include <string.h>

static const char *type_of(const cJSON *o)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : "(no type)";
}

static int is_null_or_empty(const cJSON *v)
{
    return !v || cJSON_IsNull(v) || (cJSON_IsString(v) && !v->valuestring[0]) ||
           cJSON_IsFalse(v);
}

herd_status herd_bpe_json_check_model(const char *path, const cJSON *model)
{
    if (!cJSON_IsObject(model))
        return herd_fail(HERD_E_FORMAT, "%s: no \"model\" object", path);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (type && !cJSON_IsString(type))
        return herd_fail(HERD_E_FORMAT, "%s: model.type is not a string", path);
    if (type && strcmp(type->valuestring, "BPE") != 0)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: model type %s is not supported (herd reads "
                         "byte-level BPE)", path, type->valuestring);
    if (!type && !cJSON_GetObjectItemCaseSensitive(model, "merges"))
        return herd_fail(HERD_E_UNSUPPORTED, "%s: the model has no type and no merges: not BPE",
                         path);
    static const char *const off[] = {"continuing_subword_prefix", "end_of_word_suffix",
                                      "byte_fallback"};
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++)
        if (!is_null_or_empty(cJSON_GetObjectItemCaseSensitive(model, off[i])))
            return herd_fail(HERD_E_UNSUPPORTED, "%s: model.%s is set; herd's byte-level BPE "
                             "has no such option", path, off[i]);
    return HERD_OK;
}

/* Split on Llama 3's regex, kept as isolated pieces. */
static int llama3_split(const cJSON *p)
{
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
    const cJSON *beh = cJSON_GetObjectItemCaseSensitive(p, "behavior");
    return strcmp(type_of(p), "Split") == 0 && cJSON_IsString(re) &&
           strcmp(re->valuestring, HERD_LLAMA3_PATTERN) == 0 && cJSON_IsString(beh) &&
           strcmp(beh->valuestring, "Isolated") == 0 &&
           !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "invert"));
}

/* ByteLevel that only maps bytes (its own GPT-2 regex off, no prefix space). */
static int plain_byte_level(const cJSON *p)
{
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(p, "use_regex");
    return strcmp(type_of(p), "ByteLevel") == 0 && cJSON_IsFalse(re) &&
           !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "add_prefix_space"));
}

herd_status herd_bpe_json_check_pipeline(const char *path, const cJSON *root)
{
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (norm && !cJSON_IsNull(norm))
        return herd_fail(HERD_E_UNSUPPORTED, "%s: normalizer %s is not supported (Llama 3 has "
                         "none)", path, type_of(norm));
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
    if (pre && strcmp(type_of(pre), "Sequence") == 0 && cJSON_GetArraySize(seq) == 2 &&
        llama3_split(cJSON_GetArrayItem(seq, 0)) && plain_byte_level(cJSON_GetArrayItem(seq, 1)))
        return HERD_OK;
    if (!pre || cJSON_IsNull(pre))
        return herd_fail(HERD_E_UNSUPPORTED, "%s: no pre_tokenizer; herd knows Llama 3's", path);
    return herd_fail(HERD_E_UNSUPPORTED, "%s: pre_tokenizer %s is not Llama 3's (Split on its "
                     "regex, then ByteLevel without regex)", path, type_of(pre));
}

/* JSONL reading (jsonl.h). */
#include "train/jsonl.h"
#include "base/error.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int herd_jsonl_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(" \t\r\n", s[i]))
            return 0;
    return 1;
}

herd_status herd_jsonl_object(const char *line, size_t len, cJSON **out)
{
    const char *end = NULL;
    cJSON *o = *out = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (!o)
        return herd_fail(HERD_E_FORMAT, "not valid JSON");
    if (!herd_jsonl_blank(end, len - (size_t)(end - line)))
        return herd_fail(HERD_E_FORMAT, "text after the JSON value");
    if (!cJSON_IsObject(o))
        return herd_fail(HERD_E_FORMAT, "not a JSON object");
    return HERD_OK;
}

herd_status herd_jsonl_each(FILE *f, const char *path, herd_jsonl_fn fn, void *user,
                            int64_t *n_lines)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t lineno = 0;
    herd_status s = HERD_OK;
    while (s == HERD_OK && (len = getline(&line, &cap, f)) >= 0) {
        char *p = line;
        if (++lineno == 1 && len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
            p += 3, len -= 3;   /* a UTF-8 byte order mark */
        if (herd_jsonl_blank(p, (size_t)len))
            continue;
        if (n_lines)
            ++*n_lines;
        s = fn(user, p, (size_t)len, lineno);
    }
    if (s == HERD_OK && ferror(f))
        s = herd_fail(HERD_E_IO, "%s: read error: %s", path, strerror(errno));
    free(line);
    return s;
}

/* Ghost Attention data (train/gatt.h): a dialogue's sampling and training
 * views, the per-line draw of instructions, and JSONL in and out. */
#include "train/gatt.h"
#include "base/error.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- one dialogue ---- */

void herd_gatt_dialog_free(herd_gatt_dialog *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->n; i++)
        free((char *)d->msgs[i].content);
    free(d->msgs);
    free(d->train);
    memset(d, 0, sizeof *d);
}

/* text without a leading inst + "\n\n" (or all of it when it is inst). */
static const char *unjoin(const char *inst, const char *text)
{
    size_t k = strlen(inst);
    if (strncmp(text, inst, k))
        return text;
    if (!text[k])
        return text + k;
    return strncmp(text + k, "\n\n", 2) ? text : text + k + 2;
}

/* inst + "\n\n" + text (inst alone for an empty text), or NULL. */
static char *join(const char *inst, const char *text)
{
    size_t a = strlen(inst), b = strlen(text);
    char *s = malloc(a + b + 3);
    if (!s)
        return NULL;
    memcpy(s, inst, a);
    if (b)
        memcpy(s + a, "\n\n", 2), memcpy(s + a + 2, text, b);
    s[a + (b ? b + 2 : 0)] = 0;
    return s;
}

static const char *role_of(const char *r)
{
    static const char *const roles[] = {"system", "user", "assistant"};
    for (int i = 0; i < 3; i++)
        if (r && !strcmp(r, roles[i]))
            return roles[i];
    return NULL;
}

/* Checks in; *keep: how many messages the view keeps, *last_a: the last
 * assistant message (-1 if none). */
static herd_status check_dialog(herd_gatt_view v, const char *inst, const herd_chat_msg *in,
                                int n, int *keep, int *last_a)
{
    int first_user = -1;
    *last_a = -1;
    if (!inst || !inst[strspn(inst, " \t\r\n")])
        return herd_fail(HERD_E_ARG, "gatt: the instruction is empty");
    if (v != HERD_GATT_PROMPTS && v != HERD_GATT_TRAIN)
        return herd_fail(HERD_E_ARG, "gatt: unknown view %d", (int)v);
    for (int i = 0; i < n; i++) {
        if (!role_of(in[i].role) || !in[i].content)
            return herd_fail(HERD_E_ARG, "message %d has role \"%.40s\" (want system, user or "
                             "assistant) or no content", i, in[i].role ? in[i].role : "");
        if (first_user < 0 && !strcmp(in[i].role, "user"))
            first_user = i;
        if (first_user >= 0 && !strcmp(in[i].role, "assistant"))
            *last_a = i;
    }
    if (first_user < 0)
        return herd_fail(HERD_E_ARG, "no user message: nothing to put the instruction on");
    if (v == HERD_GATT_TRAIN && *last_a < 0)
        return herd_fail(HERD_E_ARG, "no assistant message after a user message: nothing to "
                         "train (the train view wants the dialogue with its answers)");
    *keep = v == HERD_GATT_TRAIN ? *last_a + 1 : n;
    return HERD_OK;
}

static herd_status dialog_alloc(herd_gatt_dialog *d, int n)
{
    memset(d, 0, sizeof *d);
    d->msgs = calloc((size_t)n + 1, sizeof *d->msgs);
    d->train = calloc((size_t)n + 1, 1);
    if (!d->msgs || !d->train) {
        herd_gatt_dialog_free(d);
        return herd_fail(HERD_E_NOMEM, "gatt: out of memory");
    }
    return HERD_OK;
}

/* Appends role with text (inst joined before it when inst is not NULL). */
static herd_status push(herd_gatt_dialog *d, const char *role, const char *inst,
                        const char *text, int train)
{
    char *s = inst ? join(inst, text) : strdup(text);
    if (!s)
        return herd_fail(HERD_E_NOMEM, "gatt: out of memory");
    d->msgs[d->n] = (herd_chat_msg){role, s};
    d->train[d->n++] = (uint8_t)train;
    return HERD_OK;
}

static herd_status build(herd_gatt_view v, int in_user, const char *inst,
                         const herd_chat_msg *in, int keep, int last_a, herd_gatt_dialog *d)
{
    int placed = 0;
    if (v == HERD_GATT_TRAIN && !in_user && (!keep || strcmp(in[0].role, "system"))) {
        HERD_TRY(push(d, "system", NULL, inst, 1));
        placed = 1;
    }
    for (int i = 0; i < keep; i++) {
        const char *role = role_of(in[i].role), *text = in[i].content, *with = NULL;
        int user = role[0] == 'u';
        if (v == HERD_GATT_PROMPTS)
            with = user ? inst : NULL;
        else if (!placed && (in_user ? user : i == 0))
            with = inst, placed = 1;
        if (user || with)
            text = unjoin(inst, text);
        int train = v == HERD_GATT_PROMPTS || role[0] != 'a' || i == last_a;
        HERD_TRY(push(d, role, with, text, train));
    }
    return HERD_OK;
}

herd_status herd_gatt_build(herd_gatt_view v, int in_user, const char *inst,
                            const herd_chat_msg *in, int n, herd_gatt_dialog *out)
{
    int keep = 0, last_a = -1;
    memset(out, 0, sizeof *out);
    if (n < 0 || (n && !in))
        return herd_fail(HERD_E_ARG, "gatt: no messages");
    HERD_TRY(check_dialog(v, inst, in, n, &keep, &last_a));
    HERD_TRY(dialog_alloc(out, keep));
    herd_status s = build(v, in_user, inst, in, keep, last_a, out);
    if (s != HERD_OK)
        herd_gatt_dialog_free(out);
    return s;
}

/* ---- drawing instructions ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void herd_gatt_draw(uint64_t seed, int64_t lineno, int n_pool, int k, int *idx)
{
    uint64_t line = (uint64_t)lineno;
    uint64_t x = seed ^ splitmix64(&line);
    for (int j = 0; j < k && j < n_pool; j++) {
        int again;
        do {
            idx[j] = (int)(splitmix64(&x) % (uint64_t)n_pool);
            again = 0;
            for (int i = 0; i < j; i++)
                again |= idx[i] == idx[j];
        } while (again);
    }
}

void herd_gatt_pool_free(char **pool, int n)
{
    for (int i = 0; pool && i < n; i++)
        free(pool[i]);
    free(pool);
}

static herd_status pool_add(char ***pool, int *n, int *cap, const char *s, size_t len)
{
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 16;
        char **p = c > 0 ? realloc(*pool, (size_t)c * sizeof *p) : NULL;
        if (!p)
            return herd_fail(HERD_E_NOMEM, "gatt: out of memory");
        *pool = p, *cap = c;
    }
    char *e = strndup(s, len);
    if (!e)
        return herd_fail(HERD_E_NOMEM, "gatt: out of memory");
    (*pool)[(*n)++] = e;
    return HERD_OK;
}

herd_status herd_gatt_read_pool(const char *path, char ***pool, int *n)
{
    *pool = NULL, *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return herd_fail(HERD_E_IO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int cap = 0;
    herd_status s = HERD_OK;
    while (s == HERD_OK && (len = getline(&line, &lcap, f)) >= 0) {
        char *p = line;
        if (!*n && len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
            p += 3, len -= 3;
        while (len && strchr(" \t\r\n\v\f", p[len - 1]))
            len--;
        while (len && strchr(" \t", p[0]))
            p++, len--;
        if (strnlen(p, (size_t)len) < (size_t)len)
            s = herd_fail(HERD_E_FORMAT, "%s: an instruction holds a NUL byte", path);
        else if (len)
            s = pool_add(pool, n, &cap, p, (size_t)len);
    }
    if (s == HERD_OK && ferror(f))
        s = herd_fail(HERD_E_IO, "%s: read error: %s", path, strerror(errno));
    if (s == HERD_OK && !*n)
        s = herd_fail(HERD_E_FORMAT, "%s: no instructions (want one per line)", path);
    free(line);
    fclose(f);
    if (s != HERD_OK) {
        herd_gatt_pool_free(*pool, *n);
        *pool = NULL, *n = 0;
    }
    return s;
}

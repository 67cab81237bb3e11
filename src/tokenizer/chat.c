/* Chat templates: a conversation as the token ids Llama 2 and Llama 3 chat
 * models were trained on, built the way Meta's reference code builds them
 * (llama/generation.py chat_completion for Llama 2, llama3 tokenizer.py
 * ChatFormat for Llama 3): text pieces encoded one by one, special tokens
 * added as ids, never parsed out of user text.
 *
 * Llama 2:  for each (user, assistant) pair
 *             BOS "[INST] {user} [/INST] {assistant} " EOS
 *           then BOS "[INST] {last user} [/INST]"; a system prompt goes
 *           into the first user message as "<<SYS>>\n{system}\n<</SYS>>\n\n".
 * Llama 3:  <|begin_of_text|> then for each message
 *             <|start_header_id|> {role} <|end_header_id|> "\n\n"
 *             {content} <|eot_id|>
 *           then, with HERD_CHAT_OPEN, the assistant's header, left open.
 * Contents are stripped of surrounding whitespace, as Meta's code does. */
#include "herd.h"
#include "base/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const herd_tokenizer *t;
    int *ids;
    int max, n;
} out_buf;

static void push(out_buf *o, int id)
{
    if (o->n < o->max)
        o->ids[o->n] = id;
    o->n++;
}

/* Encodes text after what is there; past max it only counts. */
static herd_status push_text(out_buf *o, const char *s, size_t len, unsigned flags)
{
    int room = o->n < o->max ? o->max - o->n : 0, n;
    HERD_TRY(herd_tokenize_ex(o->t, s, len, flags, room ? o->ids + o->n : NULL, room, &n));
    o->n += n;
    return HERD_OK;
}

/* Python's str.isspace, which Meta's .strip() follows: ASCII whitespace,
 * U+001C..U+001F, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029,
 * U+202F, U+205F and U+3000. Returns the byte length of the space at s
 * (n bytes left), 0 when s does not start with one. */
static int space_len(const unsigned char *s, size_t n)
{
    if (*s == ' ' || (*s >= 0x09 && *s <= 0x0D) || (*s >= 0x1C && *s <= 0x1F))
        return 1;
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0))
        return 2;
    if (n < 3)
        return 0;
    unsigned c = (s[0] & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu);
    if ((s[0] & 0xF0) != 0xE0 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
        return 0;
    int sp = c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
             c == 0x202F || c == 0x205F || c == 0x3000;
    return sp ? 3 : 0;
}

/* The length of a space that ends s[0..n), 0 when none. */
static int space_len_before(const unsigned char *s, size_t n)
{
    for (int k = 1; k <= 3 && (size_t)k <= n; k++)
        if (space_len(s + n - k, (size_t)k) == k)
            return k;
    return 0;
}

static void strip(const char **s, size_t *len)
{
    int k;
    while (*len && (k = space_len((const unsigned char *)*s, *len)) > 0)
        *s += k, *len -= (size_t)k;
    while (*len && (k = space_len_before((const unsigned char *)*s, *len)) > 0)
        *len -= (size_t)k;
}

static herd_status special(const herd_tokenizer *t, const char *piece, int *id)
{
    *id = herd_token_id(t, piece);
    if (*id < 0)
        return herd_fail(HERD_E_UNSUPPORTED, "the tokenizer has no %s token: is this a "
                         "Llama 3 model?", piece);
    return HERD_OK;
}

/* ---- Llama 3 ---- */

static herd_status llama3_message(out_buf *o, const herd_chat_msg *m)
{
    int start, end, eot;
    HERD_TRY(special(o->t, "<|start_header_id|>", &start));
    HERD_TRY(special(o->t, "<|end_header_id|>", &end));
    HERD_TRY(special(o->t, "<|eot_id|>", &eot));
    push(o, start);
    HERD_TRY(push_text(o, m->role, strlen(m->role), 0));
    push(o, end);
    HERD_TRY(push_text(o, "\n\n", 2, 0));
    if (!m->content) /* an open header: the model writes the content */
        return HERD_OK;
    const char *c = m->content;
    size_t len = strlen(c);
    strip(&c, &len);
    HERD_TRY(push_text(o, c, len, 0));
    push(o, eot);
    return HERD_OK;
}

static herd_status llama3(out_buf *o, const herd_chat_msg *msgs, int n, unsigned flags)
{
    if (!(flags & HERD_CHAT_CONTINUE))
        push(o, herd_tokenizer_bos(o->t));
    for (int i = 0; i < n; i++)
        HERD_TRY(llama3_message(o, &msgs[i]));
    if (flags & HERD_CHAT_OPEN) {
        herd_chat_msg open = {"assistant", NULL};
        HERD_TRY(llama3_message(o, &open));
    }
    return HERD_OK;
}

/* ---- Llama 2 ---- */

/* One Llama 2 turn as Meta's chat_completion writes it: the system prompt
 * merged into the first user message and that whole stripped, then
 * "[INST] {user} [/INST]" and, when answered, " {answer} ". */
static herd_status llama2_user(char **buf, size_t *cap, const char *sys, const char *user,
                               const char *answer)
{
    size_t ls = sys ? strlen(sys) : 0, lu = strlen(user), la = answer ? strlen(answer) : 0;
    size_t need = ls + lu + la + 64;
    char *merged = malloc(ls + lu + 32);
    if (!merged)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    if (need > *cap) {
        char *b = realloc(*buf, need);
        if (!b) {
            free(merged);
            return herd_fail(HERD_E_NOMEM, "out of memory");
        }
        *buf = b, *cap = need;
    }
    const char *u = merged;
    lu = (size_t)sprintf(merged, "%s%s%s%s", sys ? "<<SYS>>\n" : "", sys ? sys : "",
                         sys ? "\n<</SYS>>\n\n" : "", user);
    strip(&u, &lu);
    char *p = *buf;
    p += sprintf(p, "[INST] %.*s [/INST]", (int)lu, u);
    if (answer) {
        strip(&answer, &la);
        p += sprintf(p, " %.*s ", (int)la, answer);
    }
    free(merged);
    return HERD_OK;
}

static herd_status check_llama2_roles(const herd_chat_msg *m, int n, int *first)
{
    *first = n > 0 && !strcmp(m[0].role, "system");
    for (int i = *first; i < n; i++) {
        const char *want = (i - *first) % 2 == 0 ? "user" : "assistant";
        if (strcmp(m[i].role, want))
            return herd_fail(HERD_E_ARG, "Llama 2 chat: message %d is '%s', want '%s' (a "
                             "system prompt first, then user and assistant in turn)",
                             i, m[i].role, want);
    }
    return HERD_OK;
}

static herd_status llama2(out_buf *o, const herd_chat_msg *m, int n)
{
    int first;
    HERD_TRY(check_llama2_roles(m, n, &first));
    const char *sys = first ? m[0].content : NULL;
    char *buf = NULL;
    size_t cap = 0;
    herd_status s = HERD_OK;
    for (int i = first; s == HERD_OK && i < n; i += 2) {
        const char *answer = i + 1 < n ? m[i + 1].content : NULL;
        s = llama2_user(&buf, &cap, i == first ? sys : NULL, m[i].content, answer);
        if (s == HERD_OK)
            s = push_text(o, buf, strlen(buf),
                          HERD_TOKENIZE_BOS | (answer ? HERD_TOKENIZE_EOS : 0));
    }
    free(buf);
    return s;
}

herd_status herd_chat_render(const herd_tokenizer *t, herd_chat_template tpl,
                             const herd_chat_msg *msgs, int n, unsigned flags, int *ids,
                             int max, int *n_out)
{
    *n_out = 0;
    if (!t || n < 0 || (n && !msgs))
        return herd_fail(HERD_E_ARG, "herd_chat_render: no tokenizer or messages");
    for (int i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content)
            return herd_fail(HERD_E_ARG, "chat message %d has no role or content", i);
    out_buf o = {t, ids, max, 0};
    herd_status s;
    if (tpl == HERD_CHAT_LLAMA3)
        s = llama3(&o, msgs, n, flags);
    else if (tpl == HERD_CHAT_LLAMA2)
        s = llama2(&o, msgs, n);
    else
        s = herd_fail(HERD_E_ARG, "unknown chat template %d", (int)tpl);
    *n_out = o.n;
    return s;
}

/* One SFT example to token ids and a loss mask (formats in train/sft.h).
 *
 * An example is cut into turns, each ending with an assistant answer. A
 * turn is rendered twice: its prompt alone (the chat template's open form:
 * Llama 3's assistant header, Llama 2's "[INST] ... [/INST]") and the whole
 * turn. The ids are the whole turn's; those past the longest common prefix
 * of the two, the answer and the token that closes it, are trained. The
 * turns' ids back to back are the template's rendering of the whole
 * conversation (Llama 2 starts each turn with BOS, Llama 3 renders each
 * message on its own). */
#include "train/sft.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    int *ids;
    int n, cap;
} id_buf;

static herd_status grow_ids(id_buf *b, int need)
{
    if (need <= b->cap)
        return HERD_OK;
    int cap = need + need / 2 + 64;
    int *p = realloc(b->ids, (size_t)cap * sizeof *p);
    if (!p)
        return herd_fail(HERD_E_NOMEM, "sft: out of memory");
    b->ids = p, b->cap = cap;
    return HERD_OK;
}

static herd_status tokens_reserve(herd_sft_tokens *tk, int need)
{
    if (need <= tk->cap)
        return HERD_OK;
    int cap = need + need / 2 + 64;
    int *ids = realloc(tk->ids, (size_t)cap * sizeof *ids);
    if (ids)
        tk->ids = ids;
    uint8_t *tr = ids ? realloc(tk->trained, (size_t)cap) : NULL;
    if (!tr)
        return herd_fail(HERD_E_NOMEM, "sft: out of memory");
    tk->trained = tr, tk->cap = cap;
    return HERD_OK;
}

void herd_sft_tokens_free(herd_sft_tokens *tk)
{
    if (!tk)
        return;
    free(tk->ids);
    free(tk->trained);
    memset(tk, 0, sizeof *tk);
}

/* Appends the whole turn's ids, trained from the first that differs from
 * the prompt's. */
static herd_status append_turn(herd_sft_tokens *tk, const id_buf *prompt, const id_buf *whole)
{
    int lcp = 0;
    while (lcp < prompt->n && lcp < whole->n && prompt->ids[lcp] == whole->ids[lcp])
        lcp++;
    if (tk->n > INT32_MAX - whole->n)
        return herd_fail(HERD_E_RANGE, "sft: example too long");
    HERD_TRY(tokens_reserve(tk, tk->n + whole->n));
    memcpy(tk->ids + tk->n, whole->ids, (size_t)whole->n * sizeof *whole->ids);
    for (int i = 0; i < whole->n; i++)
        tk->trained[tk->n + i] = i >= lcp;
    tk->n += whole->n;
    return HERD_OK;
}

/* ---- chat templates ---- */

static herd_status render_msgs(const herd_tokenizer *t, herd_chat_template tpl,
                               const herd_chat_msg *m, int n, unsigned flags, id_buf *b)
{
    int got = 0;
    HERD_TRY(herd_chat_render(t, tpl, m, n, flags, b->ids, b->cap, &got));
    if (got > b->cap) {
        HERD_TRY(grow_ids(b, got));
        HERD_TRY(herd_chat_render(t, tpl, m, n, flags, b->ids, b->cap, &got));
    }
    b->n = got;
    return HERD_OK;
}

/* Turn [a, i]: messages a..i-1 as its prompt, i its answer. */
static herd_status template_turn(const herd_tokenizer *t, herd_chat_template tpl,
                                 const herd_chat_msg *m, int a, int i, herd_sft_tokens *tk,
                                 id_buf *prompt, id_buf *whole)
{
    unsigned flags = a > 0 ? HERD_CHAT_CONTINUE : 0;
    HERD_TRY(render_msgs(t, tpl, m + a, i - a, flags | HERD_CHAT_OPEN, prompt));
    HERD_TRY(render_msgs(t, tpl, m + a, i + 1 - a, flags, whole));
    return append_turn(tk, prompt, whole);
}

/* ---- the plain template ---- */

typedef struct {
    char *s;
    size_t n, cap;
} text_buf;

static herd_status put(text_buf *b, const char *s, size_t len)
{
    if (b->n + len + 1 > b->cap) {
        size_t cap = (b->n + len + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p)
            return herd_fail(HERD_E_NOMEM, "sft: out of memory");
        b->s = p, b->cap = cap;
    }
    memcpy(b->s + b->n, s, len);
    b->n += len;
    b->s[b->n] = 0;
    return HERD_OK;
}

static herd_status puts_(text_buf *b, const char *s)
{
    return put(b, s, strlen(s));
}

/* s stripped of ASCII whitespace at both ends. */
static herd_status put_stripped(text_buf *b, const char *s)
{
    size_t n = strlen(s);
    while (n && strchr(" \t\n\r\f\v", s[0]))
        s++, n--;
    while (n && strchr(" \t\n\r\f\v", s[n - 1]))
        n--;
    return put(b, s, n);
}

static herd_status tokenize_buf(const herd_tokenizer *t, const text_buf *x, unsigned flags,
                                id_buf *b)
{
    int got = 0;
    HERD_TRY(herd_tokenize_ex(t, x->s ? x->s : "", x->n, flags, b->ids, b->cap, &got));
    if (got > b->cap) {
        HERD_TRY(grow_ids(b, got));
        HERD_TRY(herd_tokenize_ex(t, x->s ? x->s : "", x->n, flags, b->ids, b->cap, &got));
    }
    b->n = got;
    return HERD_OK;
}

/* A plain turn: the prompt text, then the answer text appended to it. */
static herd_status plain_turn(const herd_tokenizer *t, text_buf *x, size_t prompt_len, int bos,
                              herd_sft_tokens *tk, id_buf *prompt, id_buf *whole)
{
    unsigned flags = bos ? HERD_TOKENIZE_BOS : 0;
    text_buf p = {x->s, prompt_len, x->cap};
    HERD_TRY(tokenize_buf(t, &p, flags, prompt));
    HERD_TRY(tokenize_buf(t, x, flags | HERD_TOKENIZE_EOS, whole));
    return append_turn(tk, prompt, whole);
}

/* Stanford Alpaca's PROMPT_DICT (train.py), with a newline after
 * "### Response:" as the prompt is usually written out. */
static herd_status plain_alpaca(const herd_tokenizer *t, const herd_sft_example *ex,
                                text_buf *x, herd_sft_tokens *tk, id_buf *p, id_buf *w)
{
    int has_input = ex->input && ex->input[0];
    HERD_TRY(puts_(x, has_input
                          ? "Below is an instruction that describes a task, paired with an "
                            "input that provides further context. Write a response that "
                            "appropriately completes the request.\n\n### Instruction:\n"
                          : "Below is an instruction that describes a task. Write a response "
                            "that appropriately completes the request.\n\n### Instruction:\n"));
    HERD_TRY(puts_(x, ex->instruction));
    if (has_input) {
        HERD_TRY(puts_(x, "\n\n### Input:\n"));
        HERD_TRY(puts_(x, ex->input));
    }
    HERD_TRY(puts_(x, "\n\n### Response:\n"));
    size_t plen = x->n;
    HERD_TRY(puts_(x, ex->output));
    return plain_turn(t, x, plen, 1, tk, p, w);
}

static herd_status plain_completion(const herd_tokenizer *t, const herd_sft_example *ex,
                                    text_buf *x, herd_sft_tokens *tk, id_buf *p, id_buf *w)
{
    HERD_TRY(puts_(x, ex->prompt));
    size_t plen = x->n;
    HERD_TRY(puts_(x, ex->completion));
    return plain_turn(t, x, plen, 1, tk, p, w);
}

/* Plain chat turn [a, i]: "System: ..\n", "User: ..\n" lines, then
 * "Assistant: {answer}". */
static herd_status plain_chat_turn(const herd_tokenizer *t, const herd_chat_msg *m, int a, int i,
                                   text_buf *x, herd_sft_tokens *tk, id_buf *p, id_buf *w)
{
    x->n = 0;
    for (int k = a; k < i; k++) {
        HERD_TRY(puts_(x, strcmp(m[k].role, "system") ? "User: " : "System: "));
        HERD_TRY(put_stripped(x, m[k].content));
        HERD_TRY(puts_(x, "\n"));
    }
    HERD_TRY(puts_(x, "Assistant:"));
    size_t plen = x->n;
    HERD_TRY(puts_(x, " "));
    HERD_TRY(put_stripped(x, m[i].content));
    return plain_turn(t, x, plen, a == 0, tk, p, w);
}

/* ---- an example ---- */

/* The index of the last trained assistant message, or an error. */
static herd_status check_roles(const herd_chat_msg *m, int n, const uint8_t *untrained,
                               int *last)
{
    int answers = 0;
    *last = -1;
    for (int i = 0; i < n; i++) {
        if (!m[i].role || !m[i].content)
            return herd_fail(HERD_E_ARG, "message %d has no role or content", i);
        if (strcmp(m[i].role, "system") && strcmp(m[i].role, "user") &&
            strcmp(m[i].role, "assistant"))
            return herd_fail(HERD_E_ARG, "message %d has role \"%.40s\" (want system, user "
                             "or assistant)", i, m[i].role);
        if (strcmp(m[i].role, "assistant"))
            continue;
        answers++;
        if (!untrained || !untrained[i])
            *last = i;
    }
    if (!answers)
        return herd_fail(HERD_E_ARG, "no assistant message: nothing to train");
    if (*last < 0)
        return herd_fail(HERD_E_ARG, "every assistant message has \"train\": false: nothing "
                         "to train");
    return HERD_OK;
}

/* A conversation, turn by turn; an untrained answer's turn keeps its ids
 * with its mask zeroed; messages after the last trained answer are left
 * out. */
static herd_status render_chat(const herd_tokenizer *t, herd_chat_template tpl,
                               const herd_chat_msg *m, int n, const uint8_t *untrained,
                               herd_sft_tokens *tk, text_buf *x, id_buf *p, id_buf *w)
{
    int last;
    HERD_TRY(check_roles(m, n, untrained, &last));
    for (int i = 0, a = 0; i <= last; i++) {
        if (strcmp(m[i].role, "assistant"))
            continue;
        int from = tk->n;
        if (tpl == HERD_CHAT_NONE)
            HERD_TRY(plain_chat_turn(t, m, a, i, x, tk, p, w));
        else
            HERD_TRY(template_turn(t, tpl, m, a, i, tk, p, w));
        if (untrained && untrained[i])
            memset(tk->trained + from, 0, (size_t)(tk->n - from));
        a = i + 1;
    }
    return HERD_OK;
}

/* Alpaca and completion rows as a user message and an answer. */
static herd_status render_as_chat(const herd_tokenizer *t, herd_chat_template tpl,
                                  const herd_sft_example *ex, herd_sft_tokens *tk,
                                  text_buf *x, id_buf *p, id_buf *w)
{
    herd_chat_msg m[2] = {{"user", ex->prompt}, {"assistant", ex->completion}};
    if (ex->shape == HERD_SFT_ALPACA) {
        HERD_TRY(puts_(x, ex->instruction));
        if (ex->input && ex->input[0]) {
            HERD_TRY(puts_(x, "\n\n"));
            HERD_TRY(puts_(x, ex->input));
        }
        m[0].content = x->s;
        m[1].content = ex->output;
    }
    return render_chat(t, tpl, m, 2, NULL, tk, x, p, w);
}

static herd_status check_example(const herd_sft_example *ex)
{
    switch (ex->shape) {
    case HERD_SFT_CHAT:
        if (ex->n_msgs < 0 || (ex->n_msgs && !ex->msgs))
            return herd_fail(HERD_E_ARG, "sft: no messages");
        return HERD_OK;
    case HERD_SFT_ALPACA:
        if (!ex->instruction || !ex->output)
            return herd_fail(HERD_E_ARG, "alpaca example without instruction or output");
        return HERD_OK;
    case HERD_SFT_COMPLETION:
        if (!ex->prompt || !ex->completion)
            return herd_fail(HERD_E_ARG, "example without prompt or completion");
        return HERD_OK;
    }
    return herd_fail(HERD_E_ARG, "sft: unknown example shape %d", (int)ex->shape);
}

herd_status herd_sft_render(const herd_tokenizer *t, herd_chat_template tpl,
                            const herd_sft_example *ex, herd_sft_tokens *out)
{
    if (!t || !ex || !out)
        return herd_fail(HERD_E_ARG, "herd_sft_render: no tokenizer or example");
    if (tpl != HERD_CHAT_NONE && tpl != HERD_CHAT_LLAMA2 && tpl != HERD_CHAT_LLAMA3)
        return herd_fail(HERD_E_ARG, "sft: unknown chat template %d", (int)tpl);
    HERD_TRY(check_example(ex));
    out->n = 0;
    id_buf p = {0}, w = {0};
    text_buf x = {0};
    herd_status s;
    if (ex->shape == HERD_SFT_CHAT)
        s = render_chat(t, tpl, ex->msgs, ex->n_msgs, ex->untrained, out, &x, &p, &w);
    else if (tpl != HERD_CHAT_NONE)
        s = render_as_chat(t, tpl, ex, out, &x, &p, &w);
    else if (ex->shape == HERD_SFT_ALPACA)
        s = plain_alpaca(t, ex, &x, out, &p, &w);
    else
        s = plain_completion(t, ex, &x, out, &p, &w);
    if (s == HERD_OK && out->n > 0)
        out->trained[0] = 0; /* nothing predicts the first token */
    free(p.ids);
    free(w.ids);
    free(x.s);
    if (s != HERD_OK)
        out->n = 0;
    return s;
}

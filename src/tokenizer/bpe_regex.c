/* The Llama 3 pre-tokenizer: HERD_LLAMA3_PATTERN compiled by PCRE2 with
 * UTF and UCP (Unicode properties for \p, \s), JIT-compiled when PCRE2 can,
 * interpreted otherwise. Text that no alternative matches (none with this
 * pattern, for valid UTF-8) would become pieces of its own, as Hugging
 * Face's "Isolated" split keeps it.
 *
 * PCRE2 in UTF mode needs valid UTF-8, and Hugging Face's tokenizers never
 * see anything else (Rust strings). herd cuts the text at every byte that
 * is not part of a well-formed character (herd_utf8_len: no overlong forms,
 * surrogates or code points past U+10FFFF), runs the regex on each stretch
 * of valid UTF-8 as if it were the whole text, and hands each bad byte on as
 * a piece of its own, which the encoder turns into that byte's token. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/bpe.h"
#include "base/error.h"
#include <pcre2.h>

herd_status herd_bpe_regex_compile(struct herd_bpe *b)
{
    int err;
    PCRE2_SIZE at;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)HERD_LLAMA3_PATTERN, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP, &err, &at, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return herd_fail(HERD_E_UNSUPPORTED, "PCRE2 cannot compile the Llama 3 pattern at %zu: %s",
                         (size_t)at, (const char *)msg);
    }
    b->re = re;
    b->jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
    /* A run of n spaces costs about n steps of backtracking (\s*[\r\n]+
     * gives back one space at a time): lift PCRE2's default limit of ten
     * million so that runs of any length are matched. Read-only after this,
     * so threads share it. */
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    if (!mc)
        return herd_fail(HERD_E_NOMEM, "out of memory for the pre-tokenizer");
    pcre2_set_match_limit(mc, UINT32_MAX);
    pcre2_set_depth_limit(mc, UINT32_MAX);
    pcre2_set_heap_limit(mc, UINT32_MAX);
    b->mctx = mc;
    return HERD_OK;
}

void herd_bpe_regex_free(struct herd_bpe *b)
{
    pcre2_code_free((pcre2_code *)b->re);
    pcre2_match_context_free((pcre2_match_context *)b->mctx);
    b->re = NULL;
    b->mctx = NULL;
}

/* One match from pos: rc as pcre2_match gives it. A JIT stack too small for
 * the text is retried by the interpreter. */
static int match_at(const struct herd_bpe *b, const char *s, size_t n, size_t pos,
                    pcre2_match_data *md)
{
    const pcre2_code *re = b->re;
    pcre2_match_context *mc = b->mctx;
    int rc = PCRE2_ERROR_JIT_STACKLIMIT;
    if (b->jit)
        rc = pcre2_jit_match(re, (PCRE2_SPTR)s, n, pos, 0, md, mc);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(re, (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, mc);
    return rc;
}

/* The pieces of the n bytes of valid UTF-8 at s + base (offsets to fn are
 * from s). */
static herd_status scan(const struct herd_bpe *b, const char *s, size_t base, size_t n,
                        herd_bpe_piece_fn fn, void *user, pcre2_match_data *md)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    const char *sub = s + base;
    for (size_t pos = 0; pos < n;) {
        int rc = match_at(b, sub, n, pos, md);
        if (rc == PCRE2_ERROR_NOMATCH)
            return fn(user, base + pos, n - pos, 0);
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return herd_fail(HERD_E_UNSUPPORTED, "tokenize: the pre-tokenizer failed at byte %zu: %s",
                             base + pos, (const char *)msg);
        }
        size_t a = ov[0], e = ov[1];
        if (a < pos || e < a || e > n)
            return herd_fail(HERD_E_UNSUPPORTED, "tokenize: the pre-tokenizer went astray");
        if (a > pos)
            HERD_TRY(fn(user, base + pos, a - pos, 0));
        if (e == a) { /* an empty match (not with this pattern): keep one character */
            e = a + 1;
            while (e < n && ((unsigned char)sub[e] & 0xC0) == 0x80)
                e++;
        }
        HERD_TRY(fn(user, base + a, e - a, 0));
        pos = e;
    }
    return HERD_OK;
}

/* The length of the longest valid UTF-8 prefix of s. */
static size_t valid_prefix(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        int l = herd_utf8_len(u + i, n - i);
        if (l == 0)
            break;
        i += (size_t)l;
    }
    return i;
}

herd_status herd_bpe_pretokenize(const struct herd_bpe *b, const char *s, size_t n,
                                 herd_bpe_piece_fn fn, void *user)
{
    if (n == 0)
        return HERD_OK;
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md)
        return herd_fail(HERD_E_NOMEM, "tokenize: out of memory");
    herd_status st = HERD_OK;
    for (size_t at = 0; at < n && st == HERD_OK;) {
        size_t v = valid_prefix(s + at, n - at);
        if (v > 0)
            st = scan(b, s, at, v, fn, user, md);
        at += v;
        if (at < n && st == HERD_OK)
            st = fn(user, at++, 1, 1); /* a byte that is not valid UTF-8 */
    }
    pcre2_match_data_free(md);
    return st;
}

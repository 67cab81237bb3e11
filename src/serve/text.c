/* Stop strings, streaming hold-back and UTF-8 clean-up for replies. */
#include "serve/text.h"
#include <stdlib.h>
#include <string.h>

int herd_text_add(herd_text *t, const char *bytes, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = 2 * (t->len + n + 1) + 64;
        char *b = realloc(t->buf, cap);
        if (!b)
            return -1;
        t->buf = b, t->cap = cap;
    }
    size_t old = t->len;
    memcpy(t->buf + t->len, bytes, n);
    t->len += n;
    t->buf[t->len] = 0;
    size_t cut = t->len + 1;
    for (int i = 0; i < t->n_stop; i++) {
        size_t k = strlen(t->stop[i]);
        if (!k || k > t->len)
            continue;
        size_t from = old + 1 > k ? old + 1 - k : 0; /* a match must end in the new bytes */
        char *hit = memmem(t->buf + from, t->len - from, t->stop[i], k);
        if (hit && (size_t)(hit - t->buf) < cut)
            cut = (size_t)(hit - t->buf);
    }
    if (cut > t->len)
        return 0;
    t->len = cut < t->sent ? t->sent : cut;
    t->buf[t->len] = 0;
    t->stopped = 1;
    return 1;
}

/* Bytes at the end of s[0..n) that start an incomplete UTF-8 character. */
static size_t utf8_tail(const unsigned char *s, size_t n)
{
    for (size_t k = 1; k <= 4 && k <= n; k++) {
        unsigned char c = s[n - k];
        if ((c & 0xC0) == 0x80)
            continue;
        size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return want > k && c < 0xF8 ? k : 0;
    }
    return 0;
}

size_t herd_text_ready(const herd_text *t, int final)
{
    if (final || t->stopped)
        return t->len;
    size_t ready = t->len;
    for (int i = 0; i < t->n_stop; i++) {
        size_t k = strlen(t->stop[i]);
        for (size_t j = k ? k - 1 : 0; j > 0; j--) {
            if (j <= t->len - t->sent && !memcmp(t->buf + t->len - j, t->stop[i], j)) {
                if (t->len - j < ready)
                    ready = t->len - j;
                break;
            }
        }
    }
    size_t tail = utf8_tail((const unsigned char *)t->buf, ready);
    ready -= tail;
    return ready < t->sent ? t->sent : ready;
}

void herd_text_free(herd_text *t)
{
    free(t->buf);
    t->buf = NULL;
    t->len = t->cap = t->sent = 0;
}

/* Length of the well-formed UTF-8 character at s (n bytes left), 0 if not. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
             : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (!k || k > n || (k == 2 && c < 0xC2) || c > 0xF4)
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (k == 3 && ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0)))
        return 0;
    if (k == 4 && ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90)))
        return 0;
    return k;
}

char *herd_utf8_clean(const char *s, size_t n)
{
    char *out = malloc(3 * n + 1), *o = out;
    if (!out)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = u[i] ? utf8_char(u + i, n - i) : 0;
        if (k) {
            memcpy(o, u + i, k);
            o += k, i += k;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3, i++;
        }
    }
    *o = 0;
    return out;
}

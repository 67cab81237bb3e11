/* The text of a reply as it is generated: stop strings cut it, and while
 * streaming only the bytes that can no longer change are handed out (not
 * the start of a possible stop string, not half a UTF-8 character). */
#ifndef HERD_SERVE_TEXT_H
#define HERD_SERVE_TEXT_H
#include <stddef.h>

typedef struct {
    char *buf;
    size_t len, cap;
    size_t sent;             /* bytes already handed out */
    char **stop;             /* not owned */
    int n_stop;
    int stopped;             /* a stop string was found: buf ends before it */
} herd_text;

/* Appends n bytes and looks for the stop strings. 1: a stop string ended
 * the text; 0: go on; -1: out of memory. */
int herd_text_add(herd_text *t, const char *bytes, size_t n);
/* The end of what may be handed out now (final: all of it). */
size_t herd_text_ready(const herd_text *t, int final);
void herd_text_free(herd_text *t);

/* A copy of n bytes as valid UTF-8 without NULs (each bad byte and each NUL
 * becomes U+FFFD), NUL-terminated; NULL when out of memory. */
char *herd_utf8_clean(const char *s, size_t n);

#endif

/* Errors as values: a status plus a thread-local one-line message. */
#ifndef HERD_BASE_ERROR_H
#define HERD_BASE_ERROR_H
#include "herd.h"

/* Records the message and returns s, so that failing reads as
 *   return herd_fail(HERD_E_FORMAT, "%s: truncated", path); */
herd_status herd_fail(herd_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefixes the current message with more context and returns s. */
herd_status herd_fail_prefix(herd_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void herd_clear_error(void);

#define HERD_TRY(expr) do { herd_status herd_try_s_ = (expr); \
    if (herd_try_s_ != HERD_OK) return herd_try_s_; } while (0)

#endif

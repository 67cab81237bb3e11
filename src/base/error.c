#include "base/error.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *herd_last_error(void) { return last_error; }

void herd_clear_error(void) { last_error[0] = 0; }

herd_status herd_fail(herd_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

herd_status herd_fail_prefix(herd_status s, const char *fmt, ...)
{
    char old[sizeof last_error], pre[512];
    memcpy(old, last_error, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    snprintf(last_error, sizeof last_error, "%.*s: %.*s", 400, pre, 600, old);
    return s;
}

const char *herd_status_name(herd_status s)
{
    switch (s) {
    case HERD_OK: return "ok";
    case HERD_E_IO: return "i/o error";
    case HERD_E_FORMAT: return "bad format";
    case HERD_E_UNSUPPORTED: return "unsupported";
    case HERD_E_ARG: return "bad argument";
    case HERD_E_RANGE: return "out of range";
    case HERD_E_NOMEM: return "out of memory";
    }
    return "unknown status";
}

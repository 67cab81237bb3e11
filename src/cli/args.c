#include "cli/cli.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const char *cli_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "herd: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int cli_int(const char *flag, const char *val, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < lo || v > hi) {
        fprintf(stderr, "herd: %s: '%s' is not a whole number from %ld to %ld\n",
                flag, val, lo, hi);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int cli_u64(const char *flag, const char *val, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(val, &end, 10);
    if (errno || end == val || *end || val[0] == '-') {
        fprintf(stderr, "herd: %s: '%s' is not a non-negative whole number\n", flag, val);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_float(const char *flag, const char *val, double lo, double hi, float *out)
{
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || end == val || *end || isnan(v) || v < lo || v > hi) {
        fprintf(stderr, "herd: %s: '%s' is not a number from %g to %g\n", flag, val, lo, hi);
        return 0;
    }
    *out = (float)v;
    return 1;
}

int cli_fail(herd_status s, const char *what)
{
    if (s == HERD_OK)
        fprintf(stderr, "herd: %s\n", what);
    else if (what && *what)
        fprintf(stderr, "herd: %s: %s\n", what, herd_last_error());
    else
        fprintf(stderr, "herd: %s\n", herd_last_error());
    return 1;
}

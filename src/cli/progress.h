/* A one-line progress bar on stderr for long jobs (prepare, train-tokenizer,
 * train): "label [#####     ]  52%  1.2 MB/s  ETA 0:14". Redrawn in place
 * on a terminal at most 10 times a second; off a terminal it prints nothing
 * until progress_done, which always prints the final line. */
#ifndef HERD_CLI_PROGRESS_H
#define HERD_CLI_PROGRESS_H
#include <stdint.h>

typedef struct {
    const char *label;
    const char *unit;      /* "MB", "tokens", "merges": rates are unit/s */
    double total;          /* 0: unknown (no bar, no ETA) */
    double scale;          /* shown amount = done / scale (1e6 for MB) */
    double t0, last;       /* wall seconds */
    int tty, quiet, drawn;
} cli_progress;

void progress_start(cli_progress *p, const char *label, const char *unit,
                    double total, double scale, int quiet);
/* done: the amount so far, in the caller's units (bytes, tokens). */
void progress_update(cli_progress *p, double done);
void progress_done(cli_progress *p, double done);
/* Wall-clock seconds since an arbitrary start. */
double progress_now(void);
/* Writes "H:MM:SS" or "M:SS" for s seconds into buf (at least 16 bytes). */
const char *progress_hms(double s, char *buf);

#endif

#include "cli/progress.h"
#include <stdio.h>
#include <time.h>
#include <unistd.h>

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char *progress_hms(double s, char *buf)
{
    if (s < 0 || s > 1e7)
        s = 0;
    int t = (int)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, 16, "%d:%02d:%02d", t / 3600 % 10000, t / 60 % 60, t % 60);
    else
        snprintf(buf, 16, "%d:%02d", t / 60 % 60, t % 60);
    return buf;
}

void progress_start(cli_progress *p, const char *label, const char *unit,
                    double total, double scale, int quiet)
{
    p->label = label;
    p->unit = unit;
    p->total = total;
    p->scale = scale > 0 ? scale : 1;
    p->t0 = p->last = progress_now();
    p->tty = isatty(2);
    p->quiet = quiet;
    p->drawn = 0;
}

static void draw(cli_progress *p, double done, double now, int final)
{
    double el = now - p->t0, rate = el > 0 ? done / p->scale / el : 0;
    char eta[16], tm[16];
    fprintf(stderr, "%s%s ", p->tty ? "\r" : "", p->label);
    if (p->total > 0) {
        double f = done / p->total;
        if (f > 1)
            f = 1;
        char bar[21];
        for (int i = 0; i < 20; i++)
            bar[i] = i < (int)(f * 20) ? '#' : ' ';
        bar[20] = 0;
        fprintf(stderr, "[%s] %3d%% ", bar, (int)(f * 100));
    }
    fprintf(stderr, " %.1f %s/s", rate, p->unit);
    if (final)
        fprintf(stderr, "  %s\n", progress_hms(el, tm));
    else if (p->total > 0 && done > 0)
        fprintf(stderr, "  ETA %s ", progress_hms(el / done * (p->total - done), eta));
    fflush(stderr);
    p->drawn = 1;
}

void progress_update(cli_progress *p, double done)
{
    if (p->quiet || !p->tty)
        return;
    double now = progress_now();
    if (now - p->last < 0.1)
        return;
    p->last = now;
    draw(p, done, now, 0);
}

void progress_done(cli_progress *p, double done)
{
    if (!p->quiet)
        draw(p, done, progress_now(), 1);
}

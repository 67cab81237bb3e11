/* herd_plot_loss_svg: train and validation loss against step as one SVG
 * file with no outside references: axes on "nice" ticks (1, 2, 5 x 10^k),
 * a grid, a polyline per series (validation also marked with dots) and a
 * legend. Written to PATH.tmp and renamed. */
#define _POSIX_C_SOURCE 200809L
#include "train/plot.h"
#include "base/error.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { W = 720, H = 440, LEFT = 72, RIGHT = 24, TOP = 44, BOTTOM = 52 };

typedef struct {
    double lo, hi, step; /* axis range, a whole number of ticks */
} axis;

typedef struct {
    FILE *f;
    axis x, y;
} chart;

static const char *TRAIN_COLOR = "#1f77b4", *VAL_COLOR = "#ff7f0e";

/* Widens [lo, hi] to whole ticks of a 1-2-5 step, about 6 of them. */
static axis nice_axis(double lo, double hi)
{
    if (!(hi > lo)) {
        double pad = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
        lo -= pad, hi += pad;
    }
    double raw = (hi - lo) / 6, mag = pow(10, floor(log10(raw))), f = raw / mag;
    double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
    axis a = {floor(lo / step) * step, ceil(hi / step) * step, step};
    return a;
}

/* The range of the finite values of both series (x: steps, y: losses). */
static void data_range(const herd_plot_point *a, int na, const herd_plot_point *b, int nb,
                       int y, double *lo, double *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < (s ? nb : na); i++) {
            const herd_plot_point *p = s ? &b[i] : &a[i];
            double v = y ? p->loss : p->step;
            if (!isfinite(p->loss) || !isfinite(p->step))
                continue;
            *lo = v < *lo ? v : *lo;
            *hi = v > *hi ? v : *hi;
        }
    if (*lo > *hi)
        *lo = 0, *hi = 1;
}

static double px(const chart *c, double v)
{
    return LEFT + (v - c->x.lo) / (c->x.hi - c->x.lo) * (W - LEFT - RIGHT);
}

static double py(const chart *c, double v)
{
    return H - BOTTOM - (v - c->y.lo) / (c->y.hi - c->y.lo) * (H - TOP - BOTTOM);
}

/* A tick label with as many decimals as the step needs. */
static void label(char *buf, size_t n, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) < step * 1e-6)
        v = 0;
    if (fabs(v) >= 1e6 || dec > 6)
        snprintf(buf, n, "%g", v);
    else
        snprintf(buf, n, "%.*f", dec, v);
}

/* The number of steps between the axis's first and last tick. */
static int ticks(const axis *a)
{
    return (int)floor((a->hi - a->lo) / a->step + 0.5);
}

static void axes(const chart *c)
{
    FILE *f = c->f;
    char buf[64];
    fprintf(f, "<g font-family=\"sans-serif\" font-size=\"12\" fill=\"#333\">\n");
    for (int i = 0, n = ticks(&c->x); i <= n; i++) {
        double v = c->x.lo + i * c->x.step;
        label(buf, sizeof buf, v, c->x.step);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#e5e5e5\"/>\n"
                "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                px(c, v), TOP, px(c, v), H - BOTTOM, px(c, v), H - BOTTOM + 18, buf);
    }
    for (int i = 0, n = ticks(&c->y); i <= n; i++) {
        double v = c->y.lo + i * c->y.step;
        label(buf, sizeof buf, v, c->y.step);
        fprintf(f, "<line x1=\"%d\" y1=\"%.2f\" x2=\"%d\" y2=\"%.2f\" stroke=\"#e5e5e5\"/>\n"
                "<text x=\"%d\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n",
                LEFT, py(c, v), W - RIGHT, py(c, v), LEFT - 6, py(c, v) + 4, buf);
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#333\"/>\n", LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOTTOM);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">step</text>\n"
            "<text x=\"16\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 16 %d)\">"
            "loss</text>\n</g>\n", (LEFT + W - RIGHT) / 2, H - 12, (TOP + H - BOTTOM) / 2,
            (TOP + H - BOTTOM) / 2);
}

static void series(const chart *c, const herd_plot_point *p, int n, const char *name,
                   const char *color, int dots)
{
    FILE *f = c->f;
    fprintf(f, "<polyline id=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
            "points=\"", name, color);
    for (int i = 0, k = 0; i < n; i++)
        if (isfinite(p[i].step) && isfinite(p[i].loss))
            fprintf(f, "%s%.2f,%.2f", k++ ? " " : "", px(c, p[i].step), py(c, p[i].loss));
    fprintf(f, "\"/>\n");
    for (int i = 0; dots && i < n; i++)
        if (isfinite(p[i].step) && isfinite(p[i].loss))
            fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\" fill=\"%s\"/>\n",
                    px(c, p[i].step), py(c, p[i].loss), color);
}

static void legend(const chart *c, int train, int val)
{
    int y = TOP + 16;
    fprintf(c->f, "<g font-family=\"sans-serif\" font-size=\"12\" fill=\"#333\">\n");
    for (int s = 0; s < 2; s++) {
        if (!(s ? val : train))
            continue;
        fprintf(c->f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
                "stroke-width=\"2\"/>\n<text x=\"%d\" y=\"%d\">%s</text>\n", W - RIGHT - 110,
                y, W - RIGHT - 86, y, s ? VAL_COLOR : TRAIN_COLOR, W - RIGHT - 80, y + 4,
                s ? "validation" : "train");
        y += 18;
    }
    fprintf(c->f, "</g>\n");
}

static void write_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;"
                        : *s == '"' ? "&quot;" : NULL;
        if (e)
            fputs(e, f);
        else
            fputc(*s, f);
    }
}

static void draw(FILE *f, const char *title, const herd_plot_point *train, int n_train,
                 const herd_plot_point *val, int n_val)
{
    chart c = {f, {0, 0, 0}, {0, 0, 0}};
    double lo, hi;
    data_range(train, n_train, val, n_val, 0, &lo, &hi);
    c.x = nice_axis(lo, hi);
    data_range(train, n_train, val, n_val, 1, &lo, &hi);
    c.y = nice_axis(lo, hi);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%d\" y=\"26\" font-family=\"sans-serif\" font-size=\"16\" "
            "text-anchor=\"middle\" fill=\"#111\">", W, H, W, H, W / 2);
    write_escaped(f, title ? title : "Loss");
    fprintf(f, "</text>\n");
    axes(&c);
    if (n_train > 0)
        series(&c, train, n_train, "train", TRAIN_COLOR, 0);
    if (n_val > 0)
        series(&c, val, n_val, "validation", VAL_COLOR, n_val <= 200);
    legend(&c, n_train > 0, n_val > 0);
    fprintf(f, "</svg>\n");
}

herd_status herd_plot_loss_svg(const char *path, const char *title,
                               const herd_plot_point *train, int n_train,
                               const herd_plot_point *val, int n_val)
{
    if (!path || n_train < 0 || n_val < 0 || (n_train && !train) || (n_val && !val))
        return herd_fail(HERD_E_ARG, "plot: bad arguments");
    size_t n = strlen(path);
    char *tmp = malloc(n + 5);
    if (!tmp)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    herd_status s = HERD_OK;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        s = herd_fail(HERD_E_IO, "%s: %s", tmp, strerror(errno));
    } else {
        draw(f, title, train, n_train, val, n_val);
        int bad = ferror(f) | fflush(f);
        if ((fclose(f) != 0 || bad) && s == HERD_OK)
            s = herd_fail(HERD_E_IO, "%s: write failed: %s", tmp, strerror(errno));
        if (s == HERD_OK && rename(tmp, path) != 0)
            s = herd_fail(HERD_E_IO, "%s: cannot rename %s to it: %s", path, tmp,
                          strerror(errno));
        if (s != HERD_OK)
            unlink(tmp);
    }
    free(tmp);
    return s;
}

/* The loss chart: an SVG document with a polyline per series holding one
 * point per finite value, x growing with step and y falling as loss
 * grows, tick labels, the legend and an escaped title; Python's XML parser
 * reads it (when /usr/bin/python3 is there); no temporary file is left and
 * a bad path fails cleanly. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"
#include "train/plot.h"
#include <unistd.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* The points of the polyline with this id: n, and whether x increases and
 * y moves against the losses given. */
static int polyline(const char *svg, const char *id, double *xs, double *ys, int max)
{
    char key[64];
    snprintf(key, sizeof key, "<polyline id=\"%s\"", id);
    const char *p = strstr(svg, key);
    if (!p || !(p = strstr(p, "points=\"")))
        return -1;
    p += 8;
    int n = 0;
    while (*p != '"' && n < max) {
        char *end;
        xs[n] = strtod(p, &end);
        if (*end != ',')
            return -1;
        ys[n++] = strtod(end + 1, &end);
        p = end + (*end == ' ');
    }
    return n;
}

int main(void)
{
    char dir[] = "/tmp/herd_plot_XXXXXX", path[128], tmp[140];
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary folder");
    snprintf(path, sizeof path, "%s/loss.svg", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    enum { NT = 200, NV = 9 };
    herd_plot_point train[NT], val[NV];
    for (int i = 0; i < NT; i++)
        train[i] = (herd_plot_point){10.0 * i, 10.5 / (1 + 0.02 * i) + 0.3 * (i % 3)};
    for (int i = 0; i < NV; i++)
        val[i] = (herd_plot_point){250.0 * i, 10.0 / (1 + 0.5 * i)};
    train[17].loss = NAN;
    CHECK_OK(herd_plot_loss_svg(path, "Loss <tiny> & \"stories\"", train, NT, val, NV));
    CHECK(access(tmp, F_OK) != 0);
    char *svg = slurp(path);
    CHECK(svg != NULL);
    if (!svg)
        TEST_END();
    size_t n = strlen(svg);
    CHECK(!strncmp(svg, "<?xml", 5) && strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    CHECK(n > 7 && !strcmp(svg + n - 7, "</svg>\n"));
    CHECK(count(svg, "<polyline") == 2);
    CHECK(strstr(svg, ">train</text>") && strstr(svg, ">validation</text>"));
    CHECK(strstr(svg, "Loss &lt;tiny&gt; &amp; &quot;stories&quot;"));
    CHECK(count(svg, "text-anchor=\"end\"") >= 3);  /* y tick labels */
    CHECK(count(svg, "text-anchor=\"middle\"") >= 5); /* x tick labels, title, axis names */
    CHECK(count(svg, "<circle") == NV);
    static double xs[1000], ys[1000];
    int k = polyline(svg, "train", xs, ys, 1000), mono = 1;
    CHECK_MSG(k == NT - 1, "train polyline has %d points, want %d", k, NT - 1);
    herd_plot_point fin[NT]; /* the finite points, in order */
    int nf = 0;
    for (int i = 0; i < NT; i++)
        if (isfinite(train[i].loss))
            fin[nf++] = train[i];
    for (int i = 1; i < k && k == nf; i++) {
        double dl = fin[i].loss - fin[i - 1].loss;
        mono &= xs[i] > xs[i - 1];
        mono &= dl > 0 ? ys[i] < ys[i - 1] : dl < 0 ? ys[i] > ys[i - 1] : 1;
    }
    CHECK(mono);
    k = polyline(svg, "validation", xs, ys, 1000);
    CHECK_MSG(k == NV, "validation polyline has %d points", k);
    for (int i = 0; i < k; i++) /* inside the 720 x 440 canvas */
        CHECK(xs[i] >= 0 && xs[i] <= 720 && ys[i] >= 0 && ys[i] <= 440);
    CHECK(k == NV && xs[NV - 1] > xs[0] && ys[NV - 1] > ys[0]); /* loss falls: y grows */
    if (access("/usr/bin/python3", X_OK) == 0) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"import sys, xml.dom.minidom as m; "
                 "d = m.parse(sys.argv[1]); "
                 "sys.exit(len(d.getElementsByTagName('polyline')) != 2)\" %s", path);
        CHECK_MSG(system(cmd) == 0, "python's minidom did not parse %s", path);
    }
    free(svg);

    /* Train only; then nothing at all: still a chart. */
    CHECK_OK(herd_plot_loss_svg(path, NULL, train, 5, NULL, 0));
    svg = slurp(path);
    CHECK(svg && count(svg, "<polyline") == 1 && !strstr(svg, ">validation</text>") &&
          strstr(svg, ">Loss</text>"));
    free(svg);
    CHECK_OK(herd_plot_loss_svg(path, "empty", NULL, 0, NULL, 0));
    svg = slurp(path);
    CHECK(svg && count(svg, "<polyline") == 0 && strstr(svg, "</svg>"));
    free(svg);
    /* One point, a flat line: no division by zero. */
    herd_plot_point one = {5, 2.5};
    CHECK_OK(herd_plot_loss_svg(path, "one", &one, 1, &one, 1));
    svg = slurp(path);
    CHECK(svg && !strstr(svg, "nan") && !strstr(svg, "inf"));
    free(svg);

    char bad[160];
    snprintf(bad, sizeof bad, "%s/no/such/dir/loss.svg", dir);
    CHECK_FAILS(herd_plot_loss_svg(bad, "x", train, 3, val, 3), HERD_E_IO);
    CHECK_FAILS(herd_plot_loss_svg(path, "x", NULL, 3, NULL, 0), HERD_E_ARG);
    unlink(path);
    rmdir(dir);
    TEST_END();
}

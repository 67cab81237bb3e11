/* Golden training gradients: herd_train_forward_backward on the tiny models
 * of tests/fixtures/models/ against tests/fixtures/grads/<name>/, written by
 * tests/reference/grad_ref.py with float64 torch.autograd over llama_ref.py
 * (never using herd); llama31 has Llama 3.1 rope scaling (in its GGUF a
 * rope_freqs tensor, which training turns back into the config's scaling).
 * The batch has two rows of 12 tokens: one document with unscored targets,
 * and three packed documents (block-diagonal causal mask, rotary positions
 * restarting in each). Checks the flat layout (names,
 * shapes, offsets) against layout.txt, the loss to 1e-5 relative (from
 * herd_train_forward_backward and herd_train_loss), the scored count, every
 * gradient element to 1e-3 of its tensor's largest reference gradient, the
 * gradient norm, and that a second call with grad_scale 0.5 accumulates. */
#include "herd.h"
#include "herd_train.h"
#include "test.h"

#define LOSS_TOL 1e-5
#define GRAD_TOL 1e-3
#define MAX_TENSORS 64

/* The model file of each fixture. */
static const struct {
    const char *name, *file;
} fixtures[] = {{"mha", "model.gguf"}, {"gqa", "model.gguf"}, {"gqa_tied", "model.gguf"},
                {"llama31", "model.gguf"}};

typedef struct {
    int B, T, n_scored;
    int *tokens, *targets;
    uint8_t *doc_start;
    double loss;
    float *grads;
    size_t n_grads;
    int n_tensors;
    char names[MAX_TENSORS][48];
    int64_t rows[MAX_TENSORS], cols[MAX_TENSORS];
} golden;

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *d = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long len = ftell(f);
        if (len >= 0 && fseek(f, 0, SEEK_SET) == 0 && (d = malloc((size_t)len + 1))) {
            *n = fread(d, 1, (size_t)len, f);
            d[*n] = 0;
        }
    }
    fclose(f);
    return d;
}

/* n integers from *p onwards; 0 if fewer. */
static int read_ints(char **p, int *out, int n)
{
    for (int i = 0; i < n; i++) {
        char *end;
        long v = strtol(*p, &end, 10);
        if (end == *p)
            return 0;
        out[i] = (int)v;
        *p = end;
    }
    return 1;
}

/* batch.txt: "B T", then tokens, targets and doc_start, B*T each. */
static int read_batch(const char *dir, golden *g)
{
    char path[1024];
    size_t len;
    snprintf(path, sizeof path, "%s/batch.txt", dir);
    char *s = slurp(path, &len), *p = s;
    int bt[2], ok = 0;
    if (s && read_ints(&p, bt, 2) && bt[0] > 0 && bt[1] > 0 && bt[0] * bt[1] <= 4096) {
        int n = bt[0] * bt[1], *ds = malloc((size_t)n * sizeof *ds);
        g->B = bt[0], g->T = bt[1];
        g->tokens = malloc((size_t)n * sizeof *g->tokens);
        g->targets = malloc((size_t)n * sizeof *g->targets);
        g->doc_start = malloc((size_t)n);
        ok = ds && g->tokens && g->targets && g->doc_start && read_ints(&p, g->tokens, n) &&
             read_ints(&p, g->targets, n) && read_ints(&p, ds, n);
        for (int i = 0; ok && i < n; i++) {
            g->doc_start[i] = (uint8_t)(ds[i] != 0);
            g->n_scored += g->targets[i] >= 0;
        }
        free(ds);
    }
    free(s);
    CHECK_MSG(ok, "%s: unreadable", path);
    return ok;
}

/* layout.txt: "name rows cols" per tensor. */
static int read_layout(const char *dir, golden *g)
{
    char path[1024], line[256];
    snprintf(path, sizeof path, "%s/layout.txt", dir);
    FILE *f = fopen(path, "r");
    size_t total = 0;
    long long r, c;
    while (f && g->n_tensors < MAX_TENSORS && fgets(line, sizeof line, f) &&
           sscanf(line, "%47s %lld %lld", g->names[g->n_tensors], &r, &c) == 3) {
        g->rows[g->n_tensors] = r, g->cols[g->n_tensors] = c;
        total += (size_t)(r * c);
        g->n_tensors++;
    }
    if (f)
        fclose(f);
    CHECK_MSG(g->n_tensors > 0 && total == g->n_grads, "%s: %d tensors, %zu floats, want %zu",
              path, g->n_tensors, total, g->n_grads);
    return g->n_tensors > 0 && total == g->n_grads;
}

static int load_golden(const char *dir, golden *g)
{
    char path[1024];
    size_t len = 0;
    memset(g, 0, sizeof *g);
    if (!read_batch(dir, g))
        return 0;
    snprintf(path, sizeof path, "%s/loss.txt", dir);
    char *s = slurp(path, &len);
    g->loss = s ? strtod(s, NULL) : NAN;
    free(s);
    CHECK_MSG(isfinite(g->loss), "%s: no loss", path);
    snprintf(path, sizeof path, "%s/grads.f32", dir);
    g->grads = (float *)slurp(path, &len);
    CHECK_MSG(g->grads && len % sizeof(float) == 0, "%s: unreadable", path);
    if (!g->grads || !isfinite(g->loss))
        return 0;
    g->n_grads = len / sizeof(float);
    return read_layout(dir, g);
}

static void free_golden(golden *g)
{
    free(g->tokens);
    free(g->targets);
    free(g->doc_start);
    free(g->grads);
}

static int close_rel(double got, double want, double tol)
{
    return fabs(got - want) <= tol * fabs(want);
}

/* herd's tensor table must be layout.txt's, back to back. */
static int check_layout(herd_train_model *tm, const golden *g, const char *name)
{
    size_t n = 0, off = 0;
    int ok = herd_train_n_tensors(tm) == g->n_tensors;
    CHECK_MSG(ok, "%s: %d tensors, want %d", name, herd_train_n_tensors(tm), g->n_tensors);
    for (int i = 0; ok && i < g->n_tensors; i++) {
        const herd_param_info *p = herd_train_tensor(tm, i);
        int same = p && strcmp(p->name, g->names[i]) == 0 && p->rows == g->rows[i] &&
                   p->cols == g->cols[i] && p->offset == off;
        CHECK_MSG(same, "%s: tensor %d is %s [%lld][%lld] at %zu, want %s [%lld][%lld] at %zu",
                  name, i, p ? p->name : "?", p ? (long long)p->rows : -1,
                  p ? (long long)p->cols : -1, p ? p->offset : 0, g->names[i],
                  (long long)g->rows[i], (long long)g->cols[i], off);
        ok = ok && same;
        off += (size_t)(g->rows[i] * g->cols[i]);
    }
    herd_train_grads(tm, &n);
    CHECK_MSG(n == g->n_grads, "%s: %zu gradients, want %zu", name, n, g->n_grads);
    return ok && n == g->n_grads;
}

/* Every element within GRAD_TOL of the tensor's largest |reference|, times
 * scale; one CHECK per tensor; returns the worst error in those units. */
static double compare_grads(herd_train_model *tm, const golden *g, double scale,
                            const char *name)
{
    size_t n;
    const float *got = herd_train_grads(tm, &n);
    double worst_all = 0;
    for (int i = 0; i < g->n_tensors; i++) {
        const herd_param_info *p = herd_train_tensor(tm, i);
        size_t len = (size_t)(p->rows * p->cols);
        const float *want = g->grads + p->offset;
        double amax = 0, worst = 0;
        size_t at = 0;
        for (size_t j = 0; j < len; j++)
            amax = fmax(amax, fabs(scale * want[j]));
        for (size_t j = 0; j < len; j++) {
            double e = fabs(got[p->offset + j] - scale * want[j]) / (amax > 0 ? amax : 1);
            if (!(e <= worst)) /* also catches NaN */
                worst = isnan(e) ? INFINITY : e, at = j;
        }
        CHECK_MSG(worst <= GRAD_TOL, "%s: %s (x%g): element %zu is %g, want %g (max |grad| %g)",
                  name, p->name, scale, at, (double)got[p->offset + at], scale * want[at], amax);
        worst_all = fmax(worst_all, worst);
    }
    return worst_all;
}

static void run_train(herd_train_model *tm, const golden *g, const char *name)
{
    herd_batch b = {g->B, g->T, g->tokens, g->targets, g->doc_start};
    float loss = NAN, vloss = NAN;
    int n_scored = -1, v_scored = -1;
    if (!check_layout(tm, g, name))
        return;
    herd_train_zero_grad(tm);
    CHECK_OK(herd_train_forward_backward(tm, &b, 1.0f, &loss, &n_scored));
    CHECK_MSG(close_rel(loss, g->loss, LOSS_TOL), "%s: loss %.9g, want %.9g", name,
              (double)loss, g->loss);
    CHECK_MSG(n_scored == g->n_scored, "%s: %d scored, want %d", name, n_scored, g->n_scored);
    double err = compare_grads(tm, g, 1.0, name);

    double want_norm = 0;
    for (size_t i = 0; i < g->n_grads; i++)
        want_norm += (double)g->grads[i] * g->grads[i];
    want_norm = sqrt(want_norm);
    double norm = herd_train_grad_norm(tm);
    CHECK_MSG(close_rel(norm, want_norm, 1e-4), "%s: grad norm %g, want %g", name, norm,
              want_norm);

    CHECK_OK(herd_train_loss(tm, &b, &vloss, &v_scored));
    CHECK_MSG(close_rel(vloss, g->loss, LOSS_TOL), "%s: herd_train_loss %.9g, want %.9g", name,
              (double)vloss, g->loss);
    CHECK(v_scored == g->n_scored);

    /* Micro-batches accumulate: + 0.5 x the same gradient gives 1.5 x. */
    CHECK_OK(herd_train_forward_backward(tm, &b, 0.5f, &loss, NULL));
    CHECK_MSG(close_rel(loss, g->loss, LOSS_TOL), "%s: second loss %.9g", name, (double)loss);
    double err2 = compare_grads(tm, g, 1.5, name);
    printf("%-9s loss %.7f (want %.7f)  max grad err %.2e  accumulated %.2e  norm %.5f\n",
           name, (double)loss, g->loss, err, err2, norm);
}

static void run_fixture(const char *src, const char *name, const char *file)
{
    char dir[512], path[1024];
    golden g;
    int n = snprintf(dir, sizeof dir, "%s/tests/fixtures/grads/%s", src, name);
    CHECK_MSG(n > 0 && (size_t)n < sizeof dir, "path too long: %s", src);
    if (n <= 0 || (size_t)n >= sizeof dir)
        return;
    if (!load_golden(dir, &g)) {
        free_golden(&g);
        return;
    }
    snprintf(path, sizeof path, "%s/tests/fixtures/models/%s/%s", src, name, file);
    herd_model *m = NULL;
    herd_train_model *tm = NULL;
    CHECK_OK(herd_model_open(path, &m));
    if (m)
        CHECK_OK(herd_train_model_from(m, &tm));
    if (tm)
        run_train(tm, &g, name);
    herd_train_model_free(tm);
    herd_model_free(m);
    free_golden(&g);
}

int main(void)
{
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++)
        run_fixture(test_source(), fixtures[i].name, fixtures[i].file);
    TEST_END();
}

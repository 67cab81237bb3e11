/* Quantized dot-product speed, in process: quant_dot [LIBGGML_CPU_SO]
 * times each type's dot product at every SIMD level this CPU runs, one
 * thread, over a weight block that stays in cache (compute-bound: GB/s of
 * weights and ns per 4096-value row), then herd_qmatvec on a large matrix
 * with all threads (memory-bound), and herd_qmatmul of 64 tokens against
 * 64 herd_qmatvec calls. Given llama.cpp's CPU library (one of the
 * libggml-cpu-*.so that ../shared/bench/setup-llamacpp.sh installs), it
 * times ggml_vec_dot_* on the same blocks in the same run for a ratio.
 * Built and run by bench/quant_dot.sh against libherd.a. */
#define _POSIX_C_SOURCE 200809L
#include "herd.h"
#include "quant/quant.h"
#include <dlfcn.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void (*ggml_dot_fn)(int n, float *s, size_t bs, const void *x, size_t bx,
                            const void *y, size_t by, int nrc);

enum { COLS = 4096, ROWS = 64 };  /* in cache: at most 64 x 4352 bytes */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void fill(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((int)(seed >> 8) % 2001 - 1000) / 1000.0f;
    }
}

static volatile float sink;

/* Best of 5 runs of reps passes over ROWS rows: seconds per row. */
static double time_rows(herd_vec_dot_fn f, ggml_dot_fn g, const unsigned char *w, size_t wb,
                        const void *xq)
{
    double best = 1e30;
    int reps = 200;
    for (int run = 0; run < 5; run++) {
        double t0 = now();
        float s = 0, v;
        for (int k = 0; k < reps; k++)
            for (int r = 0; r < ROWS; r++) {
                if (f)
                    v = f(COLS, w + (size_t)r * wb, xq);
                else
                    g(COLS, &v, 0, w + (size_t)r * wb, 0, xq, 0, 1);
                s += v;
            }
        sink = s;
        double dt = (now() - t0) / ((double)reps * ROWS);
        best = dt < best ? dt : best;
    }
    return best;
}

static void bench_type(herd_qtype t, void *ggml, const char *gname)
{
    const herd_qtraits *q = herd_qtraits_get(t);
    const size_t wb = herd_qrow_bytes(t, COLS);
    float *wf = malloc(sizeof(float) * COLS * ROWS), *x = malloc(sizeof(float) * COLS);
    unsigned char *w = malloc(wb * ROWS), *xq = malloc(herd_activation_bytes(t, COLS));
    fill(wf, (size_t)COLS * ROWS, 1);
    fill(x, COLS, 2);
    for (int r = 0; r < ROWS; r++)
        q->from_float(wf + (size_t)r * COLS, w + (size_t)r * wb, COLS);
    herd_quantize_activation(t, x, COLS, xq);
    for (int l = 0; l <= (int)herd_simd_supported(); l++) {
        double s = time_rows(herd_vec_dot_at(t, (herd_simd_level)l), NULL, w, wb, xq);
        printf("dot %-5s herd %-10s %8.1f ns/row %7.1f GB/s\n", q->name,
               herd_simd_name((herd_simd_level)l), s * 1e9, wb / s / 1e9);
    }
    char sym[64];
    snprintf(sym, sizeof sym, "ggml_vec_dot_%s_%s", q->name,
             herd_qtraits_get(q->vec_dot_type)->name);
    ggml_dot_fn g = ggml ? (ggml_dot_fn)(size_t)dlsym(ggml, sym) : NULL;
    if (g && t != HERD_QTYPE_F32 && t != HERD_QTYPE_BF16 && t != HERD_QTYPE_F16) {
        double s = time_rows(NULL, g, w, wb, xq);
        printf("dot %-5s llama.cpp %-7s %8.1f ns/row %7.1f GB/s\n", q->name, gname, s * 1e9,
               wb / s / 1e9);
    }
    free(wf); free(x); free(w); free(xq);
}

/* herd_qmatvec over a matrix far larger than the caches, all threads. */
static void bench_matvec(herd_qtype t, int64_t rows)
{
    const size_t wb = herd_qrow_bytes(t, COLS);
    unsigned char *w = malloc(wb * rows), *xq = malloc(herd_activation_bytes(t, COLS));
    float *x = malloc(sizeof(float) * COLS), *out = malloc(sizeof(float) * rows);
    float *wf = malloc(sizeof(float) * COLS);
    for (int64_t r = 0; r < rows; r++) {
        fill(wf, COLS, (unsigned)r);
        herd_qtraits_get(t)->from_float(wf, w + (size_t)r * wb, COLS);
    }
    fill(x, COLS, 7);
    herd_quantize_activation(t, x, COLS, xq);
    double best = 1e30;
    for (int k = 0; k < 20; k++) {
        double t0 = now();
        herd_qmatvec(out, w, t, xq, rows, COLS);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    printf("matvec %-5s %lldx%d %d threads (%s): %.3f ms, %.1f GB/s\n",
           herd_qtraits_get(t)->name, (long long)rows, COLS, omp_get_max_threads(),
           herd_simd_name(herd_simd_active()), best * 1e3, wb * rows / best / 1e9);
    free(w); free(xq); free(x); free(out); free(wf);
}

/* herd_qmatmul of n tokens against n separate herd_qmatvec calls. */
static void bench_matmul(herd_qtype t, int64_t rows, int64_t n)
{
    const size_t wb = herd_qrow_bytes(t, COLS), xb = herd_activation_bytes(t, COLS);
    unsigned char *w = malloc(wb * rows), *xq = malloc(xb * n);
    float *wf = malloc(sizeof(float) * COLS), *out = malloc(sizeof(float) * rows * n);
    for (int64_t r = 0; r < rows; r++) {
        fill(wf, COLS, (unsigned)r);
        herd_qtraits_get(t)->from_float(wf, w + (size_t)r * wb, COLS);
    }
    for (int64_t k = 0; k < n; k++) {
        fill(wf, COLS, (unsigned)(1000 + k));
        herd_quantize_activation(t, wf, COLS, xq + (size_t)k * xb);
    }
    double best = 1e30, best1 = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        herd_qmatmul(out, w, t, xq, rows, COLS, n);
        double t1 = now();
        for (int64_t k = 0; k < n; k++)
            herd_qmatvec(out + k * rows, w, t, xq + (size_t)k * xb, rows, COLS);
        double t2 = now();
        best = t1 - t0 < best ? t1 - t0 : best;
        best1 = t2 - t1 < best1 ? t2 - t1 : best1;
    }
    printf("matmul %-5s %lldx%d x %lld tokens: %.2f ms (%.1f GMAC/s), as %lld matvecs %.2f ms\n",
           herd_qtraits_get(t)->name, (long long)rows, COLS, (long long)n, best * 1e3,
           (double)rows * COLS * n / best / 1e9, (long long)n, best1 * 1e3);
    free(w); free(xq); free(wf); free(out);
}

int main(int argc, char **argv)
{
    void *ggml = NULL;
    const char *gname = "";
    if (argc > 1) {
        ggml = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
        if (!ggml) {
            fprintf(stderr, "%s\n", dlerror());
            return 1;
        }
        void (*init)(void) = (void (*)(void))(size_t)dlsym(ggml, "ggml_cpu_init");
        if (init)
            init();
        gname = strrchr(argv[1], '-') ? strrchr(argv[1], '-') + 1 : argv[1];
    }
    printf("CPU level %s, %d values per row, %d rows in cache\n",
           herd_simd_name(herd_simd_supported()), COLS, ROWS);
    const herd_qtype types[] = {HERD_QTYPE_Q4_0, HERD_QTYPE_Q8_0, HERD_QTYPE_Q4_K,
                                HERD_QTYPE_Q6_K, HERD_QTYPE_F16, HERD_QTYPE_BF16,
                                HERD_QTYPE_F32};
    for (int i = 0; i < 7; i++)
        bench_type(types[i], ggml, gname);
    for (int i = 0; i < 4; i++)
        bench_matvec(types[i], 11008);
    for (int i = 0; i < 4; i++)
        bench_matmul(types[i], 4096, 64);
    return 0;
}

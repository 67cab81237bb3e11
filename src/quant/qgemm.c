/* herd_qgemm (qgemm.h): the activations packed into 16-token tiles, weight
 * rows decoded 16 at a time into a panel per thread, and the scalar kernel,
 * the twin of the AMX one in qgemm_amx.c. */
#include "quant/qgemm_impl.h"
#include "base/error.h"
#include "quant/quant_impl.h"
#include <math.h>
#include <omp.h>
/* At most this many bytes of packed activations per pass over the weights,
 * so that they stay in L2 while every weight row passes over them. */
#define PASS_BYTES ((size_t)1 << 20)
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static int amx_ok;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void amx_probe(void)
{
    const char *e = getenv("HERD_AMX");
    amx_ok = !(e && strcmp(e, "off") == 0) && herd_simd_active() == HERD_SIMD_AVX512VNNI &&
             herd_qgemm_amx_init();
}

int herd_qgemm_available(herd_qgemm_kernel k)
{
    if (k == HERD_QGEMM_SCALAR)
        return 1;
    pthread_once(&amx_once, amx_probe);
    return k == HERD_QGEMM_AMX && amx_ok;
}

int herd_qgemm_best(void)
{
    return herd_qgemm_available(HERD_QGEMM_AMX) ? HERD_QGEMM_AMX : -1;
}

static int sub_of(herd_qtype t)
{
    switch (t) {
    case HERD_QTYPE_Q8_0: case HERD_QTYPE_Q4_0: case HERD_QTYPE_Q4_K: return 32;
    case HERD_QTYPE_Q6_K: return 16;
    default: return 0;
    }
}

int herd_qgemm_fits(herd_qtype t, int64_t rows, int64_t cols)
{
    return sub_of(t) && rows > 0 && rows % 16 == 0 && herd_activation_bytes(t, cols) > 0;
}

static void shape_of(qg_shape *s, herd_qtype t, const void *w, int64_t rows, int64_t cols)
{
    s->t = t;
    s->sub = sub_of(t);
    s->mins = t == HERD_QTYPE_Q4_K;
    s->rows = rows;
    s->cols = cols;
    s->nsub = cols / s->sub;
    s->wrow = herd_qrow_bytes(t, cols);
    s->w = w;
}

static size_t align64(size_t b) { return (b + 63) & ~(size_t)63; }

/* Per thread: a panel, a row of herd_quantize_activation's output, and one
 * row's quants and scales. */
static size_t row_bytes(const qg_shape *s)
{
    return align64((size_t)s->cols + 8 * (size_t)s->nsub);
}
static size_t thread_bytes(const qg_shape *s)
{
    return align64(qg_tile_bytes(s)) + align64(herd_activation_bytes(s->t, s->cols)) +
           row_bytes(s);
}

size_t herd_qgemm_min_scratch(herd_qtype t, int64_t cols)
{
    if (!herd_qgemm_fits(t, 16, cols))
        return 0;
    qg_shape s;
    shape_of(&s, t, NULL, 16, cols);
    return (size_t)omp_get_max_threads() * thread_bytes(&s) + align64(qg_tile_bytes(&s));
}

/* Sub-block b of an activation row quantized by herd_quantize_activation:
 * its quants, scale and scale times the quants' sum. */
static const int8_t *act_sub(const qg_shape *s, const uint8_t *row, int64_t b, float *dx,
                             float *xs)
{
    if (s->t == HERD_QTYPE_Q8_0 || s->t == HERD_QTYPE_Q4_0) {
        const herd_block_q8_0 *x = (const herd_block_q8_0 *)row + b;
        *dx = herd_f16_table[x->d];
        *xs = 0.0f;
        return x->qs;
    }
    const int per = HERD_QK_K / s->sub;
    const herd_block_q8_K *x = (const herd_block_q8_K *)row + b / per;
    const int j = (int)(b % per);
    *dx = x->d;
    *xs = s->mins ? (float)(x->bsums[2 * j] + x->bsums[2 * j + 1]) : 0.0f;
    return x->qs + j * s->sub;
}

void herd_qgemm_quant_scalar(const qg_shape *s, const float *x, int8_t *q, float *dx,
                             float *xs, uint8_t *tmp)
{
    (void)herd_quantize_activation(s->t, x, s->cols, tmp);
    for (int64_t b = 0; b < s->nsub; b++)
        memcpy(q + b * s->sub, act_sub(s, tmp, b, &dx[b], &xs[b]), (size_t)s->sub);
}

/* Tokens x[0 .. m) (m <= 16) into one activation tile; tmp: a thread's
 * scratch after its panel. */
static void pack_tile(const qg_shape *s, const float *x, int m, uint8_t *tmp, uint8_t *tile,
                      herd_qgemm_kernel k)
{
    uint8_t *act = tmp + align64(herd_activation_bytes(s->t, s->cols));
    int8_t *q = (int8_t *)act;
    float *rdx = (float *)(act + s->cols), *rxs = rdx + s->nsub;
    memset(tile, 0, qg_tile_bytes(s));
    float *dx = qg_scales(s, tile), *xs = dx + 16 * s->nsub;
    for (int j = 0; j < m; j++) {
        if (k == HERD_QGEMM_AMX)
            herd_qgemm_quant_amx(s, x + (size_t)j * s->cols, q, rdx, rxs);
        else
            herd_qgemm_quant_scalar(s, x + (size_t)j * s->cols, q, rdx, rxs, tmp);
        for (int64_t b = 0; b < s->nsub; b++) {
            dx[b * 16 + j] = rdx[b];
            xs[b * 16 + j] = rxs[b];
            uint8_t *o = tile + b * 16 * s->sub + j * 4;
            for (int k4 = 0; k4 < s->sub / 4; k4++)
                memcpy(o + k4 * 64, q + b * s->sub + 4 * k4, 4);
        }
    }
}

/* Row r's sub-block b: its int8 quants (sub of them), scale and min. */
static void weight_sub(const qg_shape *s, const uint8_t *row, int64_t b, int8_t *q, float *wd,
                       float *wm)
{
    *wm = 0.0f;
    if (s->t == HERD_QTYPE_Q8_0) {
        const herd_block_q8_0 *w = (const herd_block_q8_0 *)row + b;
        memcpy(q, w->qs, 32);
        *wd = herd_f16_table[w->d];
    } else if (s->t == HERD_QTYPE_Q4_0) {
        const herd_block_q4_0 *w = (const herd_block_q4_0 *)row + b;
        for (int k = 0; k < 16; k++) {
            q[k] = (int8_t)((w->qs[k] & 15) - 8);
            q[k + 16] = (int8_t)((w->qs[k] >> 4) - 8);
        }
        *wd = herd_f16_table[w->d];
    } else if (s->t == HERD_QTYPE_Q4_K) {
        const herd_block_q4_K *w = (const herd_block_q4_K *)row + b / 8;
        const int j = (int)(b % 8);
        uint8_t sc, m;
        herd_q4_K_scale_min(w->scales, j, &sc, &m);
        for (int k = 0; k < 32; k++) {
            uint8_t v = w->qs[32 * (j / 2) + k];
            q[k] = (int8_t)(j % 2 ? v >> 4 : v & 15);
        }
        *wd = herd_f16_table[w->d] * (float)sc;
        *wm = herd_f16_table[w->dmin] * (float)m;
    } else {
        const herd_block_q6_K *w = (const herd_block_q6_K *)row + b / 16;
        const int j = (int)(b % 16);
        for (int k = 0; k < 16; k++)
            q[k] = (int8_t)(herd_q6_K_get(w, 16 * j + k) - 32);
        *wd = herd_f16_table[w->d] * (float)w->scales[j];
    }
}

void herd_qgemm_panel_scalar(const qg_shape *s, int64_t r0, uint8_t *panel)
{
    float *wd = qg_scales(s, panel), *wm = wd + 16 * s->nsub;
    for (int r = 0; r < 16; r++) {
        const uint8_t *row = s->w + (size_t)(r0 + r) * s->wrow;
        for (int64_t b = 0; b < s->nsub; b++)
            weight_sub(s, row, b, (int8_t *)panel + (b * 16 + r) * s->sub, &wd[b * 16 + r],
                       &wm[b * 16 + r]);
    }
}

/* Token j, row r of a tile: the sum over every sub-block (qgemm.h). */
static float dot_scalar(const qg_shape *s, const uint8_t *panel, const uint8_t *tile, int j,
                        int r)
{
    const float *wd = qg_scales(s, (uint8_t *)panel), *wm = wd + 16 * s->nsub;
    const float *dx = qg_scales(s, (uint8_t *)tile), *xs = dx + 16 * s->nsub;
    const int kq = s->t == HERD_QTYPE_Q4_K || s->t == HERD_QTYPE_Q6_K;
    float acc = 0.0f, in = 0.0f, m = 0.0f;
    for (int64_t b = 0; b < s->nsub; b++) {
        const int8_t *wq = (const int8_t *)panel + (b * 16 + r) * s->sub;
        const int8_t *xq = (const int8_t *)tile + b * 16 * s->sub + j * 4;
        int32_t c = 0;
        for (int k = 0; k < s->sub; k++)
            c += wq[k] * xq[(k / 4) * 64 + k % 4];
        if (!kq) {
            acc = fmaf((float)c, dx[b * 16 + j] * wd[b * 16 + r], acc);
            continue;
        }
        in = fmaf((float)c, wd[b * 16 + r], in);
        if (s->mins)
            m = fmaf(xs[b * 16 + j], wm[b * 16 + r], m);
        if (b % 8 == 7) {
            acc = fmaf(in, dx[b * 16 + j], acc);
            if (s->mins)
                acc = fmaf(-m, dx[b * 16 + j], acc);
            in = m = 0.0f;
        }
    }
    return acc;
}

void herd_qgemm_rows_scalar(const qg_shape *s, int64_t r0, const uint8_t *panel,
                            const uint8_t *tiles, int64_t t0, int64_t n, float *y)
{
    const size_t tb = qg_tile_bytes(s);
    for (int64_t j0 = 0; j0 < n; j0 += 16) {
        const uint8_t *tile = tiles + (size_t)(j0 / 16) * tb;
        for (int j = 0; j < 16 && j0 + j < n; j++)
            for (int r = 0; r < 16; r++)
                y[(size_t)(t0 + j0 + j) * s->rows + r0 + r] = dot_scalar(s, panel, tile, j, r);
    }
}

/* One pass: tokens [t0, t0 + n) through every weight row. */
static void pass(const qg_shape *s, float *y, const float *x, int64_t t0, int64_t n,
                 uint8_t *scratch, herd_qgemm_kernel k)
{
    const size_t tb = qg_tile_bytes(s), per = thread_bytes(s);
    uint8_t *tiles = scratch + (size_t)omp_get_max_threads() * per;
    const int64_t ntiles = (n + 15) / 16, nrt = s->rows / 16;
    #pragma omp parallel
    {
        uint8_t *panel = scratch + (size_t)omp_get_thread_num() * per;
        uint8_t *tmp = panel + align64(tb);
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < ntiles; i++) {
            int64_t m = n - 16 * i < 16 ? n - 16 * i : 16;
            pack_tile(s, x + (size_t)(t0 + 16 * i) * s->cols, (int)m, tmp, tiles + i * tb, k);
        }
        if (k == HERD_QGEMM_AMX)
            herd_qgemm_amx_begin(s);
        /* dynamic: a thread that other processes delay holds no one up */
        #pragma omp for schedule(dynamic, 4) nowait
        for (int64_t rt = 0; rt < nrt; rt++) {
            if (k == HERD_QGEMM_AMX) {
                herd_qgemm_panel_amx(s, 16 * rt, panel);
                herd_qgemm_rows_amx(s, 16 * rt, panel, tiles, t0, n, y);
            } else {
                herd_qgemm_panel_scalar(s, 16 * rt, panel);
                herd_qgemm_rows_scalar(s, 16 * rt, panel, tiles, t0, n, y);
            }
        }
        if (k == HERD_QGEMM_AMX)
            herd_qgemm_amx_end();
    }
}

herd_status herd_qgemm(float *y, const float *x, const void *w, herd_qtype t, int64_t rows,
                       int64_t cols, int64_t n, void *scratch, size_t scratch_bytes,
                       herd_qgemm_kernel k)
{
    if (!herd_qgemm_fits(t, rows, cols))
        return herd_fail(HERD_E_UNSUPPORTED, "qgemm: no integer product for type %d, %lld x %lld",
                         (int)t, (long long)rows, (long long)cols);
    if (!herd_qgemm_available(k))
        return herd_fail(HERD_E_UNSUPPORTED, "qgemm: kernel %d does not run here", (int)k);
    if (n < 0 || (n > 0 && (!y || !x || !w || !scratch)))
        return herd_fail(HERD_E_ARG, "qgemm: bad arguments");
    scratch = qg_align64(scratch, &scratch_bytes);
    qg_shape s;
    shape_of(&s, t, w, rows, cols);
    const size_t fixed = (size_t)omp_get_max_threads() * thread_bytes(&s);
    const size_t tb = align64(qg_tile_bytes(&s));
    if (scratch_bytes < fixed + tb)
        return herd_fail(HERD_E_ARG, "qgemm: %zu bytes of scratch, %zu needed", scratch_bytes,
                         fixed + tb);
    int64_t per_pass = (int64_t)((scratch_bytes - fixed) / tb);
    if (per_pass > (int64_t)(PASS_BYTES / tb))
        per_pass = PASS_BYTES / tb > 0 ? (int64_t)(PASS_BYTES / tb) : 1;
    per_pass *= 16;
    for (int64_t t0 = 0; t0 < n; t0 += per_pass)
        pass(&s, y, x, t0, n - t0 < per_pass ? n - t0 : per_pass, scratch, k);
    return HERD_OK;
}

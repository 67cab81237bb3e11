/* herd_hgemm (qgemm.h): F16 weights times float activations as three
 * bfloat16 products, 16 weight rows decoded into a panel per thread; the
 * scalar kernel, the twin of the AMX-BF16 one in hgemm_amx.c. */
#include "quant/hgemm_impl.h"
#include "base/error.h"
#include "base/half.h"
#include "quant/qgemm_impl.h"
#include <omp.h>
/* At most this many bytes of packed activations per pass over the weights,
 * so that they stay in L2 while every weight row passes over them. */
#define PASS_BYTES ((size_t)1 << 20)
/* Values per K-chunk: longer rows are summed chunk by chunk, so that a
 * pass holds many tokens and each panel serves them all. */
#define KC 2048
#include <pthread.h>
#include <stdlib.h>

static int amx_ok;
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;

static void amx_probe(void)
{
    amx_ok = herd_qgemm_available(HERD_QGEMM_AMX) && herd_hgemm_amx_init();
}

int herd_hgemm_available(herd_qgemm_kernel k)
{
    if (k == HERD_QGEMM_SCALAR)
        return 1;
    pthread_once(&amx_once, amx_probe);
    return k == HERD_QGEMM_AMX && amx_ok;
}

int herd_hgemm_fits(herd_qtype t, int64_t rows, int64_t cols)
{
    return t == HERD_QTYPE_F16 && rows > 0 && rows % 16 == 0 && cols > 0 && cols % 32 == 0;
}

static size_t tile_bytes(int64_t cols) { return (size_t)(64 * cols); }

size_t herd_hgemm_min_scratch(int64_t cols)
{
    if (cols <= 0 || cols % 32)
        return 0;
    return (size_t)(omp_get_max_threads() + 2) * tile_bytes(KC);
}

void herd_hgemm_panel_scalar(const uint16_t *w, int64_t ld, int64_t cols, uint16_t *panel)
{
    for (int r = 0; r < 16; r++)
        for (int64_t i = 0; i < cols; i++) {
            const float v = herd_f16_to_f32(w[r * ld + i]);
            const uint16_t h = hg_bf16(v);
            uint16_t *o = panel + (i / 32) * 1024 + r * 32 + i % 32;
            o[0] = h;
            o[512] = hg_bf16(v - hg_f32(h));
        }
}

void herd_hgemm_pack_scalar(const float *x, int m, int64_t ld, int64_t cols, uint16_t *tile)
{
    memset(tile, 0, tile_bytes(cols));
    for (int j = 0; j < m; j++)
        for (int64_t i = 0; i < cols; i++) {
            const float v = x[j * ld + i];
            const uint16_t h = hg_bf16(v);
            const int k = (int)(i % 32);
            uint16_t *o = tile + (i / 32) * 1024 + ((k / 2) * 16 + j) * 2 + k % 2;
            o[0] = h;
            o[512] = hg_bf16(v - hg_f32(h));
        }
}

void herd_hgemm_rows_scalar(int64_t rows, int64_t cols, int64_t r0, const uint16_t *panel,
                            const uint16_t *tiles, int64_t t0, int64_t n, float *y, int add)
{
    for (int64_t j0 = 0; j0 < n; j0 += 16) {
        const uint16_t *tile = tiles + (size_t)(j0 / 16) * (tile_bytes(cols) / 2);
        for (int j = 0; j < 16 && j0 + j < n; j++)
            for (int r = 0; r < 16; r++) {
                float acc = 0.0f;
                for (int64_t s = 0; s < cols / 32; s++)
                    for (int k = 0; k < 32; k++) {
                        const uint16_t *a = panel + s * 1024 + r * 32 + k;
                        const uint16_t *b = tile + s * 1024 + ((k / 2) * 16 + j) * 2 + k % 2;
                        acc += hg_f32(a[0]) * hg_f32(b[0]) + hg_f32(a[0]) * hg_f32(b[512]) +
                               hg_f32(a[512]) * hg_f32(b[0]);
                    }
                float *o = y + (size_t)(t0 + j0 + j) * rows + r0 + r;
                *o = add ? *o + acc : acc;
            }
    }
}

/* One pass: tokens [t0, t0 + n) through every weight row, over the
 * K-chunk [k0, k0 + kc) of rows of ld values. */
static void pass(float *y, const float *x, const uint16_t *w, int64_t rows, int64_t ld,
                 int64_t k0, int64_t kc, int64_t t0, int64_t n, uint8_t *scratch,
                 herd_qgemm_kernel k)
{
    const size_t tb = tile_bytes(KC);
    uint8_t *tiles = scratch + (size_t)omp_get_max_threads() * tb;
    const int64_t ntiles = (n + 15) / 16, nrt = rows / 16;
    const size_t tw = tile_bytes(kc) / 2;
    #pragma omp parallel
    {
        uint16_t *panel = (uint16_t *)(scratch + (size_t)omp_get_thread_num() * tb);
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < ntiles; i++) {
            const int m = n - 16 * i < 16 ? (int)(n - 16 * i) : 16;
            const float *xi = x + (size_t)(t0 + 16 * i) * ld + k0;
            uint16_t *ti = (uint16_t *)tiles + i * tw;
            if (k == HERD_QGEMM_AMX)
                herd_hgemm_pack_amx(xi, m, ld, kc, ti);
            else
                herd_hgemm_pack_scalar(xi, m, ld, kc, ti);
        }
        if (k == HERD_QGEMM_AMX)
            herd_hgemm_amx_begin();
        /* dynamic: a thread that other processes delay holds no one up */
        #pragma omp for schedule(dynamic, 4) nowait
        for (int64_t rt = 0; rt < nrt; rt++) {
            const uint16_t *wr = w + (size_t)rt * 16 * ld + k0;
            if (k == HERD_QGEMM_AMX) {
                herd_hgemm_panel_amx(wr, ld, kc, panel);
                herd_hgemm_rows_amx(rows, kc, 16 * rt, panel, (const uint16_t *)tiles, t0, n,
                                    y, k0 > 0);
            } else {
                herd_hgemm_panel_scalar(wr, ld, kc, panel);
                herd_hgemm_rows_scalar(rows, kc, 16 * rt, panel, (const uint16_t *)tiles, t0,
                                       n, y, k0 > 0);
            }
        }
        if (k == HERD_QGEMM_AMX)
            herd_qgemm_amx_end();
    }
}

herd_status herd_hgemm(float *y, const float *x, const void *w, int64_t rows, int64_t cols,
                       int64_t n, void *scratch, size_t scratch_bytes, herd_qgemm_kernel k)
{
    if (!herd_hgemm_fits(HERD_QTYPE_F16, rows, cols))
        return herd_fail(HERD_E_UNSUPPORTED, "hgemm: no product for F16 %lld x %lld",
                         (long long)rows, (long long)cols);
    if (!herd_hgemm_available(k))
        return herd_fail(HERD_E_UNSUPPORTED, "hgemm: kernel %d does not run here", (int)k);
    if (n < 0 || (n > 0 && (!y || !x || !w || !scratch)))
        return herd_fail(HERD_E_ARG, "hgemm: bad arguments");
    scratch = qg_align64(scratch, &scratch_bytes);
    const size_t tb = tile_bytes(KC), fixed = (size_t)omp_get_max_threads() * tb;
    if (scratch_bytes < fixed + 2 * tb)
        return herd_fail(HERD_E_ARG, "hgemm: %zu bytes of scratch, %zu needed", scratch_bytes,
                         fixed + 2 * tb);
    int64_t per_pass = (int64_t)((scratch_bytes - fixed) / tb);
    if (per_pass > (int64_t)(PASS_BYTES / tb))
        per_pass = PASS_BYTES / tb > 0 ? (int64_t)(PASS_BYTES / tb) : 1;
    per_pass *= 16;
    for (int64_t t0 = 0; t0 < n; t0 += per_pass)
        for (int64_t k0 = 0; k0 < cols; k0 += KC)
            pass(y, x, w, rows, cols, k0, cols - k0 < KC ? cols - k0 : KC, t0,
                 n - t0 < per_pass ? n - t0 : per_pass, scratch, k);
    return HERD_OK;
}

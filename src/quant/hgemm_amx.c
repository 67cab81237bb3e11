/* The AMX-BF16 kernel of herd_hgemm (qgemm.h): 16 weight rows against two
 * 16-token tiles at a time, each 32-value step three tdpbf16ps per token
 * tile (wh xh, wh xl, wl xh) into one float accumulator tile, stored once at
 * the end; the panels and activation tiles are split with AVX-512 into the
 * bits hgemm.c's scalar code writes. */
#include "quant/hgemm_impl.h"
#include "quant/qgemm_impl.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#define AMX_TARGET __attribute__((target( \
    "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,amx-tile,amx-bf16")))

int herd_hgemm_amx_init(void)
{
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 22));
}

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg;

AMX_TARGET void herd_hgemm_amx_begin(void)
{
    tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) { /* every tile 16 rows of 64 bytes */
        cfg.rows[i] = 16;
        cfg.colsb[i] = 64;
    }
    __asm__ volatile("ldtilecfg %0" : : "m"(cfg)); /* see qgemm_amx.c */
}

/* hg_bf16 on 16 floats, as int32 lanes. */
static inline AMX_TARGET __m512i bf16x16(__m512 v)
{
    const __m512i u = _mm512_castps_si512(v);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    return _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)),
                                              odd), 16);
}

/* 32 floats split into hi and lo bfloat16, in order (pairs as dwords). */
static inline AMX_TARGET void split32(__m512 v0, __m512 v1, __m512i *hi, __m512i *lo)
{
    const __m512i h0 = bf16x16(v0), h1 = bf16x16(v1);
    const __m512 r0 = _mm512_sub_ps(v0, _mm512_castsi512_ps(_mm512_slli_epi32(h0, 16)));
    const __m512 r1 = _mm512_sub_ps(v1, _mm512_castsi512_ps(_mm512_slli_epi32(h1, 16)));
    *hi = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi32_epi16(h0)),
                             _mm512_cvtepi32_epi16(h1), 1);
    *lo = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi32_epi16(bf16x16(r0))),
                             _mm512_cvtepi32_epi16(bf16x16(r1)), 1);
}

AMX_TARGET void herd_hgemm_panel_amx(const uint16_t *w, int64_t ld, int64_t cols,
                                     uint16_t *panel)
{
    for (int r = 0; r < 16; r++)
        for (int64_t s = 0; s < cols / 32; s++) {
            const uint16_t *src = w + r * ld + 32 * s;
            __m512 v0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)src));
            __m512 v1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + 16)));
            __m512i hi, lo;
            split32(v0, v1, &hi, &lo);
            _mm512_storeu_si512((void *)(panel + s * 1024 + r * 32), hi);
            _mm512_storeu_si512((void *)(panel + s * 1024 + 512 + r * 32), lo);
        }
}

AMX_TARGET void herd_hgemm_pack_amx(const float *x, int m, int64_t ld, int64_t cols,
                                    uint16_t *tile)
{
    memset(tile, 0, (size_t)(64 * cols));
    const __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6,
                                                            5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32(64));
    for (int j = 0; j < m; j++)
        for (int64_t s = 0; s < cols / 32; s++) {
            const float *src = x + j * ld + 32 * s;
            __m512i hi, lo;
            split32(_mm512_loadu_ps(src), _mm512_loadu_ps(src + 16), &hi, &lo);
            uint16_t *o = tile + s * 1024 + 2 * j;
            _mm512_i32scatter_epi32(o, idx, hi, 1);
            _mm512_i32scatter_epi32(o + 512, idx, lo, 1);
        }
}

static inline AMX_TARGET void store_c(int64_t rows, int64_t r0, int64_t t0, int m,
                                      const float c[256], float *y, int add)
{
    for (int j = 0; j < m; j++) {
        float *o = y + (size_t)(t0 + j) * rows + r0;
        for (int r = 0; r < 16; r++)
            o[r] = add ? o[r] + c[r * 16 + j] : c[r * 16 + j];
    }
}

AMX_TARGET void herd_hgemm_rows_amx(int64_t rows, int64_t cols, int64_t r0,
                                    const uint16_t *panel, const uint16_t *tiles, int64_t t0,
                                    int64_t n, float *y, int add)
{
    const size_t tw = (size_t)(32 * cols); /* uint16 per tile */
    float c[2][256];
    for (int64_t j0 = 0; j0 < n; j0 += 32) {
        const uint16_t *b0 = tiles + (size_t)(j0 / 16) * tw, *b1 = b0 + tw;
        _tile_zero(6);
        if (j0 + 16 < n) {
            _tile_zero(7);
            for (int64_t s = 0; s < cols / 32; s++) {
                const uint16_t *a = panel + s * 1024;
                _tile_loadd(0, a, 64);
                _tile_loadd(1, a + 512, 64);
                _tile_loadd(2, b0 + s * 1024, 64);
                _tile_loadd(3, b0 + s * 1024 + 512, 64);
                _tile_loadd(4, b1 + s * 1024, 64);
                _tile_loadd(5, b1 + s * 1024 + 512, 64);
                _tile_dpbf16ps(6, 0, 2);
                _tile_dpbf16ps(7, 0, 4);
                _tile_dpbf16ps(6, 0, 3);
                _tile_dpbf16ps(7, 0, 5);
                _tile_dpbf16ps(6, 1, 2);
                _tile_dpbf16ps(7, 1, 4);
            }
            _tile_stored(7, c[1], 64);
        } else {
            for (int64_t s = 0; s < cols / 32; s++) {
                const uint16_t *a = panel + s * 1024;
                _tile_loadd(0, a, 64);
                _tile_loadd(1, a + 512, 64);
                _tile_loadd(2, b0 + s * 1024, 64);
                _tile_loadd(3, b0 + s * 1024 + 512, 64);
                _tile_dpbf16ps(6, 0, 2);
                _tile_dpbf16ps(6, 0, 3);
                _tile_dpbf16ps(6, 1, 2);
            }
        }
        _tile_stored(6, c[0], 64);
        store_c(rows, r0, t0 + j0, n - j0 < 16 ? (int)(n - j0) : 16, c[0], y, add);
        if (j0 + 16 < n)
            store_c(rows, r0, t0 + j0 + 16, n - j0 - 16 < 16 ? (int)(n - j0 - 16) : 16, c[1], y,
                    add);
    }
}

#else
int herd_hgemm_amx_init(void) { return 0; }
void herd_hgemm_amx_begin(void) {}
void herd_hgemm_panel_amx(const uint16_t *w, int64_t ld, int64_t cols, uint16_t *panel)
{
    herd_hgemm_panel_scalar(w, ld, cols, panel);
}
void herd_hgemm_pack_amx(const float *x, int m, int64_t ld, int64_t cols, uint16_t *tile)
{
    herd_hgemm_pack_scalar(x, m, ld, cols, tile);
}
void herd_hgemm_rows_amx(int64_t rows, int64_t cols, int64_t r0, const uint16_t *panel,
                         const uint16_t *tiles, int64_t t0, int64_t n, float *y, int add)
{
    herd_hgemm_rows_scalar(rows, cols, r0, panel, tiles, t0, n, y, add);
}
#endif

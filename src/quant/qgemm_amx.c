/* The AMX-INT8 kernel of herd_qgemm (qgemm.h): for 16 weight rows and 16
 * tokens, each sub-block's int32 dots come from one tdpbssd (A: the 16 rows'
 * quants from the panel; B: the activation tile), are stored, and are scaled
 * into 16 float accumulators (one per row, a token per lane) with AVX-512,
 * in the scalar twin's order; the tile unit runs ahead of the scaling
 * (block_amx). Also the AVX-512 panels and activation quantizers, which
 * write the scalar ones' bits. */
#include "quant/qgemm_impl.h"
#include "quant/quant_impl.h"
#include "base/half.h"

#if defined(__x86_64__)
#include "quant/dot_x86.h"
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#define AMX_TARGET __attribute__((target( \
    "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,amx-tile,amx-int8")))

/* The kernels' pieces share 16 accumulators in registers: inlined always. */
#define INLINE __attribute__((always_inline))

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

int herd_qgemm_amx_init(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 25)))
        return 0;
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
}

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg;

AMX_TARGET void herd_qgemm_amx_begin(const qg_shape *s)
{
    tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 4; i += 2) {
        cfg.rows[i] = 16;                       /* A: 16 rows x sub values */
        cfg.colsb[i] = (uint16_t)s->sub;
        cfg.rows[i + 1] = (uint8_t)(s->sub / 4); /* B: sub / 4 rows x 16 tokens x 4 */
        cfg.colsb[i + 1] = 64;
    }
    for (int i = 4; i < 8; i++) {               /* C: 16 rows x 16 tokens int32 */
        cfg.rows[i] = 16;
        cfg.colsb[i] = 64;
    }
    /* not _tile_loadconfig: GCC 12 reads cfg through another struct type,
     * and strict aliasing then drops the stores above */
    __asm__ volatile("ldtilecfg %0" : : "m"(cfg));
}

AMX_TARGET void herd_qgemm_amx_end(void) { _tile_release(); }

/* ---- panels ---- */

static AMX_TARGET void panel_q4_0(const uint8_t *row, int64_t nb, int8_t *q, float *wd)
{
    const __m128i lo4 = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    const herd_block_q4_0 *w = (const herd_block_q4_0 *)row;
    for (int64_t b = 0; b < nb; b++) {
        __m128i v = _mm_loadu_si128((const __m128i *)w[b].qs);
        _mm_storeu_si128((__m128i *)(q + 512 * b), _mm_sub_epi8(_mm_and_si128(v, lo4), eight));
        _mm_storeu_si128((__m128i *)(q + 512 * b + 16),
                         _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(v, 4), lo4), eight));
        wd[b * 16] = _cvtsh_ss(w[b].d);
    }
}

static AMX_TARGET void panel_q4_K(const uint8_t *row, int64_t nsb, int8_t *q, float *wd,
                                  float *wm)
{
    const __m256i lo4 = _mm256_set1_epi8(0x0f);
    const herd_block_q4_K *w = (const herd_block_q4_K *)row;
    for (int64_t i = 0; i < nsb; i++, q += 8 * 512) {
        for (int c = 0; c < 4; c++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(w[i].qs + 32 * c));
            _mm256_storeu_si256((__m256i *)(q + 1024 * c), _mm256_and_si256(v, lo4));
            _mm256_storeu_si256((__m256i *)(q + 1024 * c + 512),
                                _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4));
        }
        uint8_t sc[8], m[8];
        q4_K_scales(w[i].scales, sc, m);
        const float d = _cvtsh_ss(w[i].d), dmin = _cvtsh_ss(w[i].dmin);
        for (int j = 0; j < 8; j++) {
            wd[(8 * i + j) * 16] = d * (float)sc[j];
            wm[(8 * i + j) * 16] = dmin * (float)m[j];
        }
    }
}

static AMX_TARGET void panel_q6_K(const uint8_t *row, int64_t nsb, int8_t *q, float *wd)
{
    const __m256i lo4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(3);
    const __m256i k32 = _mm256_set1_epi8(32);
    const herd_block_q6_K *w = (const herd_block_q6_K *)row;
    for (int64_t i = 0; i < nsb; i++, q += 16 * 256) {
        for (int h = 0; h < 2; h++) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)(w[i].ql + 64 * h));
            __m256i l1 = _mm256_loadu_si256((const __m256i *)(w[i].ql + 64 * h + 32));
            __m256i hb = _mm256_loadu_si256((const __m256i *)(w[i].qh + 32 * h));
            __m256i lo[4] = {_mm256_and_si256(l0, lo4), _mm256_and_si256(l1, lo4),
                             _mm256_and_si256(_mm256_srli_epi16(l0, 4), lo4),
                             _mm256_and_si256(_mm256_srli_epi16(l1, 4), lo4)};
            for (int p = 0; p < 4; p++) {
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * p), m3);
                __m256i v = _mm256_or_si256(lo[p], _mm256_slli_epi16(hi, 4));
                v = _mm256_sub_epi8(v, k32);
                int8_t *o = q + (8 * h + 2 * p) * 256;
                _mm_storeu_si128((__m128i *)o, _mm256_castsi256_si128(v));
                _mm_storeu_si128((__m128i *)(o + 256), _mm256_extracti128_si256(v, 1));
            }
        }
        const float d = _cvtsh_ss(w[i].d);
        for (int j = 0; j < 16; j++)
            wd[(16 * i + j) * 16] = d * (float)w[i].scales[j];
    }
}

AMX_TARGET void herd_qgemm_panel_amx(const qg_shape *s, int64_t r0, uint8_t *panel)
{
    float *wd = qg_scales(s, panel), *wm = wd + 16 * s->nsub;
    for (int r = 0; r < 16; r++) {
        const uint8_t *row = s->w + (size_t)(r0 + r) * s->wrow;
        int8_t *q = (int8_t *)panel + r * s->sub;
        switch (s->t) {
        case HERD_QTYPE_Q8_0: {
            const herd_block_q8_0 *w = (const herd_block_q8_0 *)row;
            for (int64_t b = 0; b < s->nsub; b++) {
                _mm256_storeu_si256((__m256i *)(q + 512 * b),
                                    _mm256_loadu_si256((const __m256i *)w[b].qs));
                wd[b * 16 + r] = _cvtsh_ss(w[b].d);
            }
            break;
        }
        case HERD_QTYPE_Q4_0: panel_q4_0(row, s->nsub, q, wd + r); break;
        case HERD_QTYPE_Q4_K: panel_q4_K(row, s->cols / 256, q, wd + r, wm + r); break;
        default: panel_q6_K(row, s->cols / 256, q, wd + r); break;
        }
    }
}

/* ---- activations ---- */

static AMX_TARGET void quant_q8_0(const float *x, int64_t nb, int8_t *q, float *dx, float *xs)
{
    for (int64_t b = 0; b < nb; b++, x += 32, q += 32) {
        const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        const float amax =
            _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
        dx[b] = _cvtsh_ss(herd_f32_to_f16(amax / 127.0f));
        xs[b] = 0.0f;
        /* the default rounding, to nearest even, as nearbyintf */
        _mm_storeu_si128((__m128i *)q, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(
                                           _mm512_mul_ps(v0, id))));
        _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(
                                                  _mm512_mul_ps(v1, id))));
    }
}

/* herd_quantize_q8_K's bits: scale -127 / (the first value of largest
 * magnitude), rounded to nearest even, at most 127. */
static AMX_TARGET void quant_q8_K(const qg_shape *s, const float *x, int8_t *q, float *dx,
                                  float *xs)
{
    const int per = HERD_QK_K / s->sub;
    for (int64_t i = 0; i < s->cols / HERD_QK_K; i++, x += HERD_QK_K, q += HERD_QK_K) {
        __m512 m = _mm512_setzero_ps();
        for (int c = 0; c < 16; c++)
            m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + 16 * c)));
        const float amax = _mm512_reduce_max_ps(m);
        float d = 0.0f, max = 0.0f;
        int32_t sums[16] = {0};
        for (int c = 0; c < 16 && amax != 0.0f; c++) {
            __mmask16 k = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + 16 * c)),
                                             _mm512_set1_ps(amax), _CMP_EQ_OQ);
            if (k) {
                max = x[16 * c + __builtin_ctz(k)];
                break;
            }
        }
        if (amax != 0.0f) {
            const float iscale = -127.f / max;
            const __m512 is = _mm512_set1_ps(iscale);
            for (int c = 0; c < 16; c++) {
                __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * c), is));
                v = _mm512_min_epi32(v, _mm512_set1_epi32(127));
                _mm_storeu_si128((__m128i *)(q + 16 * c), _mm512_cvtepi32_epi8(v));
                sums[c] = _mm512_reduce_add_epi32(v);
            }
            d = 1 / iscale;
        } else {
            memset(q, 0, HERD_QK_K);
        }
        for (int j = 0; j < per; j++) {
            dx[i * per + j] = d;
            xs[i * per + j] = s->mins ? (float)(sums[2 * j] + sums[2 * j + 1]) : 0.0f;
        }
    }
}

AMX_TARGET void herd_qgemm_quant_amx(const qg_shape *s, const float *x, int8_t *q, float *dx,
                                     float *xs)
{
    if (s->t == HERD_QTYPE_Q8_0 || s->t == HERD_QTYPE_Q4_0)
        quant_q8_0(x, s->nsub, q, dx, xs);
    else
        quant_q8_K(s, x, q, dx, xs);
}

/* ---- products ---- */

/* Q8_0/Q4_0: acc[r] += c[r] * (dx * wd[r]) over the 16 token lanes. */
static inline AMX_TARGET INLINE void scale_add(__m512 acc[16], const int32_t *c,
                                               const float *dx, const float *wd)
{
    const __m512 dxv = _mm512_loadu_ps(dx);
    _Pragma("GCC unroll 16")
    for (int r = 0; r < 16; r++) {
        /* keeps GCC from hoisting all 16 loads and spilling them */
        __asm__ volatile("" : : : "memory");
        __m512 cf = _mm512_cvtepi32_ps(_mm512_loadu_si512((const void *)(c + 16 * r)));
        acc[r] = _mm512_fmadd_ps(cf, _mm512_mul_ps(dxv, _mm512_set1_ps(wd[r])), acc[r]);
    }
}

/* K-quants: the sums of group g (sub-blocks 8g .. 8g + 7, one activation
 * scale) from their dots c, four rows at a time (qgemm.h). */
static inline AMX_TARGET INLINE void group_add(__m512 acc[16], const int32_t c[8][256],
                                               const float *dx, const float *wd,
                                               const float *xs, const float *wm, int64_t g,
                                               int mins)
{
    const __m512 dxv = _mm512_loadu_ps(dx + 8 * g * 16);
    _Pragma("GCC unroll 4")
    for (int q = 0; q < 4; q++) {
        __m512 in[4], m[4];
        _Pragma("GCC unroll 4")
        for (int i = 0; i < 4; i++)
            in[i] = m[i] = _mm512_setzero_ps();
        _Pragma("GCC unroll 8")
        for (int j = 0; j < 8; j++) {
            const int64_t b = 8 * g + j;
            const __m512 xsv = mins ? _mm512_loadu_ps(xs + b * 16) : dxv;
            _Pragma("GCC unroll 4")
            for (int i = 0; i < 4; i++) {
                const int r = 4 * q + i;
                __asm__ volatile("" : : : "memory"); /* as in scale_add */
                __m512 cf = _mm512_cvtepi32_ps(_mm512_loadu_si512((const void *)(c[j] + 16 * r)));
                in[i] = _mm512_fmadd_ps(cf, _mm512_set1_ps(wd[b * 16 + r]), in[i]);
                if (mins)
                    m[i] = _mm512_fmadd_ps(xsv, _mm512_set1_ps(wm[b * 16 + r]), m[i]);
            }
        }
        _Pragma("GCC unroll 4")
        for (int i = 0; i < 4; i++) {
            acc[4 * q + i] = _mm512_fmadd_ps(in[i], dxv, acc[4 * q + i]);
            if (mins)
                acc[4 * q + i] = _mm512_fnmadd_ps(m[i], dxv, acc[4 * q + i]);
        }
    }
}

/* The 16 x 16 block of y at rows r0, tokens t0 .. t0 + m - 1. */
static inline AMX_TARGET void store_block(const qg_shape *s, const __m512 acc[16], int64_t r0,
                                          int64_t t0, int m, float *y)
{
    float out[16][16];
    _Pragma("GCC unroll 16")
    for (int r = 0; r < 16; r++)
        _mm512_storeu_ps(out[r], acc[r]);
    for (int j = 0; j < m; j++) {
        float *o = y + (size_t)(t0 + j) * s->rows + r0;
        for (int r = 0; r < 16; r++)
            o[r] = out[r][j];
    }
}

/* Tiles: A operands (16 weight rows of the panel) 0 and 2, B operands (the
 * 16 tokens of an activation tile) 1 and 3, and two sets of two
 * accumulators, 4-5 and 6-7. DOTS starts the dots of sub-blocks b and b + 1
 * on one set; STORE writes a set out to c. */
#define DOTS(ca, cb, panel, tile, bb, b) do { \
        _tile_loadd(0, (panel) + (b) * (bb), (bb) / 16); \
        _tile_loadd(1, (tile) + (b) * (bb), 64); \
        _tile_zero(ca); \
        _tile_dpbssd(ca, 0, 1); \
        _tile_loadd(2, (panel) + ((b) + 1) * (bb), (bb) / 16); \
        _tile_loadd(3, (tile) + ((b) + 1) * (bb), 64); \
        _tile_zero(cb); \
        _tile_dpbssd(cb, 2, 3); \
    } while (0)
#define STORE(ca, cb, c) do { \
        _tile_stored(ca, (c)[0], 64); \
        _tile_stored(cb, (c)[1], 64); \
    } while (0)

/* Prefetches the next step's share of the next panel's weights into L2. */
typedef struct {
    const uint8_t *p;
    size_t left, step;
} prefetcher;

static inline AMX_TARGET INLINE void prefetch_step(prefetcher *f)
{
    for (size_t l = 0; l < f->step && l < f->left; l += 64)
        _mm_prefetch((const char *)f->p + l, _MM_HINT_T1);
    f->p += f->step;
    f->left = f->left > f->step ? f->left - f->step : 0;
}

/* One 16 x 16 block of y over every sub-block, pipelined over pairs of
 * sub-blocks: in step p the tile unit starts pair p, stores pair p - 1, and
 * AVX-512 scales pair p - 2 (Q8_0/Q4_0) or, once a group of 4 pairs is
 * stored, the group (K-quants), so that nothing waits on a tile's latency. */
static inline AMX_TARGET INLINE void block_amx(const qg_shape *s, const uint8_t *panel,
                                               const uint8_t *tile, __m512 acc[16], int kq,
                                               int mins, prefetcher *f)
{
    const float *wd = qg_scales(s, (uint8_t *)panel), *wm = wd + 16 * s->nsub;
    const float *dx = qg_scales(s, (uint8_t *)tile), *xs = dx + 16 * s->nsub;
    const size_t bb = (size_t)16 * s->sub;
    int32_t c[2][8][256];
    const int64_t pairs = s->nsub / 2; /* K-quants: a multiple of 4 */
    f->step = (f->left / (size_t)(pairs + 1) + 63) & ~(size_t)63;
    for (int64_t p = 0; p < pairs + 2; p++) {
        prefetch_step(f);
        if (p < pairs) {
            if (p & 1)
                DOTS(6, 7, panel, tile, bb, 2 * p);
            else
                DOTS(4, 5, panel, tile, bb, 2 * p);
        }
        if (p >= 1 && p <= pairs) {
            int32_t (*cp)[256] = c[((p - 1) / 4) & 1] + 2 * ((p - 1) % 4);
            if ((p - 1) & 1)
                STORE(6, 7, cp);
            else
                STORE(4, 5, cp);
        }
        if (p < 2)
            continue;
        const int64_t q = p - 2; /* the pair to scale */
        if (!kq) {
            for (int h = 0; h < 2; h++)
                scale_add(acc, c[(q / 4) & 1][2 * (q % 4) + h], dx + (2 * q + h) * 16,
                          wd + (2 * q + h) * 16);
        } else if (q % 4 == 3) {
            group_add(acc, (const int32_t(*)[256])c[(q / 4) & 1], dx, wd, xs, wm, q / 4,
                      mins);
        }
    }
    if (s->nsub & 1) { /* Q8_0/Q4_0 rows of an odd number of blocks */
        const int64_t b = s->nsub - 1;
        _tile_loadd(0, panel + b * bb, bb / 16);
        _tile_loadd(1, tile + b * bb, 64);
        _tile_zero(4);
        _tile_dpbssd(4, 0, 1);
        _tile_stored(4, c[0][0], 64);
        scale_add(acc, c[0][0], dx + b * 16, wd + b * 16);
    }
}

static inline AMX_TARGET INLINE void rows_amx(const qg_shape *s, int64_t r0,
                                              const uint8_t *panel, const uint8_t *tiles,
                                              int64_t t0, int64_t n, float *y, int kq, int mins)
{
    const size_t tb = qg_tile_bytes(s);
    /* the next 16 rows' weights, a slice per token tile */
    const size_t next = r0 + 16 < s->rows ? 16 * s->wrow : 0;
    const uint8_t *nw = s->w + (size_t)(r0 + 16) * s->wrow;
    const int64_t ntiles = (n + 15) / 16;
    for (int64_t j0 = 0; j0 < n; j0 += 16) {
        const size_t lo = next * (size_t)(j0 / 16) / (size_t)ntiles & ~(size_t)63;
        const size_t hi = next * (size_t)(j0 / 16 + 1) / (size_t)ntiles;
        prefetcher f = {nw + lo, hi > lo ? hi - lo : 0, 0};
        __m512 acc[16];
        _Pragma("GCC unroll 16")
        for (int r = 0; r < 16; r++)
            acc[r] = _mm512_setzero_ps();
        block_amx(s, panel, tiles + (size_t)(j0 / 16) * tb, acc, kq, mins, &f);
        store_block(s, acc, r0, t0 + j0, n - j0 < 16 ? (int)(n - j0) : 16, y);
    }
}

AMX_TARGET void herd_qgemm_rows_amx(const qg_shape *s, int64_t r0, const uint8_t *panel,
                                    const uint8_t *tiles, int64_t t0, int64_t n, float *y)
{
    if (s->t == HERD_QTYPE_Q4_K)
        rows_amx(s, r0, panel, tiles, t0, n, y, 1, 1);
    else if (s->t == HERD_QTYPE_Q6_K)
        rows_amx(s, r0, panel, tiles, t0, n, y, 1, 0);
    else
        rows_amx(s, r0, panel, tiles, t0, n, y, 0, 0);
}

#else
int herd_qgemm_amx_init(void) { return 0; }
void herd_qgemm_amx_begin(const qg_shape *s) { (void)s; }
void herd_qgemm_amx_end(void) {}
void herd_qgemm_panel_amx(const qg_shape *s, int64_t r0, uint8_t *panel)
{
    herd_qgemm_panel_scalar(s, r0, panel);
}
void herd_qgemm_rows_amx(const qg_shape *s, int64_t r0, const uint8_t *panel,
                         const uint8_t *tiles, int64_t t0, int64_t n, float *y)
{
    herd_qgemm_rows_scalar(s, r0, panel, tiles, t0, n, y);
}
void herd_qgemm_quant_amx(const qg_shape *s, const float *x, int8_t *q, float *dx, float *xs)
{
    (void)s; (void)x; (void)q; (void)dx; (void)xs; /* never called: no AMX here */
}
#endif

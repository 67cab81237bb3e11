/* AVX-512 kernels of the few-token products (gemv.h): 4 weight rows at a
 * time against up to 4 tokens at a time, each weight block unpacked once
 * and multiplied with every token's activations while it is in registers;
 * a call's rows stream through once, each row prefetched well ahead. Q4_0 and Q8_0 use vpdpbusd (VNNI) on the layout
 * herd_gemv_prepare writes, their blocks unpacked with word permutes or,
 * where the CPU has VBMI, byte permutes; F16 converts in registers
 * (vcvtph2ps). */
#include "quant/gemv.h"
#include "quant/quant_impl.h"
#include "base/half.h"
#include "kernels/order.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include "quant/dot_x86.h"

#define TGT HERD_TARGET_AVX512VNNI
#define TGT_VBMI __attribute__((target( \
    "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi")))
#define INLINE static inline __attribute__((always_inline))
#define ROWS 4
#define TOKENS 4
/* Before the tiles' row and token loops: unrolled, their vectors stay in
 * registers (GCC -O2 kept the row loop and the products went through the
 * stack: Q8_0 24 -> 32 GB/s in cache, TinyLlama Q8_0 / Q4_0 decoding +4%). */
#define UNROLL _Pragma("GCC unroll 4")

/* Bytes ahead of the block being multiplied that each row prefetches
 * (TinyLlama-shape Q4_0 decoding: 4 KiB gives 10% less than 16 KiB, none
 * 30% less, 8 to 64 KiB and prefetches to L2 alike); never past the end of
 * the rows a call was given. */
#define PF_DIST 16384
#define PF_ROW(p, n) \
    do { if (end - (p) > PF_DIST) prefetch_span((p) + PF_DIST, (n)); } while (0)

/* Prefetches [p, p + bytes) into the cache. */
INLINE void prefetch_span(const char *p, int bytes)
{
    for (int o = 0; o < bytes; o += 64)
        _mm_prefetch(p + o, _MM_HINT_T0);
}

/* Stores the R x T sums (rows r, tokens t) to y[t * ys + r]. */
#define STORE(acc, y, ys, R, T) \
    for (int r_ = 0; r_ < (R); r_++) \
        for (int t_ = 0; t_ < (T); t_++) \
            (y)[t_ * (ys) + r_] = _mm512_reduce_add_ps((acc)[r_][t_])

/* ---- Q4_0: 4 blocks (72 bytes a row) per step ---- */

/* A step's 72 bytes as two overlapping loads, A at byte 0 and B at byte 8,
 * and the int16 words that vpermt2w picks from them: block k's quants are
 * words 9k + 1 .. 9k + 8 (the last block's from B), its scale word 9k of A.
 * The *8 tables are the same picks in bytes, for vpermt2b (AVX-512 VBMI:
 * one uop where the word permute takes three). */
static const uint16_t q4_0_qidx[32] = {
    1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17,
    19, 20, 21, 22, 23, 24, 25, 26, 56, 57, 58, 59, 60, 61, 62, 63};
static const uint8_t q4_0_qidx8[64] = {
    2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
    20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
    38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127};
/* One row's block scales over 4 float lanes each (the lanes order). */
static const uint16_t q4_0_didx_row[32] = {0, 0, 0, 0, 9, 9, 9, 9, 18, 18, 18, 18, 27, 27, 27, 27};
/* Two rows' scales for ROWS4_SCALES (the first row's A, then the second's):
 * words 4j and 4j + 2 the first row's block j scale, 4j + 1 and 4j + 3 the
 * second's. */
static const uint16_t q4_0_didx[32] = {0, 32, 0, 32, 9, 41, 9, 41,
                                       18, 50, 18, 50, 27, 59, 27, 59};
static const uint8_t q4_0_didx8[64] = {
    0, 1, 64, 65, 0, 1, 64, 65, 18, 19, 82, 83, 18, 19, 82, 83,
    36, 37, 100, 101, 36, 37, 100, 101, 54, 55, 118, 119, 54, 55, 118, 119};

/* The order of the sums (gemv.h): each row's blocks one after another,
 * acc = fma(float(block's integer sum), weight scale * activation scale, acc).
 * A step's integer products of 4 rows, each block's over 4 lanes (Q4_0) or 8
 * (Q8_0), are reduced to one sum per (row, block) by a transposing tree:
 * 128-bit lane k of the result holds the 4 rows' sums of the step's k-th
 * 128-bit lane of products. */
INLINE TGT __m512i rows4_lane_sums(__m512i p0, __m512i p1, __m512i p2, __m512i p3)
{
    const __m512i u01 = _mm512_add_epi32(_mm512_unpacklo_epi32(p0, p1),
                                         _mm512_unpackhi_epi32(p0, p1));
    const __m512i u23 = _mm512_add_epi32(_mm512_unpacklo_epi32(p2, p3),
                                         _mm512_unpackhi_epi32(p2, p3));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(u01, u23), _mm512_unpackhi_epi64(u01, u23));
}

/* Four rows' block scales in the layout rows4_lane_sums gives (lane 4j + r:
 * row r, block j), from the rows' steps at b, b + wrow, ...: two pair
 * permutes (didx) and a blend that takes words 4j + 2, 4j + 3 from rows 2
 * and 3 (one conversion a step where a permute and a conversion a row cost
 * TinyLlama Q4_0 decoding 10%). */
#define ROWS4_SCALES(PERM2, b, wrow, didx) \
    _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_mask_blend_epi16( \
        0xcccccccc, PERM2(_mm512_loadu_si512(b), didx, _mm512_loadu_si512((b) + (wrow))), \
        PERM2(_mm512_loadu_si512((b) + 2 * (wrow)), didx, \
              _mm512_loadu_si512((b) + 3 * (wrow))))))

INLINE TGT __m128 lane128(__m512 v, int j)
{
    switch (j) {
    case 0: return _mm512_castps512_ps128(v);
    case 1: return _mm512_extractf32x4_ps(v, 1);
    case 2: return _mm512_extractf32x4_ps(v, 2);
    default: return _mm512_extractf32x4_ps(v, 3);
    }
}

/* One step of the blocks order for T tokens: token t's 4 rows of integer
 * products p[t] reduced to block sums and chained into acc[t] (rows 0..3),
 * block after block, acc = fma(sum, dw4 * dx, acc); dw4: ROWS4_SCALES,
 * dx: token 0's activation scales, token t's ds bytes further. Q8_0
 * (pairs): a block spans 128-bit lanes 2k and 2k + 1. */
INLINE TGT void blocks_step(__m128 *acc, __m512i p[TOKENS][ROWS], const __m512 dw4,
                            const char *dx, size_t ds, const int T, const int pairs)
{
    for (int t = 0; t < T; t++) {
        __m512i S = rows4_lane_sums(p[t][0], p[t][1], p[t][2], p[t][3]);
        if (pairs)
            S = _mm512_add_epi32(S, _mm512_shuffle_i32x4(S, S, _MM_SHUFFLE(2, 3, 0, 1)));
        const __m512 sf = _mm512_cvtepi32_ps(S);
        const __m512 d = _mm512_mul_ps(dw4, _mm512_loadu_ps((const float *)(dx + t * ds)));
        for (int j = 0; j < 4; j += pairs ? 2 : 1)
            acc[t] = _mm_fmadd_ps(lane128(sf, j), lane128(d, j), acc[t]);
    }
}

/* The tile for R == ROWS (4) rows; R == 1 rows go to the scalar twin. */
#define Q4_0_TILE(name, target, PERM2, QI, DI) \
INLINE target void name(float *y, int64_t ys, const char *w, size_t wrow, const char *xa, \
                          size_t xs, int64_t cols, const char *end, const int T) \
{ \
    const int64_t steps = cols / 128; \
    const __m512i m4 = _mm512_set1_epi8(0x0f); \
    const __m512i qidx = _mm512_loadu_si512(QI), didx = _mm512_loadu_si512(DI); \
    __m128 acc[TOKENS]; \
    for (int t = 0; t < T; t++) \
        acc[t] = _mm_setzero_ps(); \
    for (int64_t g = 0; g < steps; g++) { \
        __m512i p[TOKENS][ROWS]; \
        const __m512 dw4 = ROWS4_SCALES(PERM2, w + g * 72, wrow, didx); \
        UNROLL for (int r = 0; r < ROWS; r++) { \
            const char *b = w + (size_t)r * wrow + g * 72; \
            PF_ROW(b, 72); \
            const __m512i A = _mm512_loadu_si512(b), B = _mm512_loadu_si512(b + 8); \
            const __m512i raw = PERM2(A, qidx, B); \
            __m512i lo = _mm512_and_si512(raw, m4); \
            __m512i hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4); \
            UNROLL for (int t = 0; t < T; t++) { \
                const herd_gemv_q4_0_act *a = (const herd_gemv_q4_0_act *)(xa + t * xs) + g; \
                __m512i q = _mm512_dpbusd_epi32(_mm512_loadu_si512(a->corr), lo, \
                                                _mm512_loadu_si512(a->lo)); \
                p[t][r] = _mm512_dpbusd_epi32(q, hi, _mm512_loadu_si512(a->hi)); \
            } \
        } \
        blocks_step(acc, p, dw4, (const char *)((const herd_gemv_q4_0_act *)xa + g)->d, xs, T, \
                    0); \
    } \
    for (int t = 0; t < T; t++) \
        _mm_storeu_ps(y + t * ys, acc[t]); \
}
Q4_0_TILE(q4_0_tile, TGT, _mm512_permutex2var_epi16, q4_0_qidx, q4_0_didx)
Q4_0_TILE(q4_0_tile_vbmi, TGT_VBMI, _mm512_permutex2var_epi8, q4_0_qidx8, q4_0_didx8)

/* ---- Q8_0: 2 blocks (68 bytes a row) per step ---- */

/* As for Q4_0, with B at byte 4: block k's quants are words 17k + 1 ..
 * 17k + 16 (the last two from B), its scale word 17k. */
static const uint16_t q8_0_qidx[32] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 62, 63};
static const uint8_t q8_0_qidx8[64] = {
    2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
    18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33,
    96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127};
/* One row's block scales over 8 float lanes each (the lanes order). */
static const uint16_t q8_0_didx_row[32] = {0, 0, 0, 0, 0, 0, 0, 0,
                                           17, 17, 17, 17, 17, 17, 17, 17};
/* As q4_0_didx, block k's scale (word 17k) in words 4j + r, j = 2k, 2k + 1. */
static const uint16_t q8_0_didx[32] = {0, 32, 0, 32, 0, 32, 0, 32,
                                       17, 49, 17, 49, 17, 49, 17, 49};
static const uint8_t q8_0_didx8[64] = {
    0, 1, 64, 65, 0, 1, 64, 65, 0, 1, 64, 65, 0, 1, 64, 65,
    34, 35, 98, 99, 34, 35, 98, 99, 34, 35, 98, 99, 34, 35, 98, 99};

#define Q8_0_TILE(name, target, PERM2, QI, DI) \
INLINE target void name(float *y, int64_t ys, const char *w, size_t wrow, const char *xa, \
                          size_t xs, int64_t cols, const char *end, const int T) \
{ \
    const int64_t steps = cols / 64; \
    const __m512i bias = _mm512_set1_epi8((char)0x80); \
    const __m512i qidx = _mm512_loadu_si512(QI), didx = _mm512_loadu_si512(DI); \
    __m128 acc[TOKENS]; \
    for (int t = 0; t < T; t++) \
        acc[t] = _mm_setzero_ps(); \
    for (int64_t g = 0; g < steps; g++) { \
        __m512i p[TOKENS][ROWS]; \
        const __m512 dw4 = ROWS4_SCALES(PERM2, w + g * 68, wrow, didx); \
        UNROLL for (int r = 0; r < ROWS; r++) { \
            const char *b = w + (size_t)r * wrow + g * 68; \
            PF_ROW(b, 68); \
            const __m512i A = _mm512_loadu_si512(b), B = _mm512_loadu_si512(b + 4); \
            __m512i u = _mm512_xor_si512(PERM2(A, qidx, B), bias); \
            UNROLL for (int t = 0; t < T; t++) { \
                const herd_gemv_q8_0_act *a = (const herd_gemv_q8_0_act *)(xa + t * xs) + g; \
                p[t][r] = _mm512_dpbusd_epi32(_mm512_loadu_si512(a->corr), u, \
                                              _mm512_loadu_si512(a->qs)); \
            } \
        } \
        blocks_step(acc, p, dw4, (const char *)((const herd_gemv_q8_0_act *)xa + g)->d, xs, T, \
                    1); \
    } \
    for (int t = 0; t < T; t++) \
        _mm_storeu_ps(y + t * ys, acc[t]); \
}
Q8_0_TILE(q8_0_tile, TGT, _mm512_permutex2var_epi16, q8_0_qidx, q8_0_didx)
Q8_0_TILE(q8_0_tile_vbmi, TGT_VBMI, _mm512_permutex2var_epi8, q8_0_qidx8, q8_0_didx8)

/* ---- the lanes order (gemv.h): 8 lanes a row, blocks fed in turn ---- */

/* Lanes 0-7 and 8-15 of v fused into 8 lanes: acc = fma(d lo, v lo, acc),
 * then the same with the high halves. */
INLINE TGT __m256 lanes_feed2(__m256 acc, __m512 d, __m512 v)
{
    acc = _mm256_fmadd_ps(_mm512_castps512_ps256(d), _mm512_castps512_ps256(v), acc);
    return _mm256_fmadd_ps(_mm512_extractf32x8_ps(d, 1), _mm512_extractf32x8_ps(v, 1), acc);
}

/* hsum_float_8, as gemv_scalar.c's hsum8. */
INLINE TGT float lanes_sum8(__m256 a)
{
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    return _mm_cvtss_f32(_mm_add_ss(r, _mm_movehdup_ps(r)));
}

/* y[t * ys + r] = lanes_sum8(acc[r][t]) for the tile's rows and T tokens. */
INLINE TGT void lanes_store(float *y, int64_t ys, __m256 acc[ROWS][TOKENS], const int T)
{
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < T; t++)
            y[t * ys + r] = lanes_sum8(acc[r][t]);
}

/* Q8_0: |w| times x with w's sign (exact per-lane sums, as llama.cpp's
 * mul_sum_i8_pairs), 2 blocks a step. */
INLINE TGT void q8_0_lanes_tile(float *y, int64_t ys, const char *w, size_t wrow, const char *xa,
                            size_t xs, int64_t cols, const char *end, const int T)
{
    const int64_t steps = cols / 64;
    const __m512i qidx = _mm512_loadu_si512(q8_0_qidx), didx = _mm512_loadu_si512(q8_0_didx_row);
    __m256 acc[ROWS][TOKENS];
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm256_setzero_ps();
    for (int64_t g = 0; g < steps; g++) {
        UNROLL for (int r = 0; r < ROWS; r++) {
            const char *b = w + (size_t)r * wrow + g * 68;
            PF_ROW(b, 68);
            const __m512i A = _mm512_loadu_si512(b), B = _mm512_loadu_si512(b + 4);
            const __m512i q = _mm512_permutex2var_epi16(A, qidx, B), aq = _mm512_abs_epi8(q);
            const __mmask64 neg = _mm512_movepi8_mask(q);
            const __m512 dw =
                _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(didx, A)));
            UNROLL for (int t = 0; t < T; t++) {
                const herd_gemv_q8_0_act *a = (const herd_gemv_q8_0_act *)(xa + t * xs) + g;
                const __m512i x = _mm512_loadu_si512(a->qs);
                const __m512i sx = _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x);
                const __m512 p = _mm512_cvtepi32_ps(
                    _mm512_dpbusd_epi32(_mm512_setzero_si512(), aq, sx));
                acc[r][t] = lanes_feed2(acc[r][t], _mm512_mul_ps(dw, _mm512_loadu_ps(a->d)), p);
            }
        }
    }
    lanes_store(y, ys, acc, T);
}

/* Q4_0: the nibbles' products (lo: elements 0-15, hi: 16-31 of each block,
 * 4 a lane) less 8 times the activations' (per lane, once a token), 4
 * blocks a step; block k's 8 lanes are 128-bit lane k of lo, then of hi. */
INLINE TGT void q4_0_lanes_tile(float *y, int64_t ys, const char *w, size_t wrow, const char *xa,
                            size_t xs, int64_t cols, const char *end, const int T)
{
    const int64_t steps = cols / 128;
    const __m512i m4 = _mm512_set1_epi8(0x0f), eight = _mm512_set1_epi8(8);
    const __m512i qidx = _mm512_loadu_si512(q4_0_qidx), didx = _mm512_loadu_si512(q4_0_didx_row);
    const __m512i pick01 = _mm512_set_epi32(23, 22, 21, 20, 7, 6, 5, 4,
                                            19, 18, 17, 16, 3, 2, 1, 0);
    const __m512i pick23 = _mm512_set_epi32(31, 30, 29, 28, 15, 14, 13, 12,
                                            27, 26, 25, 24, 11, 10, 9, 8);
    const __m512i d01 = _mm512_set_epi32(4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i d23 = _mm512_set_epi32(12, 12, 12, 12, 12, 12, 12, 12, 8, 8, 8, 8, 8, 8, 8, 8);
    __m256 acc[ROWS][TOKENS];
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < T; t++)
            acc[r][t] = _mm256_setzero_ps();
    for (int64_t g = 0; g < steps; g++) {
        __m512i clo[TOKENS], chi[TOKENS];
        for (int t = 0; t < T; t++) {
            const herd_gemv_q4_0_act *a = (const herd_gemv_q4_0_act *)(xa + t * xs) + g;
            clo[t] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(
                _mm512_setzero_si512(), eight, _mm512_loadu_si512(a->lo)));
            chi[t] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(
                _mm512_setzero_si512(), eight, _mm512_loadu_si512(a->hi)));
        }
        UNROLL for (int r = 0; r < ROWS; r++) {
            const char *b = w + (size_t)r * wrow + g * 72;
            PF_ROW(b, 72);
            const __m512i A = _mm512_loadu_si512(b), B = _mm512_loadu_si512(b + 8);
            const __m512i raw = _mm512_permutex2var_epi16(A, qidx, B);
            const __m512i lo = _mm512_and_si512(raw, m4);
            const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
            const __m512 dw =
                _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(didx, A)));
            UNROLL for (int t = 0; t < T; t++) {
                const herd_gemv_q4_0_act *a = (const herd_gemv_q4_0_act *)(xa + t * xs) + g;
                const __m512 pl = _mm512_cvtepi32_ps(
                    _mm512_dpbusd_epi32(clo[t], lo, _mm512_loadu_si512(a->lo)));
                const __m512 ph = _mm512_cvtepi32_ps(
                    _mm512_dpbusd_epi32(chi[t], hi, _mm512_loadu_si512(a->hi)));
                const __m512 d = _mm512_mul_ps(dw, _mm512_loadu_ps(a->d));
                acc[r][t] = lanes_feed2(acc[r][t], _mm512_permutexvar_ps(d01, d),
                                        _mm512_permutex2var_ps(pl, pick01, ph));
                acc[r][t] = lanes_feed2(acc[r][t], _mm512_permutexvar_ps(d23, d),
                                        _mm512_permutex2var_ps(pl, pick23, ph));
            }
        }
    }
    lanes_store(y, ys, acc, T);
}

/* ---- F16 and F32: 16 values a row per step, a masked tail ---- */

#define TGT512 HERD_TARGET_AVX512

INLINE TGT512 __m512 f16_load(const char *p, __mmask16 k)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, p));
}

INLINE TGT512 __m512 f32_load(const char *p, __mmask16 k) { return _mm512_maskz_loadu_ps(k, p); }

#define FLOAT_TILE(name, load, esize) \
INLINE TGT512 void name(float *y, int64_t ys, const char *w, size_t wrow, const char *xa, \
                     size_t xs, int64_t cols, const char *end, const int R, const int T) \
{ \
    __m512 acc[ROWS][TOKENS]; \
    for (int r = 0; r < R; r++) \
        for (int t = 0; t < T; t++) \
            acc[r][t] = _mm512_setzero_ps(); \
    for (int64_t c = 0; c < cols; c += 16) { \
        const __mmask16 k = cols - c >= 16 ? 0xffff : (__mmask16)((1u << (cols - c)) - 1); \
        for (int r = 0; r < R; r++) { \
            PF_ROW(w + (size_t)r * wrow + c * (esize), 16 * (esize)); \
            __m512 wv = load(w + (size_t)r * wrow + c * (esize), k); \
            for (int t = 0; t < T; t++) \
                acc[r][t] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(k, xa + t * xs + c * 4), \
                                            acc[r][t]); \
        } \
    } \
    STORE(acc, y, ys, R, T); \
}
FLOAT_TILE(f16_tile, f16_load, 2)
FLOAT_TILE(f32_tile, f32_load, 4)

/* ---- activations: gemv_scalar.c's layout, the same bytes ---- */

/* One block of 32 activations to Q8_0 (quants to q, their sum returned),
 * as gemv_scalar.c's q8_block: the same float operations, rounded half to
 * even as nearbyintf does. */
INLINE TGT512 int q8_block(const float *x, int8_t *q, float *d)
{
    const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    *d = herd_f16_table[herd_f32_to_f16(amax / 127.0f)];
    const __m512 s = _mm512_set1_ps(id);
    const int r = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    __m512i q0 = _mm512_cvtps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(x0, s), r));
    __m512i q1 = _mm512_cvtps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(x1, s), r));
    _mm_storeu_si128((__m128i *)q, _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtsepi32_epi8(q1));
    return _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
}

TGT512 void herd_gemv_prepare_avx512(herd_qtype wtype, const float *x, int64_t cols, void *xa)
{
    if (wtype == HERD_QTYPE_Q4_0) {
        herd_gemv_q4_0_act *a = xa;
        for (int64_t g = 0; g < cols / 128; g++, a++) {
            memset(a->corr, 0, sizeof a->corr);
            for (int k = 0; k < 4; k++) {
                int8_t q[32];
                float d;
                a->corr[4 * k] = -8 * q8_block(x + 128 * g + 32 * k, q, &d);
                memcpy(a->lo + 16 * k, q, 16);
                memcpy(a->hi + 16 * k, q + 16, 16);
                _mm_storeu_ps(a->d + 4 * k, _mm_set1_ps(d));
            }
        }
    } else if (wtype == HERD_QTYPE_Q8_0) {
        herd_gemv_q8_0_act *a = xa;
        for (int64_t g = 0; g < cols / 64; g++, a++) {
            memset(a->corr, 0, sizeof a->corr);
            for (int k = 0; k < 2; k++) {
                float d;
                a->corr[8 * k] = -128 * q8_block(x + 64 * g + 32 * k, a->qs + 32 * k, &d);
                _mm256_storeu_ps(a->d + 8 * k, _mm256_set1_ps(d));
            }
        }
    } else {
        memcpy(xa, x, (size_t)cols * sizeof(float));
    }
}

/* The first PF_DIST bytes of a call's rows, which no row step prefetches,
 * at once. */
INLINE void prefetch_head(const char *w, const char *end)
{
    for (const char *p = w; p < end && p < w + PF_DIST; p += 64)
        _mm_prefetch(p, _MM_HINT_T1);
}

/* Every (rows, tokens) tile of a kernel: ROWS rows (then the rest one by
 * one) times TOKENS tokens at a time, the tile sizes known at compile time. */
#define KERNEL(name, tile, target) \
target void name(float *y, int64_t ys, const void *vw, size_t wrow, const void *vx, size_t xs, \
              int64_t rows, int64_t cols, int n) \
{ \
    const char *w = vw, *xa = vx, *end = w + (size_t)rows * wrow; \
    prefetch_head(w, end); \
    for (int64_t r = 0; r < rows;) { \
        const int R = rows - r >= ROWS ? ROWS : 1; \
        for (int t = 0; t < n; t += TOKENS) { \
            const int T = n - t < TOKENS ? n - t : TOKENS; \
            float *yo = y + t * ys + r; \
            const char *wo = w + (size_t)r * wrow, *xo = xa + t * xs; \
            if (R == ROWS) { \
                switch (T) { \
                case 1: tile(yo, ys, wo, wrow, xo, xs, cols, end, ROWS, 1); break; \
                case 2: tile(yo, ys, wo, wrow, xo, xs, cols, end, ROWS, 2); break; \
                case 3: tile(yo, ys, wo, wrow, xo, xs, cols, end, ROWS, 3); break; \
                default: tile(yo, ys, wo, wrow, xo, xs, cols, end, ROWS, 4); break; \
                } \
            } else { \
                switch (T) { \
                case 1: tile(yo, ys, wo, wrow, xo, xs, cols, end, 1, 1); break; \
                case 2: tile(yo, ys, wo, wrow, xo, xs, cols, end, 1, 2); break; \
                case 3: tile(yo, ys, wo, wrow, xo, xs, cols, end, 1, 3); break; \
                default: tile(yo, ys, wo, wrow, xo, xs, cols, end, 1, 4); break; \
                } \
            } \
        } \
        r += R; \
    } \
}
KERNEL(f16_by16, f16_tile, static TGT512)
KERNEL(herd_gemv_f32_avx512, f32_tile, TGT512)

/* F16 rows whose width is not a multiple of 16, in ggml_vec_dot_f16's
 * order (gemv_scalar.c's f16_dot): 4 x 16 lanes over the cols & ~63 first,
 * folded as (0 + 2) + (1 + 3) and summed into a double with the rest. */
static TGT512 float f16_dot64(const char *w, const float *x, int64_t cols)
{
    const int64_t np = cols & ~(int64_t)63;
    __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
    for (int64_t i = 0; i < np; i += 64)
        for (int j = 0; j < 4; j++)
            s[j] = _mm512_fmadd_ps(f16_load(w + 2 * (i + 16 * j), 0xffff),
                                   _mm512_loadu_ps(x + i + 16 * j), s[j]);
    double sum = herd_sum16_avx512(_mm512_add_ps(_mm512_add_ps(s[0], s[2]),
                                                 _mm512_add_ps(s[1], s[3])));
    const uint16_t *h = (const uint16_t *)w;
    for (int64_t i = np; i < cols; i++)
        sum += (double)(_cvtsh_ss(h[i]) * x[i]);
    return (float)sum;
}

/* F16 in llama.cpp's order for the width (gemv.h): tinyBLAS's 16 lanes
 * (f16_tile) where cols is a multiple of 16, else ggml_vec_dot_f16's. */
TGT512 void herd_gemv_f16_avx512(float *y, int64_t ys, const void *w, size_t wrow,
                                 const void *xa, size_t xs, int64_t rows, int64_t cols, int n)
{
    if (cols % 16 == 0) {
        f16_by16(y, ys, w, wrow, xa, xs, rows, cols, n);
        return;
    }
    for (int t = 0; t < n; t++)
        for (int64_t r = 0; r < rows; r++)
            y[t * ys + r] = f16_dot64((const char *)w + r * wrow,
                                      (const float *)((const char *)xa + t * xs), cols);
}

/* Q4_0 and Q8_0: ROWS rows times TOKENS tokens at a time; the last rows %
 * ROWS rows through the scalar twin, which sums in the same order. */
#define KERNEL_Q(name, tile, target, twin) \
target void name(float *y, int64_t ys, const void *vw, size_t wrow, const void *vx, size_t xs, \
              int64_t rows, int64_t cols, int n) \
{ \
    const char *w = vw, *xa = vx, *end = w + (size_t)rows * wrow; \
    prefetch_head(w, end); \
    int64_t r = 0; \
    for (; rows - r >= ROWS; r += ROWS) \
        for (int t = 0; t < n; t += TOKENS) { \
            const int T = n - t < TOKENS ? n - t : TOKENS; \
            float *yo = y + t * ys + r; \
            const char *wo = w + (size_t)r * wrow, *xo = xa + t * xs; \
            switch (T) { \
            case 1: tile(yo, ys, wo, wrow, xo, xs, cols, end, 1); break; \
            case 2: tile(yo, ys, wo, wrow, xo, xs, cols, end, 2); break; \
            case 3: tile(yo, ys, wo, wrow, xo, xs, cols, end, 3); break; \
            default: tile(yo, ys, wo, wrow, xo, xs, cols, end, 4); break; \
            } \
        } \
    if (r < rows) \
        twin(y + r, ys, w + (size_t)r * wrow, wrow, xa, xs, rows - r, cols, n); \
}
KERNEL_Q(herd_gemv_q4_0_avx512vnni, q4_0_tile, TGT, herd_gemv_q4_0_scalar)
KERNEL_Q(herd_gemv_q8_0_avx512vnni, q8_0_tile, TGT, herd_gemv_q8_0_scalar)
KERNEL_Q(herd_gemv_q4_0_avx512vbmi, q4_0_tile_vbmi, TGT_VBMI, herd_gemv_q4_0_scalar)
KERNEL_Q(herd_gemv_q8_0_avx512vbmi, q8_0_tile_vbmi, TGT_VBMI, herd_gemv_q8_0_scalar)
KERNEL_Q(herd_gemv_q4_0_lanes_avx512vnni, q4_0_lanes_tile, TGT, herd_gemv_q4_0_lanes_scalar)
KERNEL_Q(herd_gemv_q8_0_lanes_avx512vnni, q8_0_lanes_tile, TGT, herd_gemv_q8_0_lanes_scalar)

#endif

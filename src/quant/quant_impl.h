/* Internals of the quant layer: rounding helpers shared by the quantizers
 * and the table of dot-product kernels per SIMD level. */
#ifndef HERD_QUANT_IMPL_H
#define HERD_QUANT_IMPL_H
#include "quant/quant.h"
#include <stdint.h>
#include <string.h>

/* llama.cpp's nearest_int: round to nearest, ties to even, through the
 * float mantissa; |f| must stay below 2^22. */
static inline int herd_nearest_int(float f)
{
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

/* (int8_t)f as x86 computes it (cvttss2si, then the low byte), but defined
 * for every f: NaN and values beyond int32 give 0x80000000, whose low byte
 * is 0. Only an absurd scale (1/d overflowing) gets there. */
static inline int8_t herd_f32_to_i8_trunc(float f)
{
    int32_t t = (f > -2147483648.f && f < 2147483648.f) ? (int32_t)f : INT32_MIN;
    return (int8_t)(uint8_t)(uint32_t)t;
}

/* Every f16 as float, filled before any dot-product kernel is handed out
 * (simd.c): a load is cheaper than a conversion in the per-32 kernels. */
extern float herd_f16_table[1 << 16];

/* Scalar kernels (dot_scalar.c). */
float herd_dot_q8_0_scalar(int64_t n, const void *w, const void *x);
float herd_dot_q4_0_scalar(int64_t n, const void *w, const void *x);
float herd_dot_q4_K_scalar(int64_t n, const void *w, const void *x);
float herd_dot_q6_K_scalar(int64_t n, const void *w, const void *x);
float herd_dot_f32_scalar(int64_t n, const void *w, const void *x);
float herd_dot_f16_scalar(int64_t n, const void *w, const void *x);
float herd_dot_bf16_scalar(int64_t n, const void *w, const void *x);

/* AVX2 + FMA + F16C (dot_avx2.c). */
float herd_dot_q8_0_avx2(int64_t n, const void *w, const void *x);
float herd_dot_q4_0_avx2(int64_t n, const void *w, const void *x);
float herd_dot_q4_K_avx2(int64_t n, const void *w, const void *x);
float herd_dot_q6_K_avx2(int64_t n, const void *w, const void *x);
float herd_dot_f32_avx2(int64_t n, const void *w, const void *x);
float herd_dot_f16_avx2(int64_t n, const void *w, const void *x);
/* Row conversions to float (dequant_avx2.c), the scalar ones' twins. */
void herd_f16_to_float_avx2(const void *s, float *d, int64_t n);
void herd_dequantize_q8_0_avx2(const void *x, float *y, int64_t n);
void herd_dequantize_q4_0_avx2(const void *x, float *y, int64_t n);
void herd_dequantize_q4_K_avx2(const void *x, float *y, int64_t n);
void herd_dequantize_q6_K_avx2(const void *x, float *y, int64_t n);
float herd_dot_bf16_avx2(int64_t n, const void *w, const void *x);

/* AVX-512 F/BW/VL/DQ (dot_avx512.c; Q8_0, Q4_0 and Q4_K use the AVX2 ones), and
 * with VNNI (dot_avx512vnni.c; the float ones use the AVX-512 ones). */
float herd_dot_q6_K_avx512(int64_t n, const void *w, const void *x);
float herd_dot_f32_avx512(int64_t n, const void *w, const void *x);
float herd_dot_f16_avx512(int64_t n, const void *w, const void *x);
float herd_dot_bf16_avx512(int64_t n, const void *w, const void *x);
float herd_dot_q8_0_avx512vnni(int64_t n, const void *w, const void *x);
float herd_dot_q4_0_avx512vnni(int64_t n, const void *w, const void *x);
float herd_dot_q4_K_avx512vnni(int64_t n, const void *w, const void *x);
float herd_dot_q6_K_avx512vnni(int64_t n, const void *w, const void *x);

#endif

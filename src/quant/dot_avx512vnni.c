/* AVX-512 VNNI dot products: dot_avx512_body.h with vpdpwssd (int16 pairs)
 * in place of multiply-add-add, and Q8_0 / Q4_0 with vpdpbusd on ymm. */
#include "quant/quant_impl.h"
#include "base/half.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include "quant/dot_x86.h"

#define AVX512_NAME(t) herd_dot_##t##_avx512vnni
#define AVX512_TARGET HERD_TARGET_AVX512VNNI
#define AVX512_VNNI 1
#define MADD_ADD(acc, p, s) _mm512_dpwssd_epi32((acc), (p), (s))
#define MADD_ADD256(acc, p, s) _mm256_dpwssd_epi32((acc), (p), (s))
#include "quant/dot_avx512_body.h"

#endif

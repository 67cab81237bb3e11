/* The table of quantized types: sizes, row conversions and the dot
 * product at the active SIMD level. */
#include "quant/quant_impl.h"
#include "base/half.h"
#include <pthread.h>

static void f32_to_float(const void *s, float *d, int64_t n) { memcpy(d, s, (size_t)n * 4); }
static void f32_from_float(const float *s, void *d, int64_t n) { memcpy(d, s, (size_t)n * 4); }

static void f16_to_float(const void *s, float *d, int64_t n)
{
    const uint16_t *h = s;
    for (int64_t i = 0; i < n; i++)
        d[i] = herd_f16_to_f32(h[i]);
}

static void f16_from_float(const float *s, void *d, int64_t n)
{
    uint16_t *h = d;
    for (int64_t i = 0; i < n; i++)
        h[i] = herd_f32_to_f16(s[i]);
}

static void bf16_to_float(const void *s, float *d, int64_t n)
{
    const uint16_t *h = s;
    for (int64_t i = 0; i < n; i++)
        d[i] = herd_bf16_to_f32(h[i]);
}

static void bf16_from_float(const float *s, void *d, int64_t n)
{
    uint16_t *h = d;
    for (int64_t i = 0; i < n; i++)
        h[i] = herd_f32_to_bf16(s[i]);
}

enum { N_TYPES = 8 };
static herd_qtraits table[N_TYPES] = {
    {"f32", 1, 4, f32_to_float, f32_from_float, NULL, HERD_QTYPE_F32},
    {"f16", 1, 2, f16_to_float, f16_from_float, NULL, HERD_QTYPE_F32},
    {"bf16", 1, 2, bf16_to_float, bf16_from_float, NULL, HERD_QTYPE_F32},
    {"q4_0", HERD_QK4_0, sizeof(herd_block_q4_0), herd_dequantize_q4_0, herd_quantize_q4_0,
     NULL, HERD_QTYPE_Q8_0},
    {"q8_0", HERD_QK8_0, sizeof(herd_block_q8_0), herd_dequantize_q8_0, herd_quantize_q8_0,
     NULL, HERD_QTYPE_Q8_0},
    {"q4_K", HERD_QK_K, sizeof(herd_block_q4_K), herd_dequantize_q4_K, herd_quantize_q4_K,
     NULL, HERD_QTYPE_Q8_K},
    {"q6_K", HERD_QK_K, sizeof(herd_block_q6_K), herd_dequantize_q6_K, herd_quantize_q6_K,
     NULL, HERD_QTYPE_Q8_K},
    {"q8_K", HERD_QK_K, sizeof(herd_block_q8_K), herd_dequantize_q8_K, herd_quantize_q8_K,
     NULL, HERD_QTYPE_Q8_K},
};
static const herd_qtype ids[N_TYPES] = {
    HERD_QTYPE_F32, HERD_QTYPE_F16, HERD_QTYPE_BF16, HERD_QTYPE_Q4_0,
    HERD_QTYPE_Q8_0, HERD_QTYPE_Q4_K, HERD_QTYPE_Q6_K, HERD_QTYPE_Q8_K};
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    herd_simd_level l = herd_simd_active();
    for (int i = 0; i < N_TYPES; i++)
        table[i].vec_dot = herd_vec_dot_at(ids[i], l);
#if defined(__x86_64__) || defined(__i386__)
    if (l >= HERD_SIMD_AVX2) {
        table[1].to_float = herd_f16_to_float_avx2;
        table[3].to_float = herd_dequantize_q4_0_avx2;
        table[4].to_float = herd_dequantize_q8_0_avx2;
        table[5].to_float = herd_dequantize_q4_K_avx2;
        table[6].to_float = herd_dequantize_q6_K_avx2;
    }
#endif
}

const herd_qtraits *herd_qtraits_get(herd_qtype t)
{
    for (int i = 0; i < N_TYPES; i++)
        if (ids[i] == t) {
            pthread_once(&once, init);
            return &table[i];
        }
    return NULL;
}

size_t herd_qrow_bytes(herd_qtype t, int64_t n)
{
    const herd_qtraits *q = herd_qtraits_get(t);
    if (!q || n < 0 || n % q->blck != 0)
        return 0;
    return (size_t)(n / q->blck) * q->bytes;
}

/* The SIMD row conversions to float (dequant_avx2.c) give the scalar ones'
 * bits exactly: F16 over all 65536 halves (subnormals, infinities; NaNs
 * stay NaNs),
 * Q8_0, Q4_0, Q4_K and Q6_K over random blocks with every scale. */
#include "quant/quant_impl.h"
#include "base/half.h"
#include "test.h"
#include <stdint.h>

static uint32_t rng = 12345;
static uint32_t next(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

/* Bit for bit, but any NaN matches any NaN: the hardware conversion
 * quietens signalling NaNs, the scalar one keeps their payload. */
static int same_bits(const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) && !(isnan(a[i]) && isnan(b[i])))
            return 0;
    return 1;
}

static void test_f16(void)
{
    enum { N = 1 << 16 };
    uint16_t *h = malloc(N * sizeof *h);
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    for (int i = 0; i < N; i++)
        h[i] = (uint16_t)i;
    herd_qtraits_get(HERD_QTYPE_F16)->to_float(h, a, N - 3); /* an odd tail too */
    for (int i = 0; i < N - 3; i++)
        b[i] = herd_f16_to_f32(h[i]);
    CHECK(same_bits(a, b, N - 3));
    free(h), free(a), free(b);
}

static void test_blocks(herd_qtype t, void (*scalar)(const void *, float *, int64_t))
{
    const herd_qtraits *q = herd_qtraits_get(t);
    enum { N = 32 * 4096 };
    size_t bytes = herd_qrow_bytes(t, N);
    uint8_t *raw = malloc(bytes);
    for (size_t i = 0; i < bytes; i++)
        raw[i] = (uint8_t)next();
    /* Scales: any finite half (the first two bytes of each block). */
    for (size_t i = 0; i < bytes; i += q->bytes) {
        uint16_t d = (uint16_t)(next() & 0xffff);
        if (((d >> 10) & 0x1f) == 0x1f)
            d &= 0xbfff;
        memcpy(raw + i, &d, 2);
    }
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    q->to_float(raw, a, N);
    scalar(raw, b, N);
    CHECK_MSG(same_bits(a, b, N), "%s: SIMD and scalar dequantize differ", q->name);
    free(raw), free(a), free(b);
}

int main(void)
{
    printf("SIMD level: %s\n", herd_simd_name(herd_simd_active()));
    test_f16();
    test_blocks(HERD_QTYPE_Q8_0, herd_dequantize_q8_0);
    test_blocks(HERD_QTYPE_Q4_0, herd_dequantize_q4_0);
    test_blocks(HERD_QTYPE_Q4_K, herd_dequantize_q4_K);
    test_blocks(HERD_QTYPE_Q6_K, herd_dequantize_q6_K);
    TEST_END();
}

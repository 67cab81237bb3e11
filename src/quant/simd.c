/* Run-time choice of the dot-product kernels: what the CPU offers
 * (__builtin_cpu_supports, which also checks that the OS saves the wide
 * registers), lowered by HERD_SIMD=scalar|avx2|avx512|avx512vnni. */
#include "quant/quant_impl.h"
#include "base/half.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[HERD_SIMD_COUNT] = {"scalar", "avx2", "avx512", "avx512vnni"};

float herd_f16_table[1 << 16];

static herd_simd_level supported = HERD_SIMD_SCALAR, active = HERD_SIMD_SCALAR;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static herd_simd_level detect(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ||
        !__builtin_cpu_supports("f16c"))
        return HERD_SIMD_SCALAR;
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512dq"))
        return HERD_SIMD_AVX2;
    if (!__builtin_cpu_supports("avx512vnni"))
        return HERD_SIMD_AVX512;
    return HERD_SIMD_AVX512VNNI;
#else
    return HERD_SIMD_SCALAR;
#endif
}

static void init(void)
{
    for (uint32_t h = 0; h < (1u << 16); h++)
        herd_f16_table[h] = herd_f16_to_f32((uint16_t)h);
    supported = active = detect();
    const char *e = getenv("HERD_SIMD");
    for (int l = 0; e && l < HERD_SIMD_COUNT; l++)
        if (strcmp(e, names[l]) == 0 && l < (int)supported)
            active = (herd_simd_level)l;
}

herd_simd_level herd_simd_supported(void)
{
    pthread_once(&once, init);
    return supported;
}

herd_simd_level herd_simd_active(void)
{
    pthread_once(&once, init);
    return active;
}

const char *herd_simd_name(herd_simd_level l)
{
    return l >= 0 && l < HERD_SIMD_COUNT ? names[l] : "?";
}

#if defined(__x86_64__) || defined(__i386__)
#define X86(f) f
#else
#define X86(f) NULL
#endif

/* Per type: scalar, AVX2, AVX-512, AVX-512 VNNI (NULL: the level below). */
#define ROW(t) { herd_dot_##t##_scalar, X86(herd_dot_##t##_avx2), X86(herd_dot_##t##_avx512), \
                 X86(herd_dot_##t##_avx512vnni) }
#define ROW3(t) { herd_dot_##t##_scalar, X86(herd_dot_##t##_avx2), X86(herd_dot_##t##_avx512), \
                  NULL }
#define ROW_NO512(t) { herd_dot_##t##_scalar, X86(herd_dot_##t##_avx2), NULL, \
                       X86(herd_dot_##t##_avx512vnni) }

herd_vec_dot_fn herd_vec_dot_at(herd_qtype t, herd_simd_level l)
{
    pthread_once(&once, init);
    static const herd_vec_dot_fn q8_0[] = ROW_NO512(q8_0), q4_0[] = ROW_NO512(q4_0),
        q4_K[] = ROW_NO512(q4_K), q6_K[] = ROW(q6_K), f32[] = ROW3(f32), f16[] = ROW3(f16),
        bf16[] = ROW3(bf16);
    const herd_vec_dot_fn *row;
    switch (t) {
    case HERD_QTYPE_Q8_0: row = q8_0; break;
    case HERD_QTYPE_Q4_0: row = q4_0; break;
    case HERD_QTYPE_Q4_K: row = q4_K; break;
    case HERD_QTYPE_Q6_K: row = q6_K; break;
    case HERD_QTYPE_F32: row = f32; break;
    case HERD_QTYPE_F16: row = f16; break;
    case HERD_QTYPE_BF16: row = bf16; break;
    default: return NULL;
    }
    if (l < 0 || l >= HERD_SIMD_COUNT)
        l = HERD_SIMD_SCALAR;
    for (int k = l; k > 0; k--)
        if (row[k])
            return row[k];
    return row[0];
}

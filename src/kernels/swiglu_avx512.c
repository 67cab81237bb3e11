/* herd_swiglu on AVX-512, 16 values at a time (kernels.h); the same floats
 * as its scalar twin (kernels/order.h's exp). */
#include "kernels/kernels.h"
#include "kernels/order.h"
#if defined(__x86_64__)

__attribute__((target("avx2,fma,avx512f,avx512dq")))
void herd_swiglu_avx512(float *out, const float *gate, const float *up, int n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 g = _mm512_loadu_ps(gate + i);
        const __m512 e = herd_expf_poly16(_mm512_sub_ps(_mm512_setzero_ps(), g));
        const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, e));
        _mm512_storeu_ps(out + i, _mm512_mul_ps(silu, _mm512_loadu_ps(up + i)));
    }
    herd_swiglu(out + i, gate + i, up + i, n - i); /* the tail: expf, as the twin */
}

#else
void herd_swiglu_avx512(float *out, const float *gate, const float *up, int n)
{
    herd_swiglu(out, gate, up, n);
}
#endif

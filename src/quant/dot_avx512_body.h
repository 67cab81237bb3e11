/* The AVX-512 dot products of the quantized types, written once and
 * compiled twice. dot_avx512.c (no VNNI) and dot_avx512vnni.c define
 * AVX512_NAME, AVX512_TARGET (the target attribute) and MADD_ADD (int16
 * pairs times int16 into an int32 accumulator, zmm), then include this
 * file. Both get Q6_K, on zmm (64 values of a block per register); with
 * AVX512_VNNI (and MADD_ADD256, the ymm twin) also Q8_0, Q4_0 and Q4_K,
 * which run on ymm: for blocks of 32, and for Q4_K's nibbles, pairing
 * halves into a zmm costs more shuffles than it saves. */

static inline AVX512_TARGET float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }
static inline AVX512_TARGET float f16s(uint16_t h) { return _cvtsh_ss(h); }

#ifdef AVX512_VNNI
/* Signed x signed bytes (neither -128) as |a| x (b with a's sign). */
static inline AVX512_TARGET __m256i dot_i8_vnni(__m256i a, __m256i b)
{
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(a, a),
                               _mm256_sign_epi8(b, a));
}

/* One block's dot, scaled, added to acc. */
static inline AVX512_TARGET __m256 q8_0_block(const herd_block_q8_0 *w,
                                              const herd_block_q8_0 *x, __m256 acc)
{
    __m256i p = dot_i8_vnni(_mm256_loadu_si256((const __m256i *)w->qs),
                            _mm256_loadu_si256((const __m256i *)x->qs));
    const __m256 d = _mm256_set1_ps(herd_f16_table[w->d] * herd_f16_table[x->d]);
    return _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
}

AVX512_TARGET float AVX512_NAME(q8_0)(int64_t n, const void *vw, const void *vx)
{
    const herd_block_q8_0 *w = vw, *x = vx;
    const int64_t nb = n / HERD_QK8_0;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        prefetch_ahead(&w[i], 2 * (int)sizeof w[i]);
        a0 = q8_0_block(&w[i], &x[i], a0);
        a1 = q8_0_block(&w[i + 1], &x[i + 1], a1);
    }
    if (i < nb)
        a0 = q8_0_block(&w[i], &x[i], a0);
    return hsum_ps(_mm256_add_ps(a0, a1));
}

static inline AVX512_TARGET __m256 q4_0_block(const herd_block_q4_0 *w,
                                              const herd_block_q8_0 *x, __m256 acc)
{
    const __m256i lo4 = _mm256_set1_epi8(0x0f), eight = _mm256_set1_epi8(8);
    __m128i t = _mm_loadu_si128((const __m128i *)w->qs);
    __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), lo4);
    __m256i p = dot_i8_vnni(_mm256_sub_epi8(q, eight), _mm256_loadu_si256((const __m256i *)x->qs));
    const __m256 d = _mm256_set1_ps(herd_f16_table[w->d] * herd_f16_table[x->d]);
    return _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
}

AVX512_TARGET float AVX512_NAME(q4_0)(int64_t n, const void *vw, const void *vx)
{
    const herd_block_q4_0 *w = vw;
    const herd_block_q8_0 *x = vx;
    const int64_t nb = n / HERD_QK8_0;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        prefetch_ahead(&w[i], 2 * (int)sizeof w[i]);
        a0 = q4_0_block(&w[i], &x[i], a0);
        a1 = q4_0_block(&w[i + 1], &x[i + 1], a1);
    }
    if (i < nb)
        a0 = q4_0_block(&w[i], &x[i], a0);
    return hsum_ps(_mm256_add_ps(a0, a1));
}

AVX512_TARGET float AVX512_NAME(q4_K)(int64_t n, const void *vw, const void *vx)
{
    const herd_block_q4_K *w = vw;
    const herd_block_q8_K *x = vx;
    const __m256i lo4 = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / HERD_QK_K; i++) {
        prefetch_ahead(&w[i], (int)sizeof w[i]);
        uint8_t sc[8], m[8];
        q4_K_scales(w[i].scales, sc, m);
        const __m256i scv = _mm256_broadcastsi128_si256(
            _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sc)));
        __m256i s = _mm256_setzero_si256();
        _Pragma("GCC unroll 4")
        for (int c = 0; c < 4; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(w[i].qs + 32 * c));
            __m256i y0 = _mm256_loadu_si256((const __m256i *)(x[i].qs + 64 * c));
            __m256i y1 = _mm256_loadu_si256((const __m256i *)(x[i].qs + 64 * c + 32));
            __m256i p0 = _mm256_maddubs_epi16(_mm256_and_si256(q, lo4), y0);
            __m256i p1 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), lo4), y1);
            s = MADD_ADD256(s, p0, _mm256_shuffle_epi8(scv, word_bcast(2 * c)));
            s = MADD_ADD256(s, p1, _mm256_shuffle_epi8(scv, word_bcast(2 * c + 1)));
        }
        const float yd = x[i].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16s(w[i].d) * yd), _mm256_cvtepi32_ps(s), acc);
        accm = _mm256_fmadd_ps(_mm256_set1_ps(f16s(w[i].dmin) * yd),
                               _mm256_cvtepi32_ps(q4_K_mins(x[i].bsums, m)), accm);
    }
    return hsum_ps(acc) - hsum_ps(accm);
}
#endif

AVX512_TARGET float AVX512_NAME(q6_K)(int64_t n, const void *vw, const void *vx)
{
    const herd_block_q6_K *w = vw;
    const herd_block_q8_K *x = vx;
    const __m512i lo4 = _mm512_set1_epi8(0x0f), m2 = _mm512_set1_epi8(0x30);
    /* which of the 16 scales each int16 lane of a product takes */
    const __m512i idx0 = _mm512_set_epi64(0x0003000300030003, 0x0003000300030003,
        0x0002000200020002, 0x0002000200020002, 0x0001000100010001, 0x0001000100010001, 0, 0);
    const __m512i four = _mm512_set1_epi16(4);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / HERD_QK_K; i++) {
        prefetch_ahead(&w[i], (int)sizeof w[i]);
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)w[i].scales));
        __m512i scz = _mm512_zextsi256_si512(sc16);
        __m256i off = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)x[i].bsums), sc16);
        __m512i s = _mm512_zextsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(),
                                                            _mm256_slli_epi32(off, 5)));
        __m512i idx = idx0;
        _Pragma("GCC unroll 2")
        for (int h = 0; h < 2; h++) {
            __m512i l = _mm512_loadu_si512((const void *)(w[i].ql + 64 * h));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(w[i].qh + 32 * h));
            __m512i hA = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_slli_epi16(qh, 4)),
                                            _mm256_slli_epi16(qh, 2), 1);
            __m512i hB = _mm512_inserti64x4(_mm512_castsi256_si512(qh),
                                            _mm256_srli_epi16(qh, 2), 1);
            __m512i a = _mm512_or_si512(_mm512_and_si512(l, lo4), _mm512_and_si512(hA, m2));
            __m512i b = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), lo4),
                                        _mm512_and_si512(hB, m2));
            __m512i ya = _mm512_loadu_si512((const void *)(x[i].qs + 128 * h));
            __m512i yb = _mm512_loadu_si512((const void *)(x[i].qs + 128 * h + 64));
            s = MADD_ADD(s, _mm512_maddubs_epi16(a, ya), _mm512_permutexvar_epi16(idx, scz));
            idx = _mm512_add_epi16(idx, four);
            s = MADD_ADD(s, _mm512_maddubs_epi16(b, yb), _mm512_permutexvar_epi16(idx, scz));
            idx = _mm512_add_epi16(idx, four);
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(f16s(w[i].d) * x[i].d), _mm512_cvtepi32_ps(s), acc);
    }
    return hsum512(acc);
}

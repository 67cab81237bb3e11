/* The few-token products (gemv.h): the kernel for the active SIMD level,
 * the activations laid out once per call, and one OpenMP region per call
 * in which the threads take chunks of contiguous rows in turn. */
#include "quant/gemv.h"
#include "quant/quant_impl.h"
#include <omp.h>

/* Below this many weight values times tokens a product runs on one thread. */
#define PARALLEL_MIN (1 << 16)
/* Chunks of rows start at multiples of this many rows (the kernels' tile). */
#define ROW_ALIGN 16
/* Chunks per thread: every chunk starts a new stream whose first lines
 * arrive late, so fewer are faster (TinyLlama-shape Q4_0 decoding, 2
 * threads: 1 chunk 25.0, 2 about 24.7, 4 24.3, 8 23.8 GB/s); more than
 * one lets a thread slowed by another process leave some of its share. */
#define CHUNKS_PER_THREAD 2

herd_gemv_kernel herd_gemv_kernel_at(herd_qtype wtype, herd_simd_level l)
{
#if defined(__x86_64__) || defined(__i386__)
    const int vbmi = l >= HERD_SIMD_AVX512VNNI && __builtin_cpu_supports("avx512vbmi");
    if (l >= HERD_SIMD_AVX512VNNI && wtype == HERD_QTYPE_Q4_0)
        return vbmi ? herd_gemv_q4_0_avx512vbmi : herd_gemv_q4_0_avx512vnni;
    if (l >= HERD_SIMD_AVX512VNNI && wtype == HERD_QTYPE_Q8_0)
        return vbmi ? herd_gemv_q8_0_avx512vbmi : herd_gemv_q8_0_avx512vnni;
    if (l >= HERD_SIMD_AVX512 && wtype == HERD_QTYPE_F16)
        return herd_gemv_f16_avx512;
    if (l >= HERD_SIMD_AVX512 && wtype == HERD_QTYPE_F32)
        return herd_gemv_f32_avx512;
#endif
    if (l != HERD_SIMD_SCALAR)
        return NULL;
    switch (wtype) {
    case HERD_QTYPE_Q4_0: return herd_gemv_q4_0_scalar;
    case HERD_QTYPE_Q8_0: return herd_gemv_q8_0_scalar;
    case HERD_QTYPE_F16: return herd_gemv_f16_scalar;
    case HERD_QTYPE_F32: return herd_gemv_f32_scalar;
    default: return NULL;
    }
}

herd_gemv_kernel herd_gemv_kernel_for(herd_qtype wtype, herd_simd_level l, int64_t rows,
                                      int64_t cols)
{
    const int lanes = (wtype == HERD_QTYPE_Q8_0 && rows % 32) ||
                      (wtype == HERD_QTYPE_Q4_0 && rows % 8);
    if (wtype == HERD_QTYPE_Q4_0 && cols % 128) /* a last group of fewer blocks */
        return lanes ? herd_gemv_q4_0_lanes_scalar : herd_gemv_q4_0_scalar;
    if (!lanes)
        return herd_gemv_kernel_at(wtype, l);
#if defined(__x86_64__) || defined(__i386__)
    if (l >= HERD_SIMD_AVX512VNNI)
        return wtype == HERD_QTYPE_Q8_0 ? herd_gemv_q8_0_lanes_avx512vnni
                                        : herd_gemv_q4_0_lanes_avx512vnni;
#endif
    return wtype == HERD_QTYPE_Q8_0 ? herd_gemv_q8_0_lanes_scalar : herd_gemv_q4_0_lanes_scalar;
}

void herd_gemv_prepare(herd_qtype wtype, const float *x, int64_t cols, void *xa)
{
#if defined(__x86_64__) || defined(__i386__)
    /* (Q4_0 rows with a last, partial group: the scalar layout's zeros) */
    if (herd_simd_active() >= HERD_SIMD_AVX512 &&
        (wtype != HERD_QTYPE_Q4_0 || cols % 128 == 0)) {
        herd_gemv_prepare_avx512(wtype, x, cols, xa);
        return;
    }
#endif
    herd_gemv_prepare_scalar(wtype, x, cols, xa);
}

/* Most chunks a call is split into (parts' chunks together). */
#define MAX_CHUNKS 256

int herd_gemv_parts(const herd_gemv_part *parts, int np, herd_qtype wtype, const float *x,
                    int64_t cols, int n, void *scratch)
{
    const herd_simd_level l = herd_simd_active();
    const herd_gemv_kernel k = l == HERD_SIMD_SCALAR ? NULL : herd_gemv_kernel_at(wtype, l);
    const size_t xs = herd_gemv_act_bytes(wtype, cols), wrow = herd_qrow_bytes(wtype, cols);
    int64_t rows = 0;
    for (int p = 0; p < np; p++)
        rows += parts[p].rows > 0 ? parts[p].rows : 0;
    if (!k || !xs || !wrow || n < 1 || n > HERD_GEMV_MAX_TOKENS || np < 1 || rows < 1)
        return 0;
    const void *xa = x;
    if (wtype == HERD_QTYPE_Q4_0 || wtype == HERD_QTYPE_Q8_0) {
        for (int t = 0; t < n; t++)
            herd_gemv_prepare(wtype, x + (size_t)t * cols, cols, (char *)scratch + t * xs);
        xa = scratch;
    }
    const int threads = rows * cols * n >= PARALLEL_MIN ? omp_get_max_threads() : 1;
    /* About CHUNKS_PER_THREAD chunks a thread, taken in turn. */
    int64_t chunk = (rows + threads * CHUNKS_PER_THREAD - 1) / (threads * CHUNKS_PER_THREAD);
    chunk = (chunk + ROW_ALIGN - 1) / ROW_ALIGN * ROW_ALIGN;
    while ((rows + chunk - 1) / chunk + np > MAX_CHUNKS)
        chunk *= 2;
    int part[MAX_CHUNKS], nc = 0;
    int64_t first[MAX_CHUNKS];
    for (int p = 0; p < np; p++)
        for (int64_t r = 0; r < parts[p].rows; r += chunk, nc++)
            part[nc] = p, first[nc] = r;
    herd_gemv_kernel kp[MAX_CHUNKS];
    for (int p = 0; p < np; p++)
        kp[p] = herd_gemv_kernel_for(wtype, l, parts[p].rows, cols);
    #pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int c = 0; c < nc; c++) {
        const herd_gemv_part *pp = &parts[part[c]];
        const int64_t r0 = first[c], r1 = r0 + chunk < pp->rows ? r0 + chunk : pp->rows;
        kp[part[c]](pp->y + r0, pp->rows, (const char *)pp->w + (size_t)r0 * wrow, wrow, xa, xs,
                    r1 - r0, cols, n);
    }
    return 1;
}

int herd_gemv(float *y, const void *w, herd_qtype wtype, const float *x, int64_t rows,
              int64_t cols, int n, void *scratch)
{
    const herd_gemv_part part = {y, w, rows};
    return herd_gemv_parts(&part, 1, wtype, x, cols, n, scratch);
}

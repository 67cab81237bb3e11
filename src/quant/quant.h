/* Quantized weight formats, exactly as GGUF and llama.cpp lay them out, with
 * quantize (llama.cpp's reference quantizers, bit for bit), dequantize, and
 * dot products of a quantized weight row with an activation row quantized to
 * 8 bits (Q8_0 per 32 values, Q8_K per 256), as llama.cpp computes them.
 *
 * Every dot product has a scalar version and SIMD ones (AVX2, AVX-512,
 * AVX-512 VNNI) chosen at run time from what the CPU offers; HERD_SIMD=
 * scalar|avx2|avx512|avx512vnni in the environment forces a lower level.
 *
 * Type ids are GGUF's (ggml_type) numbers, so a tensor type read from a
 * GGUF file is a herd_qtype as it is. */
#ifndef HERD_QUANT_QUANT_H
#define HERD_QUANT_QUANT_H
#include "herd.h"
#include <stddef.h>
#include <stdint.h>

typedef enum {
    HERD_QTYPE_F32 = 0,
    HERD_QTYPE_F16 = 1,
    HERD_QTYPE_Q4_0 = 2,
    HERD_QTYPE_Q8_0 = 8,
    HERD_QTYPE_Q4_K = 12,
    HERD_QTYPE_Q6_K = 14,
    HERD_QTYPE_Q8_K = 15,
    HERD_QTYPE_BF16 = 30
} herd_qtype;

#define HERD_QK4_0 32
#define HERD_QK8_0 32
#define HERD_QK_K 256
#define HERD_K_SCALE_SIZE 12

/* Scales are IEEE half floats stored as their bits (see base/half.h). */
typedef struct {
    uint16_t d;                  /* scale */
    int8_t qs[HERD_QK8_0];       /* x = d * q */
} herd_block_q8_0;

typedef struct {
    uint16_t d;                  /* scale */
    uint8_t qs[HERD_QK4_0 / 2];  /* x[j] = d * ((qs[j] & 15) - 8),
                                    x[j + 16] = d * ((qs[j] >> 4) - 8) */
} herd_block_q4_0;

/* 8 sub-blocks of 32: x = d * sc[j] * q - dmin * m[j], with 6-bit sc and m
 * packed in scales[12] (herd_q4_K_scale_min unpacks them) and 4-bit q: qs
 * byte 32*c + l holds element 64*c + l (low nibble) and 64*c + 32 + l (high). */
typedef struct {
    uint16_t d;                          /* scale of the sub-block scales */
    uint16_t dmin;                       /* scale of the sub-block mins */
    uint8_t scales[HERD_K_SCALE_SIZE];
    uint8_t qs[HERD_QK_K / 2];
} herd_block_q4_K;

/* 16 sub-blocks of 16: x = d * scales[j] * (q - 32) with 6-bit q: the low 4
 * bits in ql, the high 2 in qh (herd_q6_K_get gives element i). */
typedef struct {
    uint8_t ql[HERD_QK_K / 2];
    uint8_t qh[HERD_QK_K / 4];
    int8_t scales[HERD_QK_K / 16];
    uint16_t d;
} herd_block_q6_K;

/* Activations for the K-quant dot products: x = d * q, and the sums of each
 * 16 quants. */
typedef struct {
    float d;
    int8_t qs[HERD_QK_K];
    int16_t bsums[HERD_QK_K / 16];
} herd_block_q8_K;

_Static_assert(sizeof(herd_block_q8_0) == 34, "block_q8_0 is 34 bytes");
_Static_assert(sizeof(herd_block_q4_0) == 18, "block_q4_0 is 18 bytes");
_Static_assert(sizeof(herd_block_q4_K) == 144, "block_q4_K is 144 bytes");
_Static_assert(sizeof(herd_block_q6_K) == 210, "block_q6_K is 210 bytes");
_Static_assert(sizeof(herd_block_q8_K) == 292, "block_q8_K is 292 bytes");

/* Row functions: n values, a multiple of the type's block size. */
typedef void (*herd_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*herd_from_float_fn)(const float *src, void *dst, int64_t n);
/* Dot product of a weight row w with an activation row x of the type's
 * vec_dot_type, both n values long. The 8-bit quants of Q8_0 and Q8_K rows
 * are in [-127, 127], as every quantizer here writes them. */
typedef float (*herd_vec_dot_fn)(int64_t n, const void *w, const void *x);

typedef struct {
    const char *name;
    int64_t blck;             /* values per block */
    size_t bytes;             /* bytes per block */
    herd_to_float_fn to_float;
    herd_from_float_fn from_float;   /* llama.cpp's reference quantizer */
    herd_vec_dot_fn vec_dot;         /* NULL for Q8_K: it only activates */
    herd_qtype vec_dot_type;         /* the activation type the dot takes */
} herd_qtraits;

/* The traits of a type, with vec_dot at the active SIMD level; NULL for a
 * type herd does not know. Thread-safe. */
const herd_qtraits *herd_qtraits_get(herd_qtype t);
/* Bytes of a row of n values; 0 if the type is unknown or n is not a
 * multiple of its block size. */
size_t herd_qrow_bytes(herd_qtype t, int64_t n);

/* ---- SIMD levels ---- */

typedef enum {
    HERD_SIMD_SCALAR = 0,
    HERD_SIMD_AVX2 = 1,        /* AVX2 + FMA + F16C */
    HERD_SIMD_AVX512 = 2,      /* AVX-512 F, BW, VL, DQ */
    HERD_SIMD_AVX512VNNI = 3,  /* and VNNI */
    HERD_SIMD_COUNT
} herd_simd_level;

/* The best level this CPU runs. */
herd_simd_level herd_simd_supported(void);
/* The level in use: the supported one, or HERD_SIMD's if that is lower. */
herd_simd_level herd_simd_active(void);
const char *herd_simd_name(herd_simd_level l);
/* A type's dot product at one level (the scalar one where a type has no
 * kernel of that level); NULL for a type without a dot product. The caller
 * must not pick a level above herd_simd_supported(). */
herd_vec_dot_fn herd_vec_dot_at(herd_qtype t, herd_simd_level l);

/* ---- per-type row functions (reference quantizers are llama.cpp's _ref) ---- */

void herd_quantize_q8_0(const float *x, void *y, int64_t n);
void herd_quantize_q4_0(const float *x, void *y, int64_t n);
void herd_quantize_q4_K(const float *x, void *y, int64_t n);
void herd_quantize_q6_K(const float *x, void *y, int64_t n);
void herd_quantize_q8_K(const float *x, void *y, int64_t n);
void herd_dequantize_q8_0(const void *x, float *y, int64_t n);
void herd_dequantize_q4_0(const void *x, float *y, int64_t n);
void herd_dequantize_q4_K(const void *x, float *y, int64_t n);
void herd_dequantize_q6_K(const void *x, float *y, int64_t n);
void herd_dequantize_q8_K(const void *x, float *y, int64_t n);

/* Sub-block j (0..7) of a Q4_K block: its 6-bit scale and min. */
void herd_q4_K_scale_min(const uint8_t scales[HERD_K_SCALE_SIZE], int j,
                         uint8_t *sc, uint8_t *m);
/* Element i (0..255) of a Q6_K block: its 6-bit quant, 0..63. */
int herd_q6_K_get(const herd_block_q6_K *b, int i);

/* ---- matrix-vector products ---- */

/* Bytes herd_quantize_activation writes for n values multiplying weights of
 * type wtype (a row of wtype's vec_dot_type); 0 if unknown or n does not fit. */
size_t herd_activation_bytes(herd_qtype wtype, int64_t n);
/* Quantizes an activation row of n values for weights of type wtype: to
 * Q8_0 for Q4_0/Q8_0, Q8_K for Q4_K/Q6_K; F32/F16/BF16 weights take it as
 * float (copied). Once per vector, before any number of herd_qmatvec. */
herd_status herd_quantize_activation(herd_qtype wtype, const float *x, int64_t n, void *out);
/* out[r] = w[r] . x for rows rows of cols values: w row-major in wtype, xq
 * from herd_quantize_activation. Threaded over rows with OpenMP. */
herd_status herd_qmatvec(float *out, const void *w, herd_qtype wtype, const void *xq,
                         int64_t rows, int64_t cols);
/* n activation rows at once (a prompt): xq holds n rows of
 * herd_activation_bytes(wtype, cols) each; out[t * rows + r] = w[r] . x_t.
 * Rows outer, tokens inner, so each tile of weights is read once. */
herd_status herd_qmatmul(float *out, const void *w, herd_qtype wtype, const void *xq,
                         int64_t rows, int64_t cols, int64_t n);

#endif

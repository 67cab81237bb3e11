/* NF4 with double quantization, as QLoRA (Dettmers et al. 2023, section 3)
 * defines it: the frozen base weights of QLoRA finetuning, 4.127 bits each.
 *
 * First level: blocks of 64 weights (HERD_NF4_BLOCK), each with its absmax
 * c = max |w|; w / c (float32 division; 0 where c = 0) goes to the index of
 * the NEAREST of the 16 NF4 code values (bitsandbytes' table, herd_nf4_code;
 * an exact tie goes to the lower index). Two indices per byte in
 * bitsandbytes' order: byte k holds element 2k in its HIGH nibble and
 * element 2k + 1 in its low one. The indices are chosen with the fp32 absmax
 * (as bitsandbytes does); dequantization uses the double-quantized one.
 *
 * Double quantization: the per-block absmax constants c_b are quantized
 * again. mean = (float)(sum c_b / count), the sum in double in block order;
 * d_b = c_b - mean (float32). Groups of 256 constants (HERD_NF4_GROUP; the
 * last one may be shorter) each keep scale = max |d_b| / 448 (float32) and
 * one 8-bit float per constant: FP8 E4M3 ("fn": 1 sign, 4 exponent bits of
 * bias 7, 3 mantissa bits, subnormals, no infinities, 448 the largest
 * finite, 0x7f/0xff NaN), the paper's "8-bit Floats", as the OCP FP8 spec
 * and NVIDIA's e4m3 define it: code = e4m3(clamp(d_b / scale, -448, 448)),
 * rounded to nearest, ties to even (0 where scale = 0).
 *
 *   c'_b = e4m3_value(code_b) * scale + mean      (float32, in that order)
 *   w'   = nf4_code[index] * c'_b                 (float32)
 *
 * Cost: 4 + 8/64 + 32/(64 * 256) bits per weight + 32 bits per tensor.
 * tests/reference/nf4_ref.py is an independent numpy version of all this. */
#ifndef HERD_QUANT_NF4_H
#define HERD_QUANT_NF4_H
#include "quant/quant.h"
#include <stddef.h>
#include <stdint.h>

#define HERD_NF4_BLOCK 64     /* weights per absmax */
#define HERD_NF4_GROUP 256    /* absmax constants per second-level scale */
/* Floats of weight rows widened at a time in the matmuls (16 MiB), as
 * model/linear.h's tiles. */
#define HERD_NF4_TILE_FLOATS (1 << 22)

typedef struct {
    int64_t rows, cols;   /* cols a multiple of HERD_NF4_BLOCK */
    uint8_t *qs;          /* rows * cols / 2 bytes: 4-bit indices, see above */
    uint8_t *absmax_q;    /* rows * cols / 64 E4M3 codes of c_b - mean */
    float *absmax_scale;  /* ceil(blocks / 256) second-level scales */
    float absmax_mean;    /* the mean of all c_b */
} herd_nf4_tensor;

/* The 16 NF4 code values, ascending: -1 .. 0 (index 7) .. 1. */
extern const float herd_nf4_code[16];

/* One E4M3 value from its byte (NaN for 0x7f, 0xff), and the byte nearest
 * to x, ties to even; |x| beyond 448 saturates to +-448. */
float herd_e4m3_to_float(uint8_t b);
uint8_t herd_e4m3_from_float(float x);

/* Bytes the data of a rows x cols tensor takes (indices, codes, scales,
 * mean); 0 for a shape herd_nf4_quantize rejects. */
size_t herd_nf4_bytes(int64_t rows, int64_t cols);

/* Quantizes w (rows x cols, row-major) into *out, which owns its arrays
 * (herd_nf4_free). HERD_E_ARG for rows or cols <= 0, cols not a multiple
 * of 64, or a weight that is not finite; HERD_E_NOMEM. *out is zeroed on
 * failure. */
herd_status herd_nf4_quantize(const float *w, int64_t rows, int64_t cols, herd_nf4_tensor *out);
void herd_nf4_free(herd_nf4_tensor *t);

/* The double-quantized absmax c'_b of block b. */
float herd_nf4_absmax(const herd_nf4_tensor *t, int64_t b);

/* Rows row0 .. row0 + n_rows - 1 as float32 into out (n_rows * cols):
 * at the active SIMD level (AVX2 where the CPU has it and HERD_SIMD does not
 * say scalar), or at a given one (the scalar code where the level has no
 * kernel); every level gives the same bits. HERD_E_RANGE outside the rows. */
herd_status herd_nf4_dequant_rows(const herd_nf4_tensor *t, int64_t row0, int64_t n_rows,
                                  float *out);
herd_status herd_nf4_dequant_rows_at(const herd_nf4_tensor *t, int64_t row0, int64_t n_rows,
                                     float *out, herd_simd_level level);

/* Floats of `tile` the matmuls below need for inputs of `in` values. */
size_t herd_nf4_tile_floats(int64_t in);

/* y[n][out] = x[n][in] . W^T, W (out x in) widened tile by tile into tile
 * (herd_nf4_tile_floats(W's cols) floats) and multiplied with sgemm. W's
 * rows may be padded with zeros to whole blocks (cols = in rounded up to
 * 64). HERD_E_ARG when W is not out x in. */
herd_status herd_nf4_matmul(float *y, const float *x, const herd_nf4_tensor *w, int n, int in,
                            int out, float *tile);
/* dx[n][in] (+)= dy[n][out] . W, tile by tile: the input gradient of a
 * frozen NF4 weight (QLoRA needs no weight gradient). dx is overwritten
 * unless accumulate. */
herd_status herd_nf4_matmul_backward_x(float *dx, const float *dy, const herd_nf4_tensor *w,
                                       int n, int in, int out, float *tile, int accumulate);
/* The same two with a tile of tile_floats (at least in) floats. */
herd_status herd_nf4_matmul_tiled(float *y, const float *x, const herd_nf4_tensor *w, int n,
                                  int in, int out, float *tile, size_t tile_floats);
herd_status herd_nf4_matmul_backward_x_tiled(float *dx, const float *dy,
                                             const herd_nf4_tensor *w, int n, int in, int out,
                                             float *tile, size_t tile_floats, int accumulate);

/* Internal: row r of t at AVX2 (nf4_avx2.c), the scalar row's twin. */
void herd_nf4_dequant_row_avx2(const herd_nf4_tensor *t, int64_t r, float *y);

#endif

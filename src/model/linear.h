/* Matrix products with weights in any type herd runs (linear.c). */
#ifndef HERD_MODEL_LINEAR_H
#define HERD_MODEL_LINEAR_H
#include "model/model.h"

/* Floats of weight rows widened at a time for the sgemm path (16 MiB):
 * large enough that each sgemm call is efficient. */
#define HERD_LINEAR_TILE_FLOATS (1 << 22)
/* Batches of at most this many rows go through the block dot products;
 * larger ones through widened tiles and sgemm. */
#define HERD_LINEAR_BLOCK_ROWS 8

/* Scratch sizes for inputs up to max_in values: xq holds one quantized
 * activation row per token (times the tokens of a batch), tile the
 * widened weight rows. */
size_t herd_linear_xq_bytes(int64_t max_in);
size_t herd_linear_tile_floats(int64_t max_in);

/* y[n][out] = x[n][in] . w^T; xq: HERD_LINEAR_BLOCK_ROWS * herd_linear_xq_bytes(in) bytes,
 * tile: herd_linear_tile_floats(in) floats. */
herd_status herd_linear(float *y, const float *x, const herd_tensor *w, int n, int in, int out,
                        void *xq, float *tile);
/* y[i][n][out[i]] = x[n][in] . w[i]^T for count matrices that read the same
 * x (a layer's q, k and v; its gate and up): where the few-token kernels
 * take them all (one type, a few tokens), in one pass over their rows with
 * x prepared once; otherwise herd_linear for each. */
herd_status herd_linear_many(float *const *y, const float *x, const herd_tensor *const *w,
                             const int *out, int count, int n, int in, void *xq, float *tile);
/* dx[n][in] (+)= dy[n][out] . w for a weight in any type (training with
 * frozen weights): F32 through one sgemm, others widened tile by tile into
 * tile (herd_linear_tile_floats(in) floats). dx is overwritten unless
 * accumulate. */
herd_status herd_linear_backward_x(float *dx, const float *dy, const herd_tensor *w, int n,
                                   int in, int out, float *tile, int accumulate);
/* Row id of an embedding table in any type, as floats. */
herd_status herd_embedding_row(float *dst, const herd_tensor *emb, int id);

#endif

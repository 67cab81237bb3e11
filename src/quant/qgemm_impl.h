/* Internals of herd_qgemm shared by its kernels (qgemm.c, qgemm_amx.c): the
 * shape of one product and the layouts of its scratch.
 *
 * A weight panel holds 16 rows decoded for the integer products: q[nsub][16]
 * [sub] int8 (each sub-block's 16 rows together, AMX's A operand), then
 * wd[nsub][16] and wm[nsub][16] floats, the scale and the min (Q4_K) of each
 * row's sub-block b.
 *
 * An activation tile holds 16 tokens: per sub-block b, the tokens' quants as
 * AMX's B operand wants them (sub / 4 rows of 16 tokens x 4 consecutive
 * values: byte b * 16 * sub + (k / 4) * 64 + j * 4 + k % 4 is value k of
 * token j), then dx[nsub][16] and xs[nsub][16] floats (each token's block
 * scale and, for Q4_K, the sum of its quants). Padding tokens are zero. Panels and tiles have the same size, qg_tile_bytes. */
#ifndef HERD_QUANT_QGEMM_IMPL_H
#define HERD_QUANT_QGEMM_IMPL_H
#include "quant/qgemm.h"
#include <stddef.h>
#include <stdint.h>

/* scratch moved up to a 64-byte boundary, *bytes shrunk to match (0 if
 * nothing is left): the panels and tiles of qgemm and hgemm need it. */
static inline void *qg_align64(void *scratch, size_t *bytes)
{
    const size_t skip = (size_t)(-(uintptr_t)scratch & 63);
    *bytes = *bytes > skip ? *bytes - skip : 0;
    return (uint8_t *)scratch + skip;
}

typedef struct {
    herd_qtype t;
    int sub;            /* values per sub-block: 32, or 16 for Q6_K */
    int mins;           /* the Q4_K mins' term is on */
    int64_t rows, cols, nsub;
    size_t wrow;        /* bytes per weight row */
    const uint8_t *w;
} qg_shape;

static inline size_t qg_tile_bytes(const qg_shape *s)
{
    return (size_t)(16 * s->cols + 2 * 16 * 4 * s->nsub);
}
static inline float *qg_scales(const qg_shape *s, uint8_t *tile)
{
    return (float *)(tile + 16 * s->cols);
}

/* Quantizes one activation row x as herd_quantize_activation does, into
 * its quants q[cols], block scales dx[nsub] and scaled sums xs[nsub] (Q4_K;
 * else 0). The scalar one goes through herd_quantize_activation and tmp
 * (herd_activation_bytes of the row); the AVX-512 one writes the same bits. */
void herd_qgemm_quant_scalar(const qg_shape *s, const float *x, int8_t *q, float *dx,
                             float *xs, uint8_t *tmp);
void herd_qgemm_quant_amx(const qg_shape *s, const float *x, int8_t *q, float *dx, float *xs);

/* Scalar: decodes rows r0 .. r0 + 15 into panel. */
void herd_qgemm_panel_scalar(const qg_shape *s, int64_t r0, uint8_t *panel);
/* AVX-512: the same bytes. */
void herd_qgemm_panel_amx(const qg_shape *s, int64_t r0, uint8_t *panel);

/* y[(t0 + j) * rows + r0 + r] for r < 16 and the tiles' tokens j < n (n
 * tokens from t0 in consecutive tiles). */
void herd_qgemm_rows_scalar(const qg_shape *s, int64_t r0, const uint8_t *panel,
                            const uint8_t *tiles, int64_t t0, int64_t n, float *y);
void herd_qgemm_rows_amx(const qg_shape *s, int64_t r0, const uint8_t *panel,
                         const uint8_t *tiles, int64_t t0, int64_t n, float *y);
/* Loads the AMX tile configuration of s on the calling thread; and frees
 * the tile state. */
void herd_qgemm_amx_begin(const qg_shape *s);
void herd_qgemm_amx_end(void);
/* Whether this CPU and OS run AMX-INT8 (asks Linux for the tile state). */
int herd_qgemm_amx_init(void);

#endif

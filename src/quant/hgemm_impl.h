/* Internals of herd_hgemm (hgemm.c, hgemm_amx.c): layouts of its scratch.
 * Values go in steps of 32 along a row. A weight panel holds 16 rows: per
 * step, hi[16][32] then lo[16][32] bfloat16 (AMX's A operand). An
 * activation tile holds 16 tokens: per step, hi then lo as AMX's B operand
 * wants them (16 rows of 16 tokens x 2 consecutive values: element k of
 * token j at ((k / 2) * 16 + j) * 2 + k % 2). Both are 64 * cols bytes
 * for a K-chunk of cols values; padding tokens are zero. */
#ifndef HERD_QUANT_HGEMM_IMPL_H
#define HERD_QUANT_HGEMM_IMPL_H
#include "quant/qgemm.h"
#include <string.h>

/* float -> bfloat16, to nearest even (finite values). */
static inline uint16_t hg_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
static inline float hg_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Rows and activations are cols values, ld apart (a K-chunk of longer
 * rows). */
void herd_hgemm_panel_scalar(const uint16_t *w, int64_t ld, int64_t cols, uint16_t *panel);
void herd_hgemm_panel_amx(const uint16_t *w, int64_t ld, int64_t cols, uint16_t *panel);
void herd_hgemm_pack_scalar(const float *x, int m, int64_t ld, int64_t cols, uint16_t *tile);
void herd_hgemm_pack_amx(const float *x, int m, int64_t ld, int64_t cols, uint16_t *tile);
/* y[(t0 + j) * rows + r0 + r] (+)= for r < 16 and n tokens of consecutive
 * tiles; add: accumulate onto y. */
void herd_hgemm_rows_scalar(int64_t rows, int64_t cols, int64_t r0, const uint16_t *panel,
                            const uint16_t *tiles, int64_t t0, int64_t n, float *y, int add);
void herd_hgemm_rows_amx(int64_t rows, int64_t cols, int64_t r0, const uint16_t *panel,
                         const uint16_t *tiles, int64_t t0, int64_t n, float *y, int add);
void herd_hgemm_amx_begin(void);
int herd_hgemm_amx_init(void);

#endif

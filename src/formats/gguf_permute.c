/* The q/k row permutation between Hugging Face's half-split rotary layout
 * and Meta's adjacent-pair layout (the one GGUF stores). Within one head of
 * head_dim rows, Meta pairs rows (2i, 2i+1) and HF pairs rows
 * (i, i + head_dim/2); both pairs rotate with frequency i, so
 *   meta[2i + j] = hf[i + j * head_dim/2]   for j = 0, 1. */
#include "formats/gguf.h"

int64_t herd_rope_row_hf_to_meta(int64_t r, int64_t head_dim)
{
    int64_t head = r / head_dim, k = r % head_dim;
    int64_t i = k / 2, j = k % 2;
    return head * head_dim + i + j * (head_dim / 2);
}

int64_t herd_rope_row_meta_to_hf(int64_t r, int64_t head_dim)
{
    int64_t head = r / head_dim, k = r % head_dim;
    int64_t j = k / (head_dim / 2), i = k % (head_dim / 2);
    return head * head_dim + 2 * i + j;
}

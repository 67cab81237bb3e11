/* The file types herd quantize writes and the type each tensor gets in
 * them: llama.cpp's rules (src/llama-quant.cpp, release of 2026-09 as in
 * ../shared/bench's peer) for a llama model, restricted to the file types
 * herd has. The line numbers below are that file's.
 *
 *  - Only matrices are quantized: tensors of fewer than 2 dimensions (the
 *    norms, rope_freqs) keep their type (tensor_allows_quantization,
 *    l. 287-300); herd's writer stores them as F32.
 *  - F32, F16, BF16: every matrix in that type (no mix: l. 711 applies
 *    the rules to quantized types only).
 *  - output.weight, and token_embd.weight when the output is tied to it
 *    (no output.weight): Q8_0 when its rows are no whole number of the
 *    file type's blocks, else Q6_K unless the file type is Q8_0
 *    (l. 456-477). So Q4_0 and Q4_K_M files have a Q6_K output.
 *  - Q4_K_M: attn_v (l. 556-557) and ffn_down (l. 612-618) take Q6_K in
 *    the layers use_more_bits picks (l. 434-436): the first and last
 *    eighth of the layers and every third one between; other matrices
 *    Q4_K (llama_ftype_get_default_type, l. 870).
 *  - Row lengths that are no whole number of the chosen type's blocks
 *    (256 for K-quants, 32 for Q4_0/Q8_0) fall back (tensor_type_fallback,
 *    l. 372-423): Q6_K -> Q8_0, Q4_K -> Q5_0, a 32-value type stays
 *    itself (l. 401-409), and then F16 when the block still does not fit
 *    (l. 412-420). herd has no Q5_0, so Q4_K falls back to Q8_0 (the
 *    nearest herd type with 32-value blocks and no fewer bits) where
 *    llama.cpp writes Q5_0; every other choice is llama.cpp's.
 *    (Some llama.cpp versions lack l. 401-409 and refuse Q8_0 and Q4_0
 *    rows that are no multiple of 32.)
 */
#include "formats/quantize.h"
#include "quant/quant.h"
#include "base/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    herd_ftype f;
    const char *name;
    herd_type base;
} ftypes[] = {
    {HERD_FTYPE_MOSTLY_Q4_0, "Q4_0", HERD_TYPE_Q4_0},
    {HERD_FTYPE_MOSTLY_Q8_0, "Q8_0", HERD_TYPE_Q8_0},
    {HERD_FTYPE_MOSTLY_Q4_K_M, "Q4_K_M", HERD_TYPE_Q4_K},
    {HERD_FTYPE_MOSTLY_Q6_K, "Q6_K", HERD_TYPE_Q6_K},
    {HERD_FTYPE_MOSTLY_F16, "F16", HERD_TYPE_F16},
    {HERD_FTYPE_MOSTLY_BF16, "BF16", HERD_TYPE_BF16},
    {HERD_FTYPE_ALL_F32, "F32", HERD_TYPE_F32},
};
#define N_FTYPES (int)(sizeof ftypes / sizeof *ftypes)

herd_status herd_ftype_parse(const char *s, herd_ftype *out)
{
    for (int i = 0; i < N_FTYPES; i++)
        if (!strcasecmp(s, ftypes[i].name)) {
            *out = ftypes[i].f;
            return HERD_OK;
        }
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end)
        for (int i = 0; i < N_FTYPES; i++)
            if (v == (long)ftypes[i].f) {
                *out = ftypes[i].f;
                return HERD_OK;
            }
    return herd_fail(HERD_E_ARG, "unknown type '%s' (Q8_0, Q4_0, Q4_K_M, Q6_K, F16, BF16 "
                     "or F32)", s);
}

const char *herd_ftype_name(herd_ftype f)
{
    for (int i = 0; i < N_FTYPES; i++)
        if (ftypes[i].f == f)
            return ftypes[i].name;
    return "unknown";
}

herd_type herd_ftype_base(herd_ftype f)
{
    for (int i = 0; i < N_FTYPES; i++)
        if (ftypes[i].f == f)
            return ftypes[i].base;
    return HERD_TYPE_F32;
}

/* llama.cpp's use_more_bits (l. 434-436). */
static int use_more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static int64_t block_of(herd_type t)
{
    const herd_qtraits *q = herd_qtraits_get((herd_qtype)t);
    return q ? q->blck : 1;
}

static int is_block_type(herd_type t)
{
    return herd_type_size(t) == 0;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && !strcmp(s + n - k, tail);
}

/* The layer of a "blk.N." tensor, -1 for others. */
static int layer_of(const char *name)
{
    int l, end = 0;
    if (sscanf(name, "blk.%d.%n", &l, &end) == 1 && end > 0)
        return l;
    return -1;
}

/* The type llama.cpp's mix gives a matrix of a quantized file type, before
 * the row-length fallback (llama_tensor_get_type_impl). */
static herd_type mix_type(herd_ftype f, const char *name, int64_t cols, int n_layers, int tied)
{
    herd_type base = herd_ftype_base(f);
    int is_output = !strcmp(name, "output.weight") ||
                    (tied && !strcmp(name, "token_embd.weight"));
    if (is_output) {
        if (cols % block_of(base) != 0)
            return HERD_TYPE_Q8_0;
        return base == HERD_TYPE_Q8_0 ? base : HERD_TYPE_Q6_K;
    }
    int l = layer_of(name);
    if (f == HERD_FTYPE_MOSTLY_Q4_K_M && l >= 0 && l < n_layers &&
        (strstr(name, "attn_v.weight") || strstr(name, "ffn_down")) &&
        use_more_bits(l, n_layers))
        return HERD_TYPE_Q6_K;
    return base;
}

herd_quant_pick herd_quant_pick_type(herd_ftype f, const char *name, int n_dims,
                                     int64_t cols, int n_layers, int tied)
{
    herd_type base = herd_ftype_base(f);
    herd_quant_pick p = {HERD_TYPE_F32, HERD_TYPE_F32, 0, NULL};
    /* tensor_allows_quantization: matrices named *weight, not norms */
    if (n_dims < 2 || !ends_with(name, "weight") || strstr(name, "_norm.weight"))
        return p;
    p.type = p.wanted = is_block_type(base) ? mix_type(f, name, cols, n_layers, tied) : base;
    if (!is_block_type(p.wanted) || cols % block_of(p.wanted) == 0)
        return p;
    p.fallback = 1;
    if (p.wanted == HERD_TYPE_Q4_K) {
        p.type = HERD_TYPE_Q8_0;       /* llama.cpp: Q5_0, which herd lacks */
        p.llamacpp = cols % 32 == 0 ? "Q5_0" : "F16";
    } else if (p.wanted == HERD_TYPE_Q6_K) {
        p.type = HERD_TYPE_Q8_0;       /* as llama.cpp */
        p.llamacpp = cols % 32 == 0 ? "Q8_0" : "F16";
    } else {
        p.type = HERD_TYPE_F16;        /* Q8_0, Q4_0: rows not a multiple of 32 */
        p.llamacpp = "F16";
    }
    if (cols % block_of(p.type) != 0)
        p.type = HERD_TYPE_F16;
    return p;
}

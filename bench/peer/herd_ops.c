/* herd_ops.c - herd's decoding kernels on llama.cpp's own tensors of one
 * step: each operation fed llama.cpp's input and compared with llama.cpp's
 * output, bit for bit (kernels/order.h says why herd rounds as llama.cpp).
 *
 *   herd_ops MODEL.gguf PREFIX STEP
 *
 * PREFIX: the folders llamacpp_margins -tensors PREFIX<K> -tensor-step K
 * wrote for K = 0..STEP of the same greedy run (OPS=K bench/greedy_llamacpp.sh
 * makes them; a context of 256 cells, f32 KV cache). Prints each operation
 * whose output differs from llama.cpp's in some layer; exit status 1 if any. */
#include "model/model.h"
#include "model/linear.h"
#include "kernels/kernels.h"
#include "quant/quant.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_KV = 256 }; /* llama.cpp's cells: the context llamacpp_margins asks for */

static const char *prefix;

/* Per operation: layers where some float differs, the largest difference. */
enum { N_OPS = 11 };
static const char *const op_names[N_OPS] = {"rmsnorm", "wq", "wv", "rope", "attention", "wo",
                                            "ffn_norm", "gate", "up", "swiglu", "down"};
static int op_layers[N_OPS], op_bad[N_OPS];
static double op_worst[N_OPS];

/* llama.cpp's tensor NAME (after operation OP) of step s, n floats. */
static float *tensor(int s, const char *name, const char *op, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s%d/%s.%s.f32", prefix, s, name, op);
    FILE *f = fopen(p, "rb");
    float *x = malloc(n * sizeof *x);
    if (!f || !x || fread(x, sizeof *x, n, f) != n) {
        fprintf(stderr, "herd_ops: cannot read %zu floats from %s\n", n, p);
        exit(2);
    }
    fclose(f);
    return x;
}

static void compare(const char *what, const float *got, const float *want, size_t n)
{
    int op = 0;
    while (strcmp(op_names[op], what)) /* one of op_names */
        op++;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(got + i, want + i, sizeof *got)) {
            bad++;
            op_worst[op] = fmax(op_worst[op], fabs((double)got[i] - want[i]));
        }
    op_layers[op]++;
    op_bad[op] += bad > 0;
}

#define LAYER_TENSOR(var, name, op, n) \
    char var##_n[64]; snprintf(var##_n, sizeof var##_n, "%s-%d", name, l); \
    float *var = tensor(step, var##_n, op, n)

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: herd_ops MODEL.gguf PREFIX STEP\n");
        return 2;
    }
    herd_model *m;
    prefix = argv[2];
    const int step = atoi(argv[3]);
    if (herd_model_open(argv[1], &m) != HERD_OK) { /* prepared, as herd runs it */
        fprintf(stderr, "herd_ops: %s\n", herd_last_error());
        return 2;
    }
    const herd_config *c = &m->cfg;
    const int dim = c->dim, hid = c->hidden_dim, hd = dim / c->n_heads;
    const int kvd = hd * c->n_kv_heads, group = c->n_heads / c->n_kv_heads, n = step + 1;
    const int simd = herd_simd_active() >= HERD_SIMD_AVX512;
    void *xq = malloc(HERD_LINEAR_BLOCK_ROWS * herd_linear_xq_bytes(hid > dim ? hid : dim));
    float *tile = malloc(sizeof(float) * herd_linear_tile_floats(hid > dim ? hid : dim));
    float *y = malloc(sizeof(float) * (hid > dim ? hid : dim));
    float *ct = malloc(sizeof(float) * n * hd / 2), *st = malloc(sizeof(float) * n * hd / 2);
    float *v = malloc(sizeof(float) * n * kvd), *scr = malloc(sizeof(float) * group * n);
    herd_rope_table_f32(ct, st, n, hd / 2, c->rope_theta, NULL, 1.0f);
    for (int l = 0; l < c->n_layers; l++) {
        const herd_layer_weights *L = &m->w.layers[l];
        char prev[64];
        snprintf(prev, sizeof prev, "l_out-%d", l - 1);
        float *in = l ? tensor(step, prev, "ADD", dim) : tensor(step, "embd", "GET_ROWS", dim);
        LAYER_TENSOR(an, "attn_norm", "MUL", dim);
        herd_rmsnorm(y, in, L->attn_norm.data, dim, c->norm_eps);
        compare("rmsnorm", y, an, dim);
        LAYER_TENSOR(qm, "Qcur", "MUL_MAT", dim);
        LAYER_TENSOR(qr, "Qcur", "ROPE", dim);
        LAYER_TENSOR(vc, "Vcur", "MUL_MAT", kvd);
        herd_linear(y, an, &L->wq, 1, dim, dim, xq, tile);
        compare("wq", y, qm, dim);
        herd_linear(y, an, &L->wv, 1, dim, kvd, xq, tile);
        compare("wv", y, vc, kvd);
        memcpy(y, qm, sizeof(float) * dim);
        herd_rope(y, c->n_heads, hd, ct + (size_t)step * hd / 2, st + (size_t)step * hd / 2,
                  c->rope_layout);
        compare("rope", y, qr, dim);
        /* attention over llama.cpp's K cache and each step's V */
        char kn[64];
        snprintf(kn, sizeof kn, "cache_k_l%d__view_", l);
        float *kc = tensor(step, kn, "VIEW", (size_t)kvd * N_KV);
        for (int s = 0; s <= step; s++) {
            char vn[64];
            snprintf(vn, sizeof vn, "Vcur-%d", l);
            float *vs = tensor(s, vn, "MUL_MAT", kvd);
            memcpy(v + (size_t)s * kvd, vs, sizeof(float) * kvd);
            free(vs);
        }
        LAYER_TENSOR(kqv, "kqv_out", "CONT", dim);
        const int table[1] = {0};
        for (int kh = 0; kh < c->n_kv_heads; kh++) {
            float *o = y + (size_t)kh * group * hd;
            const float *q = qr + (size_t)kh * group * hd;
            if (!simd || !herd_attention_group_paged_avx512(o, q, group, kc + kh * hd,
                                                            v + kh * hd, table, N_KV, 0, n,
                                                            hd, kvd, scr))
                for (int h = 0; h < group; h++)
                    herd_attention_head_paged(o + h * hd, q + h * hd, kc + kh * hd, v + kh * hd,
                                              table, N_KV, 0, n, hd, kvd, scr);
        }
        compare("attention", y, kqv, dim);
        LAYER_TENSOR(ao, "attn_out", "MUL_MAT", dim);
        herd_linear(y, kqv, &L->wo, 1, dim, dim, xq, tile);
        compare("wo", y, ao, dim);
        LAYER_TENSOR(fi, "ffn_inp", "ADD", dim);
        LAYER_TENSOR(fn, "ffn_norm", "MUL", dim);
        herd_rmsnorm(y, fi, L->ffn_norm.data, dim, c->norm_eps);
        compare("ffn_norm", y, fn, dim);
        LAYER_TENSOR(fg, "ffn_gate", "MUL_MAT", hid);
        LAYER_TENSOR(fu, "ffn_up", "MUL_MAT", hid);
        herd_linear(y, fn, &L->w1, 1, dim, hid, xq, tile);
        compare("gate", y, fg, hid);
        herd_linear(y, fn, &L->w3, 1, dim, hid, xq, tile);
        compare("up", y, fu, hid);
        LAYER_TENSOR(sw, "ffn_swiglu", "SWIGLU", hid);
        (simd ? herd_swiglu_avx512 : herd_swiglu)(y, fg, fu, hid);
        compare("swiglu", y, sw, hid);
        LAYER_TENSOR(fo, "ffn_out", "MUL_MAT", dim);
        herd_linear(y, sw, &L->w2, 1, hid, dim, xq, tile);
        compare("down", y, fo, dim);
        free(in); free(an); free(qm); free(qr); free(vc); free(kc); free(kqv); free(ao);
        free(fi); free(fn); free(fg); free(fu); free(sw); free(fo);
    }
    int differ = 0;
    for (int op = 0; op < N_OPS; op++) {
        differ += op_bad[op] > 0;
        if (op_bad[op])
            printf("%s: differs in %d of %d layers (largest difference %.3g)\n", op_names[op],
                   op_bad[op], op_layers[op], op_worst[op]);
    }
    if (!differ)
        printf("every operation of every layer gives llama.cpp's floats\n");
    herd_model_free(m);
    free(xq); free(tile); free(y); free(ct); free(st); free(v); free(scr);
    return differ ? 1 : 0;
}

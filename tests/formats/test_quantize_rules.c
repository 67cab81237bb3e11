/* llama.cpp's choice of a type for each tensor (herd_quant_pick_type)
 * against tables written out by hand from llama.cpp's src/llama-quant.cpp
 * for published shapes: Llama 2 7B (32 layers), TinyLlama (22),
 * stories260K (5 layers, rows of 64 and 172 values), with tied and untied
 * output; the file type names and numbers of llama-quantize; and the
 * metadata copy (herd_gguf_copy_metadata) byte for byte on a GGUF holding
 * every value type, nested arrays included. */
#include "test.h"
#include "formats/quantize.h"
#include "base/error.h"

#define Q80 HERD_TYPE_Q8_0
#define Q40 HERD_TYPE_Q4_0
#define Q4K HERD_TYPE_Q4_K
#define Q6K HERD_TYPE_Q6_K
#define F16 HERD_TYPE_F16
#define F32 HERD_TYPE_F32

static herd_type pick(herd_ftype f, const char *name, int64_t cols, int n_layers, int tied)
{
    return herd_quant_pick_type(f, name, 2, cols, n_layers, tied).type;
}

static void test_parse(void)
{
    static const struct { const char *s; herd_ftype f; } good[] = {
        {"Q8_0", HERD_FTYPE_MOSTLY_Q8_0}, {"q8_0", HERD_FTYPE_MOSTLY_Q8_0},
        {"7", HERD_FTYPE_MOSTLY_Q8_0}, {"Q4_0", HERD_FTYPE_MOSTLY_Q4_0},
        {"2", HERD_FTYPE_MOSTLY_Q4_0}, {"Q4_K_M", HERD_FTYPE_MOSTLY_Q4_K_M},
        {"q4_k_m", HERD_FTYPE_MOSTLY_Q4_K_M}, {"15", HERD_FTYPE_MOSTLY_Q4_K_M},
        {"Q6_K", HERD_FTYPE_MOSTLY_Q6_K}, {"18", HERD_FTYPE_MOSTLY_Q6_K},
        {"f16", HERD_FTYPE_MOSTLY_F16}, {"1", HERD_FTYPE_MOSTLY_F16},
        {"BF16", HERD_FTYPE_MOSTLY_BF16}, {"32", HERD_FTYPE_MOSTLY_BF16},
        {"F32", HERD_FTYPE_ALL_F32}, {"0", HERD_FTYPE_ALL_F32}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        herd_ftype f = (herd_ftype)-1;
        CHECK_OK(herd_ftype_parse(good[i].s, &f));
        CHECK_MSG(f == good[i].f, "%s", good[i].s);
    }
    const char *bad[] = {"", "Q4_K", "Q5_K_M", "Q4_K_S", "q4_1", "3", "15x", "COPY", "f64"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        herd_ftype f;
        CHECK_FAILS(herd_ftype_parse(bad[i], &f), HERD_E_ARG);
    }
    CHECK(!strcmp(herd_ftype_name(HERD_FTYPE_MOSTLY_Q4_K_M), "Q4_K_M"));
    CHECK(herd_ftype_base(HERD_FTYPE_MOSTLY_Q4_K_M) == Q4K);
    CHECK(herd_ftype_base(HERD_FTYPE_MOSTLY_BF16) == HERD_TYPE_BF16);
}

/* Layers whose attn_v and ffn_down get Q6_K in Q4_K_M, as llama.cpp's
 * use_more_bits picks them, listed by hand. */
static void test_q4_k_m_layers(int n_layers, const int *more, int n_more)
{
    for (int l = 0; l < n_layers; l++) {
        int want_more = 0;
        for (int k = 0; k < n_more; k++)
            want_more |= more[k] == l;
        char v[64], d[64], q[64], g[64];
        snprintf(v, sizeof v, "blk.%d.attn_v.weight", l);
        snprintf(d, sizeof d, "blk.%d.ffn_down.weight", l);
        snprintf(q, sizeof q, "blk.%d.attn_q.weight", l);
        snprintf(g, sizeof g, "blk.%d.ffn_gate.weight", l);
        herd_type want = want_more ? Q6K : Q4K;
        CHECK_MSG(pick(HERD_FTYPE_MOSTLY_Q4_K_M, v, 4096, n_layers, 0) == want, "%d/%d %s",
                  l, n_layers, v);
        CHECK_MSG(pick(HERD_FTYPE_MOSTLY_Q4_K_M, d, 11008, n_layers, 0) == want, "%d/%d %s",
                  l, n_layers, d);
        CHECK(pick(HERD_FTYPE_MOSTLY_Q4_K_M, q, 4096, n_layers, 0) == Q4K);
        CHECK(pick(HERD_FTYPE_MOSTLY_Q4_K_M, g, 4096, n_layers, 0) == Q4K);
        /* the other file types have no per-layer mix */
        CHECK(pick(HERD_FTYPE_MOSTLY_Q6_K, v, 4096, n_layers, 0) == Q6K);
        CHECK(pick(HERD_FTYPE_MOSTLY_Q4_0, d, 11008, n_layers, 0) == Q40);
        CHECK(pick(HERD_FTYPE_MOSTLY_Q8_0, v, 4096, n_layers, 0) == Q80);
    }
}

/* Llama 2 7B: dim 4096 (a multiple of 256), vocabulary 32000. */
static void test_llama2_7b(void)
{
    static const int more32[] = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31};
    test_q4_k_m_layers(32, more32, 16);
    static const int more22[] = {0, 1, 4, 7, 10, 13, 16, 19, 20, 21};
    test_q4_k_m_layers(22, more22, 10);
    static const int more5[] = {2, 4};
    test_q4_k_m_layers(5, more5, 2);
    static const int more2[] = {1};
    test_q4_k_m_layers(2, more2, 1);

    /* output and token embedding */
    static const struct { herd_ftype f; herd_type out, embd, embd_tied; } oe[] = {
        {HERD_FTYPE_MOSTLY_Q4_K_M, Q6K, Q4K, Q6K},
        {HERD_FTYPE_MOSTLY_Q4_0, Q6K, Q40, Q6K},
        {HERD_FTYPE_MOSTLY_Q6_K, Q6K, Q6K, Q6K},
        {HERD_FTYPE_MOSTLY_Q8_0, Q80, Q80, Q80},
        {HERD_FTYPE_MOSTLY_F16, F16, F16, F16},
        {HERD_FTYPE_MOSTLY_BF16, HERD_TYPE_BF16, HERD_TYPE_BF16, HERD_TYPE_BF16},
        {HERD_FTYPE_ALL_F32, F32, F32, F32}};
    for (size_t i = 0; i < sizeof oe / sizeof *oe; i++) {
        CHECK(pick(oe[i].f, "output.weight", 4096, 32, 0) == oe[i].out);
        CHECK(pick(oe[i].f, "token_embd.weight", 4096, 32, 0) == oe[i].embd);
        CHECK(pick(oe[i].f, "token_embd.weight", 4096, 32, 1) == oe[i].embd_tied);
        CHECK(!herd_quant_pick_type(oe[i].f, "output.weight", 2, 4096, 32, 0).fallback);
    }
    /* vectors and norms are never quantized */
    const char *vec[] = {"blk.0.attn_norm.weight", "blk.3.ffn_norm.weight",
                         "output_norm.weight", "rope_freqs.weight"};
    for (size_t i = 0; i < sizeof vec / sizeof *vec; i++) {
        herd_quant_pick p = herd_quant_pick_type(HERD_FTYPE_MOSTLY_Q4_K_M, vec[i], 1, 4096, 32, 0);
        CHECK(p.type == F32 && !p.fallback);
    }
}

/* stories260K: dim 64, hidden 172, 5 layers, tied. No row is a whole
 * number of 256-value blocks; 172 is no multiple of 32 either. */
static void test_fallbacks(void)
{
    static const struct {
        herd_ftype f;
        const char *name;
        int64_t cols;
        herd_type type, wanted;
        int fallback;
        const char *llamacpp;
    } t[] = {
        {HERD_FTYPE_MOSTLY_Q4_K_M, "blk.0.attn_q.weight", 64, Q80, Q4K, 1, "Q5_0"},
        {HERD_FTYPE_MOSTLY_Q4_K_M, "blk.2.attn_v.weight", 64, Q80, Q6K, 1, "Q8_0"},
        {HERD_FTYPE_MOSTLY_Q4_K_M, "blk.1.attn_v.weight", 64, Q80, Q4K, 1, "Q5_0"},
        {HERD_FTYPE_MOSTLY_Q4_K_M, "blk.0.ffn_down.weight", 172, F16, Q4K, 1, "F16"},
        {HERD_FTYPE_MOSTLY_Q4_K_M, "blk.4.ffn_down.weight", 172, F16, Q6K, 1, "F16"},
        /* the output rule itself picks Q8_0 for rows that miss the block */
        {HERD_FTYPE_MOSTLY_Q4_K_M, "token_embd.weight", 64, Q80, Q80, 0, NULL},
        {HERD_FTYPE_MOSTLY_Q6_K, "blk.0.ffn_up.weight", 64, Q80, Q6K, 1, "Q8_0"},
        {HERD_FTYPE_MOSTLY_Q6_K, "token_embd.weight", 64, Q80, Q80, 0, NULL},
        /* Q4_0: 64 fits, the output's Q6_K does not */
        {HERD_FTYPE_MOSTLY_Q4_0, "blk.0.attn_q.weight", 64, Q40, Q40, 0, NULL},
        {HERD_FTYPE_MOSTLY_Q4_0, "token_embd.weight", 64, Q80, Q6K, 1, "Q8_0"},
        /* 32-value types whose rows miss their block: F16 */
        {HERD_FTYPE_MOSTLY_Q4_0, "blk.3.ffn_down.weight", 172, F16, Q40, 1, "F16"},
        {HERD_FTYPE_MOSTLY_Q8_0, "blk.3.ffn_down.weight", 172, F16, Q80, 1, "F16"},
        {HERD_FTYPE_MOSTLY_Q8_0, "blk.3.ffn_gate.weight", 64, Q80, Q80, 0, NULL},
        /* float file types never fall back */
        {HERD_FTYPE_MOSTLY_F16, "blk.3.ffn_down.weight", 172, F16, F16, 0, NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        herd_quant_pick p = herd_quant_pick_type(t[i].f, t[i].name, 2, t[i].cols, 5, 1);
        CHECK_MSG(p.type == t[i].type && p.wanted == t[i].wanted &&
                  p.fallback == t[i].fallback &&
                  (t[i].llamacpp ? p.llamacpp && !strcmp(p.llamacpp, t[i].llamacpp)
                                 : !p.llamacpp),
                  "case %zu %s %s: got %s (wanted %s, fallback %d, llama.cpp %s)", i,
                  herd_ftype_name(t[i].f), t[i].name, herd_type_name(p.type),
                  herd_type_name(p.wanted), p.fallback, p.llamacpp ? p.llamacpp : "-");
    }
}

/* ---- the metadata copy ---- */

typedef struct {
    size_t start, end;   /* byte range of the pair in the buffer */
} span;

static void kv_begin(herd_gbuf *b, span *s, const char *key, uint32_t type)
{
    s->start = b->n;
    herd_gbuf_str(b, key, strlen(key));
    herd_gbuf_u32(b, type);
}

static void put_u(herd_gbuf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        uint8_t c = (uint8_t)(v >> (8 * i));
        herd_gbuf_put(b, &c, 1);
    }
}

/* The pairs: every scalar type, a string, arrays of numbers and strings,
 * an array of arrays, and the keys herd replaces or drops. */
static int build_pairs(herd_gbuf *b, span *s)
{
    int n = 0;
    static const int sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    for (uint32_t t = 0; t < 13; t++) {
        if (!sizes[t])
            continue;
        char key[32];
        snprintf(key, sizeof key, "test.scalar%u", t);
        kv_begin(b, &s[n], key, t);
        put_u(b, 0x0102030405060708ull + t, sizes[t]);
        s[n++].end = b->n;
    }
    kv_begin(b, &s[n], "general.alignment", HERD_GGUF_UINT32);
    herd_gbuf_u32(b, 64);
    s[n++].end = b->n;
    kv_begin(b, &s[n], "test.string", HERD_GGUF_STRING);
    herd_gbuf_str(b, "h\xc3\xa9llo", 6);
    s[n++].end = b->n;
    kv_begin(b, &s[n], "general.file_type", HERD_GGUF_UINT32);
    herd_gbuf_u32(b, 0);
    s[n++].end = b->n;
    kv_begin(b, &s[n], "split.count", HERD_GGUF_UINT16);
    put_u(b, 3, 2);
    s[n++].end = b->n;
    kv_begin(b, &s[n], "test.f32s", HERD_GGUF_ARRAY);
    herd_gbuf_u32(b, HERD_GGUF_FLOAT32);
    herd_gbuf_u64(b, 3);
    for (int i = 0; i < 3; i++)
        herd_gbuf_f32(b, 0.5f * (float)i);
    s[n++].end = b->n;
    kv_begin(b, &s[n], "test.strings", HERD_GGUF_ARRAY);
    herd_gbuf_u32(b, HERD_GGUF_STRING);
    herd_gbuf_u64(b, 3);
    herd_gbuf_str(b, "", 0);
    herd_gbuf_str(b, "ab", 2);
    herd_gbuf_str(b, "\xe2\x96\x81x", 4);
    s[n++].end = b->n;
    kv_begin(b, &s[n], "test.nested", HERD_GGUF_ARRAY);
    herd_gbuf_u32(b, HERD_GGUF_ARRAY);
    herd_gbuf_u64(b, 2);
    herd_gbuf_u32(b, HERD_GGUF_INT32);
    herd_gbuf_u64(b, 2);
    herd_gbuf_u32(b, 7);
    herd_gbuf_u32(b, 8);
    herd_gbuf_u32(b, HERD_GGUF_STRING);
    herd_gbuf_u64(b, 1);
    herd_gbuf_str(b, "deep", 4);
    s[n++].end = b->n;
    kv_begin(b, &s[n], "test.empty", HERD_GGUF_ARRAY);
    herd_gbuf_u32(b, HERD_GGUF_UINT8);
    herd_gbuf_u64(b, 0);
    s[n++].end = b->n;
    return n;
}

static void test_copy_metadata(void)
{
    herd_gbuf file = {0}, want = {0}, got = {0};
    span s[32];
    herd_gbuf_put(&file, "GGUF", 4);
    herd_gbuf_u32(&file, 3);
    herd_gbuf_u64(&file, 0);
    size_t n_kv_at = file.n;
    herd_gbuf_u64(&file, 0);
    int n = build_pairs(&file, s);
    for (int i = 0; i < 8; i++)
        file.p[n_kv_at + i] = (uint8_t)((uint64_t)n >> (8 * i));
    CHECK(!file.oom);

    herd_gguf g;
    CHECK_OK(herd_gguf_parse("pairs.gguf", file.p, file.n, &g));
    herd_gguf_copy_metadata(&got, &g, 15, 2);

    /* Expected: each pair's bytes as they were, alignment 32, file type
     * 15, no split.count, then the quantization version. */
    for (int i = 0; i < n; i++) {
        const char *key = (const char *)file.p + s[i].start + 8;
        if (!strncmp(key, "general.alignment", 17))
            herd_gbuf_kv_u32(&want, "general.alignment", 32);
        else if (!strncmp(key, "general.file_type", 17))
            herd_gbuf_kv_u32(&want, "general.file_type", 15);
        else if (strncmp(key, "split.", 6) != 0)
            herd_gbuf_put(&want, file.p + s[i].start, s[i].end - s[i].start);
    }
    herd_gbuf_kv_u32(&want, "general.quantization_version", 2);
    CHECK(got.n == want.n && !memcmp(got.p, want.p, want.n));
    CHECK(got.n_kv == (uint64_t)n);  /* one dropped, one added */

    /* without a quantization version and with no file type to replace */
    herd_gbuf_free(&got);
    g.n_kv = 3;  /* the first three scalars only */
    herd_gguf_copy_metadata(&got, &g, 7, 0);
    herd_gbuf_free(&want);
    herd_gbuf_put(&want, file.p + s[0].start, s[2].end - s[0].start);
    herd_gbuf_kv_u32(&want, "general.file_type", 7);
    CHECK(got.n == want.n && !memcmp(got.p, want.p, want.n) && got.n_kv == 4);
    herd_gguf_free(&g);
    herd_gbuf_free(&got);
    herd_gbuf_free(&want);
    herd_gbuf_free(&file);
}

int main(void)
{
    test_parse();
    test_llama2_7b();
    test_fallbacks();
    test_copy_metadata();
    TEST_END();
}

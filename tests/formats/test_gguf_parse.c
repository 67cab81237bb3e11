/* The GGUF parser and loader on files built byte by byte here (an encoder
 * independent of herd's writer): every value type, lookups, and every kind
 * of damage -- truncation at each length, flipped bytes, absurd counts,
 * overlapping or misaligned tensors, unknown types, wrong magic or
 * architecture. Buffers are allocated at their exact size so that the
 * sanitizer build catches any read past the end. */
#include "test.h"
#include "formats/gguf.h"
#include "base/error.h"
#include "base/half.h"
#include "tokenizer/tokenizer.h"
#include <stdint.h>
#include <unistd.h>

/* ---- a tiny GGUF encoder ---- */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (n == 0)
        return;
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void u8(buf *b, uint8_t v) { put(b, &v, 1); }
static void u16(buf *b, uint16_t v) { put(b, &v, 2); }
static void u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void f32(buf *b, float v) { put(b, &v, 4); }
static void f64(buf *b, double v) { put(b, &v, 8); }
static void str(buf *b, const char *s) { u64(b, strlen(s)); put(b, s, strlen(s)); }
static void key(buf *b, const char *k, uint32_t t) { str(b, k); u32(b, t); }
static void kv_u32(buf *b, const char *k, uint32_t v) { key(b, k, 4); u32(b, v); }
static void kv_str(buf *b, const char *k, const char *v) { key(b, k, 8); str(b, v); }
static void kv_f32(buf *b, const char *k, float v) { key(b, k, 6); f32(b, v); }
static void header(buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    put(b, "GGUF", 4);
    u32(b, version);
    u64(b, n_tensors);
    u64(b, n_kv);
}

typedef struct {
    const char *name;
    uint32_t type;       /* 0 F32, 1 F16, else raw bytes of zeros */
    uint32_t n_dims;
    uint64_t ne[4];
    uint64_t nbytes;     /* for other types */
} tdesc;

static uint64_t tbytes(const tdesc *t)
{
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->n_dims && d < 4; d++)
        n *= t->ne[d];
    return t->type == 0 ? 4 * n : t->type == 1 ? 2 * n : t->nbytes;
}

/* Value of element i of tensor k. */
static float tval(int k, uint64_t i) { return (float)k + 0.25f * (float)i; }

/* Tensor infos, padding and data; no padding after the last tensor, so
 * that every truncation cuts real data. */
static void tensors(buf *b, const tdesc *t, int n, uint64_t align)
{
    uint64_t off = 0;
    for (int k = 0; k < n; k++) {
        str(b, t[k].name);
        u32(b, t[k].n_dims);
        for (uint32_t d = 0; d < t[k].n_dims; d++)
            u64(b, d < 4 ? t[k].ne[d] : 1);
        u32(b, t[k].type);
        u64(b, off);
        off += (tbytes(&t[k]) + align - 1) / align * align;
    }
    while (b->n % align)
        u8(b, 0);
    for (int k = 0; k < n; k++) {
        uint64_t nb = tbytes(&t[k]);
        for (uint64_t i = 0; t[k].type <= 1 && i < nb / (t[k].type ? 2 : 4); i++) {
            if (t[k].type == 0)
                f32(b, tval(k, i));
            else
                u16(b, herd_f32_to_f16(tval(k, i)));
        }
        for (uint64_t i = 0; t[k].type > 1 && i < nb; i++)
            u8(b, 0);
        if (k + 1 < n)
            while (b->n % align)
                u8(b, 0);
    }
}

/* Parses a copy of n bytes in a buffer of exactly that size. */
static herd_status parse_copy(const unsigned char *d, size_t n, herd_gguf *g)
{
    unsigned char *c = malloc(n ? n : 1);
    if (n)
        memcpy(c, d, n);
    herd_status s = herd_gguf_parse("t.gguf", c, n, g);
    herd_gguf_free(g);
    free(c);
    return s;
}

static herd_status parse_buf(const buf *b)
{
    herd_gguf g;
    return parse_copy(b->p, b->n, &g);
}

/* ---- every value type and the lookups ---- */

static void build_all_types(buf *b)
{
    header(b, 3, 2, 16);
    key(b, "u8", 0); u8(b, 200);
    key(b, "i8", 1); u8(b, (uint8_t)-5);
    key(b, "u16", 2); u16(b, 60000);
    key(b, "i16", 3); u16(b, (uint16_t)-30000);
    kv_u32(b, "u32", 4000000000u);
    key(b, "i32", 5); u32(b, (uint32_t)-2000000000);
    kv_f32(b, "f32", 1.5f);
    key(b, "bool", 7); u8(b, 1);
    kv_str(b, "str", "hello");
    key(b, "arr_u8", 9); u32(b, 0); u64(b, 3); u8(b, 1); u8(b, 2); u8(b, 3);
    key(b, "arr_str", 9); u32(b, 8); u64(b, 2); str(b, "a"); str(b, "bc");
    key(b, "nested", 9); u32(b, 9); u64(b, 2);
    u32(b, 5); u64(b, 1); u32(b, 7);            /* [7] */
    u32(b, 8); u64(b, 1); str(b, "deep");       /* ["deep"] */
    key(b, "u64_big", 10); u64(b, (1ull << 63) + 5);
    key(b, "i64", 11); u64(b, (uint64_t)-7);
    key(b, "f64", 12); f64(b, 2.25);
    key(b, "arr_f32", 9); u32(b, 6); u64(b, 2); f32(b, 0.5f); f32(b, -1.0f);
    tdesc t[2] = {{"a", 0, 2, {3, 2}, 0}, {"b", 1, 1, {4}, 0}};
    tensors(b, t, 2, 32);
}

static void test_all_types(void)
{
    buf b = {0};
    build_all_types(&b);
    herd_gguf g;
    CHECK_OK(herd_gguf_parse("t.gguf", b.p, b.n, &g));
    int64_t i;
    double d;
    int bo;
    herd_gguf_str s;
    const herd_gguf_kv *kv;
    CHECK(herd_gguf_get_int(&g, "u8", &i) == HERD_GGUF_FOUND && i == 200);
    CHECK(herd_gguf_get_int(&g, "i8", &i) == HERD_GGUF_FOUND && i == -5);
    CHECK(herd_gguf_get_int(&g, "u16", &i) == HERD_GGUF_FOUND && i == 60000);
    CHECK(herd_gguf_get_int(&g, "i16", &i) == HERD_GGUF_FOUND && i == -30000);
    CHECK(herd_gguf_get_int(&g, "u32", &i) == HERD_GGUF_FOUND && i == 4000000000LL);
    CHECK(herd_gguf_get_int(&g, "i32", &i) == HERD_GGUF_FOUND && i == -2000000000LL);
    CHECK(herd_gguf_get_int(&g, "i64", &i) == HERD_GGUF_FOUND && i == -7);
    CHECK(herd_gguf_get_int(&g, "u64_big", &i) == HERD_GGUF_WRONG_TYPE);
    CHECK(herd_gguf_get_int(&g, "str", &i) == HERD_GGUF_WRONG_TYPE);
    CHECK(herd_gguf_get_int(&g, "nope", &i) == HERD_GGUF_MISSING);
    CHECK(herd_gguf_get_float(&g, "f32", &d) == HERD_GGUF_FOUND && d == 1.5);
    CHECK(herd_gguf_get_float(&g, "f64", &d) == HERD_GGUF_FOUND && d == 2.25);
    CHECK(herd_gguf_get_float(&g, "u8", &d) == HERD_GGUF_WRONG_TYPE);
    CHECK(herd_gguf_get_bool(&g, "bool", &bo) == HERD_GGUF_FOUND && bo == 1);
    CHECK(herd_gguf_get_bool(&g, "u8", &bo) == HERD_GGUF_WRONG_TYPE);
    CHECK(herd_gguf_get_str(&g, "str", &s) == HERD_GGUF_FOUND && herd_gguf_str_eq(s, "hello"));
    CHECK(herd_gguf_get_str(&g, "arr_str", &s) == HERD_GGUF_WRONG_TYPE);
    CHECK(herd_gguf_get_array(&g, "arr_u8", HERD_GGUF_UINT8, &kv) == HERD_GGUF_FOUND);
    CHECK(kv->arr_n == 3 && herd_gguf_arr_int(kv, 2) == 3 && herd_gguf_arr_int(kv, 3) == 0);
    CHECK(herd_gguf_get_array(&g, "arr_u8", HERD_GGUF_INT32, &kv) == HERD_GGUF_WRONG_TYPE);
    CHECK(herd_gguf_get_array(&g, "arr_f32", HERD_GGUF_FLOAT32, &kv) == HERD_GGUF_FOUND);
    CHECK(herd_gguf_arr_float(kv, 0) == 0.5 && herd_gguf_arr_float(kv, 1) == -1.0);
    CHECK(herd_gguf_get_array(&g, "arr_str", HERD_GGUF_STRING, &kv) == HERD_GGUF_FOUND);
    const char *p[2];
    size_t len[2];
    herd_gguf_arr_strings(kv, p, len);
    CHECK(len[0] == 1 && memcmp(p[0], "a", 1) == 0 && len[1] == 2 && memcmp(p[1], "bc", 2) == 0);
    CHECK(herd_gguf_get_array(&g, "nested", -1, &kv) == HERD_GGUF_FOUND &&
          kv->arr_type == HERD_GGUF_ARRAY && kv->arr_n == 2);
    CHECK(g.version == 3 && g.alignment == 32 && g.data_start % 32 == 0);
    const herd_gguf_tensor *a = herd_gguf_find_tensor(&g, "a");
    const herd_gguf_tensor *bt = herd_gguf_find_tensor(&g, "b");
    CHECK(herd_gguf_find_tensor(&g, "c") == NULL);
    CHECK(a && a->n_dims == 2 && a->ne[0] == 3 && a->ne[1] == 2 && a->ne[2] == 1 &&
          a->nbytes == 24 && a->type == 0);
    CHECK(bt && bt->n_dims == 1 && bt->ne[0] == 4 && bt->nbytes == 8 && bt->type == 1);
    if (a && bt) {
        CHECK(((const float *)a->data)[5] == tval(0, 5));
        CHECK(herd_f16_to_f32(((const uint16_t *)bt->data)[3]) == tval(1, 3));
        CHECK((const unsigned char *)bt->data + 8 == b.p + b.n);
    }
    herd_gguf_free(&g);
    free(b.p);
}

/* ---- damage ---- */

static void test_truncations(void)
{
    buf b = {0};
    build_all_types(&b);
    int bad = 0;
    for (size_t n = 0; n < b.n; n++) {
        herd_gguf g;
        herd_status s = parse_copy(b.p, n, &g);
        if (s != HERD_E_FORMAT) {
            bad++;
            fprintf(stderr, "truncated to %zu: %d %s\n", n, (int)s, herd_last_error());
        }
    }
    CHECK(bad == 0);
    CHECK_OK(parse_buf(&b));
    free(b.p);
}

static void test_flipped_bytes(void)
{
    /* Every header byte set to 0xff, then to 0x7f: an error or a valid
     * parse, never a read outside the buffer (the sanitizer build checks). */
    buf b = {0};
    build_all_types(&b);
    herd_gguf g0;
    CHECK_OK(herd_gguf_parse("t.gguf", b.p, b.n, &g0));
    size_t hdr = g0.data_start;
    herd_gguf_free(&g0);
    int failed = 0;
    for (size_t i = 0; i < hdr; i++)
        for (int v = 0; v < 2; v++) {
            unsigned char old = b.p[i];
            b.p[i] = v ? 0x7f : 0xff;
            failed += parse_buf(&b) != HERD_OK;
            b.p[i] = old;
        }
    CHECK(failed > 0);
    free(b.p);
}

static void test_absurd_counts(void)
{
    buf b = {0};
    header(&b, 3, 0, UINT64_MAX);
    CHECK_FAILS(parse_buf(&b), HERD_E_FORMAT);
    b.n = 0;
    header(&b, 3, 1ull << 40, 0);
    CHECK_FAILS(parse_buf(&b), HERD_E_FORMAT);
    b.n = 0;
    header(&b, 3, 0, 1);
    u64(&b, UINT64_MAX); /* key length */
    CHECK_FAILS(parse_buf(&b), HERD_E_FORMAT);
    b.n = 0;
    header(&b, 3, 0, 1);
    key(&b, "arr", 9); u32(&b, 12); u64(&b, 1ull << 61); /* int64 array */
    CHECK_FAILS(parse_buf(&b), HERD_E_FORMAT);
    b.n = 0;
    header(&b, 3, 0, 1);
    key(&b, "arr", 9); u32(&b, 8); u64(&b, UINT64_MAX); /* string array */
    CHECK_FAILS(parse_buf(&b), HERD_E_FORMAT);
    b.n = 0;
    header(&b, 3, 0, 1);
    key(&b, "bad", 13); u64(&b, 0); /* unknown value type */
    CHECK_FAILS(parse_buf(&b), HERD_E_FORMAT);
    b.n = 0;
    header(&b, 3, 0, 1); /* arrays nested deeper than any real file */
    key(&b, "deep", 9);
    for (int i = 0; i < 40; i++) { u32(&b, 9); u64(&b, 1); }
    u32(&b, 0); u64(&b, 0);
    for (int i = 0; i < 64; i++) u8(&b, 0);
    CHECK_FAILS(parse_buf(&b), HERD_E_FORMAT);
    free(b.p);
}

/* A file of one kv and the given tensors; offsets as written by tensors()
 * unless fix_off >= 0 patches tensor 1's offset. */
static herd_status parse_tensors(const tdesc *t, int n, int64_t fix_off, uint32_t align,
                                 herd_gguf *out)
{
    buf b = {0};
    header(&b, 3, (uint64_t)n, 1);
    kv_u32(&b, "general.alignment", align);
    size_t info1 = 0;
    if (fix_off >= 0) {  /* locate tensor 1's offset field */
        size_t pos = b.n;
        for (int k = 0; k < 1; k++)
            pos += 8 + strlen(t[k].name) + 4 + 8 * t[k].n_dims + 4 + 8;
        info1 = pos + 8 + strlen(t[1].name) + 4 + 8 * t[1].n_dims + 4;
    }
    tensors(&b, t, n, align ? align : 32);
    if (fix_off >= 0)
        memcpy(b.p + info1, &fix_off, 8);
    herd_gguf g;
    herd_status s = out ? herd_gguf_parse("t.gguf", b.p, b.n, out) : parse_copy(b.p, b.n, &g);
    if (out) { /* keep the buffer alive: leak into a static */
        static unsigned char *keep;
        free(keep);
        keep = b.p;
    } else {
        free(b.p);
    }
    return s;
}

static void test_tensor_damage(void)
{
    tdesc two[2] = {{"x", 0, 2, {8, 4}, 0}, {"y", 0, 1, {8}, 0}};
    CHECK_OK(parse_tensors(two, 2, -1, 32, NULL));
    CHECK_FAILS(parse_tensors(two, 2, 32, 32, NULL), HERD_E_FORMAT);   /* overlaps x */
    CHECK(strstr(herd_last_error(), "overlap") && strstr(herd_last_error(), "t.gguf"));
    CHECK_FAILS(parse_tensors(two, 2, 0, 32, NULL), HERD_E_FORMAT);    /* same offset */
    CHECK_FAILS(parse_tensors(two, 2, 136, 32, NULL), HERD_E_FORMAT);  /* misaligned */
    CHECK_FAILS(parse_tensors(two, 2, 1ll << 62, 32, NULL), HERD_E_FORMAT); /* past end */
    CHECK(strstr(herd_last_error(), "tensor y"));
    CHECK_FAILS(parse_tensors(two, 2, -1, 3, NULL), HERD_E_FORMAT);    /* alignment 3 */
    CHECK_FAILS(parse_tensors(two, 2, -1, 0, NULL), HERD_E_FORMAT);    /* alignment 0 */
    herd_gguf g;
    CHECK_OK(parse_tensors(two, 2, -1, 64, &g));
    CHECK(g.alignment == 64 && g.data_start % 64 == 0 &&
          herd_gguf_find_tensor(&g, "y")->offset == 128);
    herd_gguf_free(&g);

    tdesc dup[2] = {{"x", 0, 1, {8}, 0}, {"x", 0, 1, {8}, 0}};
    CHECK_FAILS(parse_tensors(dup, 2, -1, 32, NULL), HERD_E_FORMAT);
    tdesc unknown[1] = {{"w", 99, 1, {32}, 64}};
    CHECK_FAILS(parse_tensors(unknown, 1, -1, 32, NULL), HERD_E_FORMAT);
    CHECK(strstr(herd_last_error(), "tensor w") && strstr(herd_last_error(), "99"));
    tdesc iq[1] = {{"w", 16, 1, {256}, 66}};  /* IQ2_XXS: a type herd does not know */
    CHECK_FAILS(parse_tensors(iq, 1, -1, 32, NULL), HERD_E_UNSUPPORTED);
    tdesc q8[1] = {{"w", 8, 2, {64, 2}, 4 * 34}};   /* Q8_0: parses, 34 bytes a block */
    CHECK_OK(parse_tensors(q8, 1, -1, 32, NULL));
    tdesc q8odd[1] = {{"w", 8, 1, {33}, 34}};
    CHECK_FAILS(parse_tensors(q8odd, 1, -1, 32, NULL), HERD_E_FORMAT);
    tdesc dims5[1] = {{"w", 0, 5, {1, 1, 1, 1}, 0}};
    CHECK_FAILS(parse_tensors(dims5, 1, -1, 32, NULL), HERD_E_FORMAT);
    tdesc huge[1] = {{"w", 0, 4, {1ull << 20, 1ull << 20, 1ull << 20, 1ull << 20}, 0}};
    CHECK_FAILS(parse_tensors(huge, 1, -1, 32, NULL), HERD_E_FORMAT);
}

static void test_magic_version(void)
{
    buf b = {0};
    build_all_types(&b);
    b.p[0] = 'X';
    CHECK_FAILS(parse_buf(&b), HERD_E_FORMAT);
    CHECK(strstr(herd_last_error(), "t.gguf") && strstr(herd_last_error(), "magic"));
    b.p[0] = 'G';
    b.p[4] = 2;
    CHECK_OK(parse_buf(&b));
    b.p[4] = 1;
    CHECK_FAILS(parse_buf(&b), HERD_E_UNSUPPORTED);
    b.p[4] = 4;
    CHECK_FAILS(parse_buf(&b), HERD_E_UNSUPPORTED);
    free(b.p);
    CHECK_FAILS(parse_copy(NULL, 0, &(herd_gguf){0}), HERD_E_FORMAT);
}

/* ---- the loader on hand-built llama files ---- */

typedef struct {
    const char *arch;
    const char *skip;      /* a tensor left out */
    uint32_t q5_embd;      /* token_embd as Q5_0, a type herd does not run */
    int tok;               /* 0 none, 1 llama, 2 gpt2, 3 short scores, 4 bad bos */
} llama_opts;

/* tokenizer.ggml.* pairs for a 6-token vocabulary; returns their count. */
static int tokenizer_kvs(buf *b, int mode)
{
    if (mode == 0)
        return 0;
    kv_str(b, "tokenizer.ggml.model", mode == 2 ? "gpt2" : "llama");
    const char *toks[6] = {"<unk>", "<s>", "</s>", "a", "b", ("\xe2\x96\x81" "a")};
    key(b, "tokenizer.ggml.tokens", 9); u32(b, 8); u64(b, 6);
    for (int i = 0; i < 6; i++)
        str(b, toks[i]);
    int ns = mode == 3 ? 5 : 6;
    key(b, "tokenizer.ggml.scores", 9); u32(b, 6); u64(b, (uint64_t)ns);
    for (int i = 0; i < ns; i++)
        f32(b, -(float)i);
    key(b, "tokenizer.ggml.token_type", 9); u32(b, 5); u64(b, 6);
    for (int i = 0; i < 6; i++)
        u32(b, i == 0 ? 2 : i < 3 ? 3 : 1);
    kv_u32(b, "tokenizer.ggml.bos_token_id", mode == 4 ? 6 : 1);
    key(b, "tokenizer.ggml.add_space_prefix", 7); u8(b, 0);
    return 6;
}

/* dim 32, hidden 64, 1 layer, 4 heads, 2 kv heads, vocab 6, tied. */
static void build_llama(buf *b, llama_opts o)
{
    const char *names[] = {"token_embd.weight", "output_norm.weight",
        "blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight",
        "blk.0.attn_v.weight", "blk.0.attn_output.weight", "blk.0.ffn_norm.weight",
        "blk.0.ffn_gate.weight", "blk.0.ffn_down.weight", "blk.0.ffn_up.weight"};
    uint64_t shapes[][2] = {{32, 6}, {32, 1}, {32, 1}, {32, 32}, {32, 16}, {32, 16},
                            {32, 32}, {32, 1}, {32, 64}, {64, 32}, {32, 64}};
    tdesc t[11];
    int n = 0;
    for (int i = 0; i < 11; i++) {
        if (o.skip && strcmp(o.skip, names[i]) == 0)
            continue;
        tdesc d = {names[i], i == 1 ? 1 : 0, shapes[i][1] == 1 ? 1 : 2,
                   {shapes[i][0], shapes[i][1]}, 0};
        if (i == 0 && o.q5_embd)
            d.type = 6, d.nbytes = 6 * 22;
        t[n++] = d;
    }
    buf tk = {0};
    int ntk = tokenizer_kvs(&tk, o.tok);
    header(b, 3, (uint64_t)n, 8 + (uint64_t)ntk);
    put(b, tk.p, tk.n);
    free(tk.p);
    kv_str(b, "general.architecture", o.arch);
    kv_u32(b, "llama.embedding_length", 32);
    kv_u32(b, "llama.feed_forward_length", 64);
    kv_u32(b, "llama.block_count", 1);
    kv_u32(b, "llama.attention.head_count", 4);
    kv_u32(b, "llama.attention.head_count_kv", 2);
    kv_u32(b, "llama.context_length", 128);
    kv_f32(b, "llama.attention.layer_norm_rms_epsilon", 1e-6f);
    tensors(b, t, n, 32);
}

static herd_status load_llama(llama_opts o, herd_model *m)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/herd-test-gguf-%d.gguf", (int)getpid());
    buf b = {0};
    build_llama(&b, o);
    FILE *f = fopen(path, "wb");
    fwrite(b.p, 1, b.n, f);
    fclose(f);
    free(b.p);
    memset(m, 0, sizeof *m);
    herd_status s = herd_load_gguf(path, m);
    unlink(path);
    return s;
}

static void free_model(herd_model *m)
{
    herd_tokenizer_free(m->tok);
    herd_owned_free(&m->owned);
}

static void test_loader(void)
{
    herd_model m;
    CHECK_OK(load_llama((llama_opts){"llama", NULL, 0, 0}, &m));
    const herd_config *c = &m.cfg;
    CHECK(c->dim == 32 && c->hidden_dim == 64 && c->n_layers == 1 && c->n_heads == 4 &&
          c->n_kv_heads == 2 && c->seq_len == 128 && c->vocab_size == 6);
    CHECK(c->norm_eps == 1e-6f && c->rope_theta == 10000.0f);
    CHECK(c->tied_embeddings == 1 && m.w.output.data == NULL && m.tok == NULL);
    CHECK(c->rope_layout == HERD_ROPE_META);
    CHECK(m.w.tok_embeddings.rows == 6 && m.w.tok_embeddings.cols == 32);
    CHECK(m.w.output_norm.rows == 1 && m.w.output_norm.cols == 32);
    CHECK(m.w.output_norm.type == HERD_TYPE_F16);
    herd_layer_weights *l = &m.w.layers[0];
    CHECK(l->wk.rows == 16 && l->wk.cols == 32 && l->w2.rows == 32 && l->w2.cols == 64);
    CHECK(l->wq.type == HERD_TYPE_F32 && ((const float *)l->wq.data)[7] == tval(3, 7));
    CHECK(((const float *)l->w3.data)[100] == tval(10, 100));
    free_model(&m);

    CHECK_FAILS(load_llama((llama_opts){"gpt2", NULL, 0, 0}, &m), HERD_E_UNSUPPORTED);
    CHECK(strstr(herd_last_error(), "unknown architecture gpt2") &&
          strstr(herd_last_error(), "herd-test-gguf"));
    free_model(&m);
    CHECK_FAILS(load_llama((llama_opts){"llama", "blk.0.attn_q.weight", 0, 0}, &m),
                HERD_E_FORMAT);
    CHECK(strstr(herd_last_error(), "missing tensor blk.0.attn_q.weight"));
    free_model(&m);
    CHECK_FAILS(load_llama((llama_opts){"llama", NULL, 1, 0}, &m), HERD_E_UNSUPPORTED);
    CHECK(strstr(herd_last_error(), "token_embd.weight") && strstr(herd_last_error(), "Q5_0"));
    free_model(&m);
    CHECK_OK(load_llama((llama_opts){"llama", NULL, 0, 1}, &m));
    CHECK(m.tok && herd_tokenizer_n_vocab(m.tok) == 6 && herd_tokenizer_bos(m.tok) == 1 &&
          herd_tokenizer_eos(m.tok) == 2 && herd_tokenizer_unk(m.tok) == 0 &&
          herd_tokenizer_add_dummy_prefix(m.tok) == 0);
    if (m.tok)
        CHECK(strcmp(herd_token_piece(m.tok, 5), "\xe2\x96\x81" "a") == 0 &&
              herd_token_score(m.tok, 4) == -4.0f && herd_token_type(m.tok, 2) == 3);
    free_model(&m);
    /* gpt2 (Llama 3's byte BPE) needs merges, which this toy lacks; the
     * real thing is tested in tests/tokenizer/test_bpe_gguf.c. */
    CHECK_FAILS(load_llama((llama_opts){"llama", NULL, 0, 2}, &m), HERD_E_FORMAT);
    CHECK(m.tok == NULL && strstr(herd_last_error(), "tokenizer.ggml.merges"));
    free_model(&m);
    CHECK_FAILS(load_llama((llama_opts){"llama", NULL, 0, 3}, &m), HERD_E_FORMAT);
    CHECK(strstr(herd_last_error(), "tokenizer.ggml.scores"));
    free_model(&m);
    CHECK_FAILS(load_llama((llama_opts){"llama", NULL, 0, 4}, &m), HERD_E_FORMAT);
    CHECK(strstr(herd_last_error(), "bos_token_id"));
    free_model(&m);
    memset(&m, 0, sizeof m);
    CHECK_FAILS(herd_load_gguf("/nonexistent/x.gguf", &m), HERD_E_IO);
    free_model(&m);
}

int main(void)
{
    test_all_types();
    test_truncations();
    test_flipped_bytes();
    test_absurd_counts();
    test_tensor_damage();
    test_magic_version();
    test_loader();
    TEST_END();
}

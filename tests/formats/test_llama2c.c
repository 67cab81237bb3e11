/* The llama2.c loader on the real stories260K checkpoint (its numbers are
 * checked against llama2.c's own greedy ids in test_stories260k.sh and
 * against the PyTorch reference in test_golden.c): the header, every kind of
 * damaged file, and the version-1 layout rebuilt from the same weights. */
#include "herd.h"
#include "test.h"
#include <stdint.h>
#include <unistd.h>

static char dir[] = "/tmp/herd-llama2c-XXXXXX";

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *d = malloc(*n);
    if (d && fread(d, 1, *n, f) != *n) {
        free(d);
        d = NULL;
    }
    fclose(f);
    return d;
}

static const char *write_tmp(const char *name, const void *d, size_t n)
{
    static char path[4][512];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 512, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(d, 1, n, f) != n)
        abort();
    fclose(f);
    return p;
}

/* Opening must fail with status st and a message containing want. */
static void check_bad(const char *name, const void *d, size_t n, herd_status st,
                      const char *want)
{
    herd_model *m = NULL;
    CHECK_FAILS(herd_model_open(write_tmp(name, d, n), &m), st);
    CHECK(m == NULL);
    CHECK_MSG(strstr(herd_last_error(), want) != NULL, "%s: message '%s' lacks '%s'", name,
              herd_last_error(), want);
}

static void test_header(const char *path)
{
    herd_model *m;
    CHECK_OK(herd_model_open(path, &m));
    if (!m)
        return;
    const herd_config *c = herd_model_config(m);
    CHECK(c->dim == 64 && c->hidden_dim == 172 && c->n_layers == 5);
    CHECK(c->n_heads == 8 && c->n_kv_heads == 4 && c->vocab_size == 512);
    CHECK(c->seq_len == 512 && c->tied_embeddings == 1);
    CHECK(c->rope_layout == HERD_ROPE_META);
    CHECK(herd_model_tokenizer(m) == NULL);
    herd_model_free(m);
}

static void test_damaged(const unsigned char *d, size_t n)
{
    check_bad("short.bin", d, n - 1, HERD_E_FORMAT, "truncated");
    check_bad("half.bin", d, n / 2, HERD_E_FORMAT, "truncated");
    check_bad("header.bin", d, 20, HERD_E_FORMAT, "truncated");
    check_bad("empty.bin", d, 0, HERD_E_FORMAT, "truncated");
    unsigned char *e = malloc(n + 4);
    memcpy(e, d, n);
    memset(e + n, 0, 4);
    check_bad("long.bin", e, n + 4, HERD_E_FORMAT, "trailing bytes");
    int32_t v = 0; /* dim 0 */
    memcpy(e, &v, 4);
    check_bad("dim0.bin", e, n, HERD_E_FORMAT, "dim");
    memcpy(e, d, n);
    v = 3; /* n_heads 3 does not divide dim 64 */
    memcpy(e + 12, &v, 4);
    check_bad("heads.bin", e, n, HERD_E_FORMAT, "n_heads");
    memcpy(e, d, n);
    v = -512; /* untied: the file then lacks the classifier */
    memcpy(e + 20, &v, 4);
    check_bad("untied.bin", e, n, HERD_E_FORMAT, "truncated");
    free(e);
}

/* Version 1 as llama2.c's export.py writes it: a 256-byte header, the norms
 * first, then the embedding and matrices, no RoPE tables. */
static unsigned char *to_v1(const unsigned char *d, size_t n, size_t *out_n)
{
    const int32_t *h = (const int32_t *)d;
    int64_t dim = h[0], hid = h[1], L = h[2], nh = h[3], nkv = h[4], V = h[5], T = h[6];
    int64_t hd = dim / nh, kv = nkv * hd;
    const float *src = (const float *)(d + 28);
    const float *emb = src, *att = emb + V * dim, *wq = att + L * dim, *wk = wq + L * dim * dim;
    const float *wv = wk + L * kv * dim, *wo = wv + L * kv * dim, *ffn = wo + L * dim * dim;
    const float *w1 = ffn + L * dim, *w2 = w1 + L * hid * dim, *w3 = w2 + L * dim * hid;
    const float *fin = w3 + L * hid * dim;
    CHECK((const unsigned char *)(fin + dim + T * hd) == d + n);
    const struct { const float *p; int64_t n; } parts[] = {
        {att, L * dim}, {ffn, L * dim}, {fin, dim}, {emb, V * dim}, {wq, L * dim * dim},
        {wk, L * kv * dim}, {wv, L * kv * dim}, {wo, L * dim * dim}, {w1, L * hid * dim},
        {w2, L * dim * hid}, {w3, L * hid * dim}};
    size_t total = 256;
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        total += (size_t)parts[i].n * 4;
    unsigned char *v1 = calloc(1, total), *p = v1 + 256;
    uint32_t magic = 0x616b3432;
    int32_t version = 1;
    memcpy(v1, &magic, 4);
    memcpy(v1 + 4, &version, 4);
    memcpy(v1 + 8, h, 28);
    v1[36] = 1; /* shared classifier */
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        memcpy(p, parts[i].p, (size_t)parts[i].n * 4);
        p += parts[i].n * 4;
    }
    *out_n = total;
    return v1;
}

static float *logits_of(const char *path, const int *toks, int n)
{
    herd_model *m;
    CHECK_OK(herd_model_open(path, &m));
    if (!m)
        return NULL;
    float *lg = malloc(sizeof(float) * n * herd_model_config(m)->vocab_size);
    CHECK_OK(herd_forward_nocache(m, toks, n, lg));
    herd_model_free(m);
    return lg;
}

static void test_v1(const char *v0_path, const unsigned char *d, size_t n)
{
    size_t n1;
    unsigned char *v1 = to_v1(d, n, &n1);
    const char *p1 = write_tmp("v1.bin", v1, n1);
    int toks[] = {1, 403, 261, 40, 7, 499, 1};
    float *a = logits_of(v0_path, toks, 7), *b = logits_of(p1, toks, 7);
    if (a && b)
        CHECK(memcmp(a, b, sizeof(float) * 7 * 512) == 0);
    free(a);
    free(b);
    check_bad("v1-short.bin", v1, n1 - 8, HERD_E_FORMAT, "truncated");
    int32_t version = 2;
    memcpy(v1 + 4, &version, 4);
    check_bad("v2.bin", v1, n1, HERD_E_UNSUPPORTED, "version 2");
    free(v1);
}

int main(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/stories260K.bin", test_shared());
    size_t n;
    unsigned char *d = slurp(path, &n);
    if (!d)
        TEST_SKIP("%s not found (the shared folder is not beside the checkout)", path);
    if (!mkdtemp(dir))
        return 1;
    test_header(path);
    test_damaged(d, n);
    test_v1(path, d, n);
    free(d);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    TEST_END();
}

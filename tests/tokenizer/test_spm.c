/* Llama 2's tokenizer.model against python3-sentencepiece's output
 * (tests/fixtures/spm_llama2.txt, written by tests/reference/spm_golden.py),
 * and bad tokenizer files. */
#include "herd.h"
#include "tokenizer/tokenizer.h"
#include "test.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *text, *decoded;
    size_t text_len, decoded_len;
    int *ids, n_ids;
} golden_case;

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes hex into a malloc'd buffer. */
static char *unhex(const char *s, size_t *n)
{
    size_t k = strlen(s) / 2;
    char *out = malloc(k + 1);
    for (size_t i = 0; i < k; i++)
        out[i] = (char)(hexval(s[2 * i]) * 16 + hexval(s[2 * i + 1]));
    out[k] = 0;
    *n = k;
    return out;
}

static int *parse_ids(const char *s, int *n)
{
    int cap = 16, *ids = malloc((size_t)cap * sizeof *ids);
    *n = 0;
    for (char *end; *s; s = end) {
        long v = strtol(s, &end, 10);
        if (end == s)
            break;
        if (*n == cap)
            ids = realloc(ids, (size_t)(cap *= 2) * sizeof *ids);
        ids[(*n)++] = (int)v;
    }
    return ids;
}

static const char *after(const char *line, const char *key)
{
    size_t k = strlen(key);
    if (strncmp(line, key, k) != 0)
        return NULL;
    return line[k] == ' ' ? line + k + 1 : line + k;
}

static int load_golden(const char *path, golden_case **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    static char line[1 << 16];
    int n = 0, cap = 0;
    golden_case *c = NULL;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        const char *v;
        if ((v = after(line, "text"))) {
            if (n == cap)
                c = realloc(c, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *c);
            memset(&c[n], 0, sizeof c[n]);
            c[n].text = unhex(v, &c[n].text_len);
            n++;
        } else if (n && (v = after(line, "ids"))) {
            c[n - 1].ids = parse_ids(v, &c[n - 1].n_ids);
        } else if (n && (v = after(line, "decoded"))) {
            c[n - 1].decoded = unhex(v, &c[n - 1].decoded_len);
        }
    }
    fclose(f);
    *out = c;
    return n;
}

static void print_ids(const char *what, const int *ids, int n)
{
    fprintf(stderr, "  %s:", what);
    for (int i = 0; i < n && i < 60; i++)
        fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 60 ? " ...\n" : "\n");
}

/* One case: the ids, the ids with BOS/EOS, the count when they do not fit,
 * and the decoded text. */
static void check_case(const herd_tokenizer *t, const golden_case *c, int i)
{
    int cap = (int)c->text_len + 8, n = -1, *ids = malloc((size_t)cap * sizeof *ids);
    CHECK_OK(herd_tokenize(t, c->text, c->text_len, 0, 0, ids, cap, &n));
    int same = n == c->n_ids && memcmp(ids, c->ids, (size_t)n * sizeof *ids) == 0;
    CHECK_MSG(same, "case %d (%zu bytes): ids differ from sentencepiece", i, c->text_len);
    if (!same) {
        print_ids("herd", ids, n);
        print_ids("sentencepiece", c->ids, c->n_ids);
    }
    CHECK_OK(herd_tokenize(t, c->text, c->text_len, 1, 1, ids, cap, &n));
    CHECK(n == c->n_ids + 2 && ids[0] == 1 && ids[n - 1] == 2);
    if (c->n_ids > 1) {
        CHECK_OK(herd_tokenize(t, c->text, c->text_len, 0, 0, ids, c->n_ids - 1, &n));
        CHECK(n == c->n_ids);
    }
    /* Decoding the reference's ids, starting after BOS. */
    char *text = malloc(c->n_ids * 256 + 1), buf[256];
    size_t k = 0;
    int prev = herd_tokenizer_bos(t);
    for (int j = 0; j < c->n_ids; j++) {
        int m = herd_token_to_bytes(t, prev, c->ids[j], buf);
        CHECK(m >= 0);
        memcpy(text + k, buf, m > 0 ? (size_t)m : 0);
        k += m > 0 ? (size_t)m : 0;
        prev = c->ids[j];
    }
    CHECK_MSG(k == c->decoded_len && memcmp(text, c->decoded, k) == 0,
              "case %d: decoding differs from sentencepiece's", i);
    free(text);
    free(ids);
}

static void check_golden(const herd_tokenizer *t)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/spm_llama2.txt", test_source());
    golden_case *c = NULL;
    int n = load_golden(path, &c);
    CHECK_MSG(n > 300, "%s: %d cases", path, n);
    for (int i = 0; i < n; i++) {
        check_case(t, &c[i], i);
        free(c[i].text);
        free(c[i].decoded);
        free(c[i].ids);
    }
    free(c);
}

static void check_vocab(const herd_tokenizer *t)
{
    CHECK(herd_tokenizer_n_vocab(t) == 32000);
    CHECK(herd_tokenizer_bos(t) == 1);
    CHECK(herd_tokenizer_eos(t) == 2);
    CHECK(herd_tokenizer_unk(t) == 0);
    CHECK(herd_tokenizer_add_dummy_prefix(t) == 1);
    CHECK(strcmp(herd_token_piece(t, 0), "<unk>") == 0);
    CHECK(strcmp(herd_token_piece(t, 1), "<s>") == 0);
    CHECK(strcmp(herd_token_piece(t, 13), "<0x0A>") == 0);
    CHECK(strcmp(herd_token_piece(t, 29871), "\xE2\x96\x81") == 0);
    CHECK(herd_token_piece(t, 32000) == NULL && herd_token_piece(t, -1) == NULL);
    CHECK(herd_token_type(t, 1) == HERD_PIECE_CONTROL);
    CHECK(herd_token_type(t, 0) == HERD_PIECE_UNKNOWN);
    CHECK(herd_token_type(t, 13) == HERD_PIECE_BYTE);
    CHECK(herd_token_type(t, 29871) == HERD_PIECE_NORMAL);
    char buf[256];
    CHECK(herd_token_to_bytes(t, 1, 2, buf) == 0);        /* </s>: nothing */
    CHECK(herd_token_to_bytes(t, 1, 32000, buf) == -1);
    CHECK(herd_token_to_bytes(t, 1, 13, buf) == 1 && buf[0] == '\n');
    int ids[4], n = -1;
    CHECK_OK(herd_tokenize(t, "", 0, 1, 0, ids, 4, &n));
    CHECK(n == 1 && ids[0] == 1);
    CHECK_OK(herd_tokenize(t, NULL, 0, 0, 0, NULL, 0, &n));
    CHECK(n == 0);
    CHECK_FAILS(herd_tokenize(t, "x", 1, 0, 0, NULL, 4, &n), HERD_E_ARG);
}

/* Invalid UTF-8: each bad byte becomes its own byte piece, so decoding gives
 * the bytes back. */
static void check_bad_utf8(const herd_tokenizer *t)
{
    const char text[] = "a\xff" "b\xe4\xb8" "c\xed\xa0\x80";
    int ids[32], n = 0;
    CHECK_OK(herd_tokenize(t, text, sizeof text - 1, 0, 0, ids, 32, &n));
    char out[64], buf[256];
    size_t k = 0;
    for (int i = 0, prev = 1; i < n && i < 32; prev = ids[i++]) {
        int m = herd_token_to_bytes(t, prev, ids[i], buf);
        memcpy(out + k, buf, (size_t)m);
        k += (size_t)m;
    }
    CHECK(k == sizeof text - 1 && memcmp(out, text, k) == 0);
    CHECK(n == 9 && ids[1] == 3 + 0xff); /* ▁a <0xFF> b <0xE4> <0xB8> c <0xED> <0xA0> <0x80> */
}

static int write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* Opening must fail cleanly and say which file. */
static void expect_bad(const char *path, const void *data, size_t n, herd_status want)
{
    herd_tokenizer *t = (herd_tokenizer *)&t;
    CHECK(write_file(path, data, n) == 0);
    herd_status s = herd_tokenizer_open(path, &t);
    CHECK_MSG(s != HERD_OK && (want == HERD_OK || s == want), "%zu bytes gave %s (%s)", n,
              herd_status_name(s), herd_last_error());
    CHECK(t == NULL);
    CHECK_MSG(strstr(herd_last_error(), path) != NULL, "message: %s", herd_last_error());
    if (s == HERD_OK)
        herd_tokenizer_free(t);
}

static uint32_t rng = 12345;
static uint32_t next_rand(void) { return rng = rng * 1664525u + 1013904223u; }

static void check_bad_files(const char *model)
{
    char *data;
    size_t size = 0;
    FILE *f = fopen(model, "rb");
    data = malloc(600000);
    if (f) {
        size = fread(data, 1, 600000, f);
        fclose(f);
    }
    char path[] = "/tmp/herd_test_spm_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    size_t cuts[] = {1, 2, 3, 7, 100, 1000, size / 2, size - 10, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++)
        expect_bad(path, data, cuts[i], i + 1 == sizeof cuts / sizeof *cuts ? HERD_E_FORMAT : HERD_OK);
    expect_bad(path, "", 0, HERD_E_FORMAT);
    char noise[4096];
    for (int k = 0; k < 20; k++) {
        for (size_t i = 0; i < sizeof noise; i++)
            noise[i] = (char)(next_rand() >> 24);
        expect_bad(path, noise, sizeof noise, HERD_OK);
    }
    /* Random damage to the real file: any answer but a crash. */
    for (int k = 0; k < 20; k++) {
        char *copy = malloc(size);
        memcpy(copy, data, size);
        for (int j = 0; j < 8; j++)
            copy[next_rand() % size] = (char)(next_rand() >> 24);
        CHECK(write_file(path, copy, size) == 0);
        herd_tokenizer *t = NULL;
        if (herd_tokenizer_open(path, &t) == HERD_OK) {
            int ids[64], n;
            herd_tokenize(t, "Hello world, \xe4\xbd\xa0\xe5\xa5\xbd", 18, 1, 1, ids, 64, &n);
            herd_tokenizer_free(t);
        }
        free(copy);
    }
    unlink(path);
    herd_tokenizer *t = NULL;
    CHECK_FAILS(herd_tokenizer_open("/nonexistent/tokenizer.model", &t), HERD_E_IO);
    CHECK(strstr(herd_last_error(), "/nonexistent/tokenizer.model") != NULL);
    free(data);
}

int main(void)
{
    char model[4096];
    snprintf(model, sizeof model, "%s/tokenizers/llama2/tokenizer.model", test_shared());
    if (access(model, R_OK) != 0)
        TEST_SKIP("%s is absent (set HERD_SHARED)", model);
    herd_tokenizer *t = NULL;
    CHECK_OK(herd_tokenizer_open(model, &t));
    if (!t)
        TEST_END();
    check_vocab(t);
    check_golden(t);
    check_bad_utf8(t);
    herd_tokenizer_free(t);
    check_bad_files(model);
    TEST_END();
}

/* Llama 3's tokenizer, loaded from Meta's tokenizer.model and from Hugging
 * Face's tokenizer.json, against Hugging Face tokenizers' output
 * (tests/fixtures/bpe_llama3*.txt, written by tests/reference/bpe_golden.mjs):
 * ids, decoding, special tokens, invalid UTF-8, long inputs. */
#include "herd.h"
#include "tokenizer/tokenizer.h"
#include "test.h"
#include "test_bpe_fixture.h"
#include <stdint.h>
#include <unistd.h>

/* The id of the one-byte token of byte b in Llama 3: GPT-2's byte order,
 * printable bytes '!'..'~', 0xA1..0xAC, 0xAE..0xFF first, then the others
 * (0x00..0x20, 0x7F..0xA0, 0xAD). */
static int llama3_byte_id(int b)
{
    if (b >= 0x21 && b <= 0x7E)
        return b - 0x21;
    if (b >= 0xA1 && b <= 0xAC)
        return 94 + b - 0xA1;
    if (b >= 0xAE)
        return 106 + b - 0xAE;
    if (b <= 0x20)
        return 188 + b;
    if (b <= 0xA0)
        return 221 + b - 0x7F;
    return 255;
}

static void check_case(const herd_tokenizer *t, const char *name, const bpe_case *c, int i,
                       unsigned flags, const int *want, int n_want)
{
    int cap = (int)c->len + 8, n = -1, *ids = malloc((size_t)cap * sizeof *ids);
    CHECK_OK(herd_tokenize_ex(t, c->text, c->len, flags, ids, cap, &n));
    int same = n == n_want && memcmp(ids, want, (size_t)n * sizeof *ids) == 0;
    CHECK_MSG(same, "%s: case %d (%.40s): ids differ from Hugging Face's", name, i, c->text);
    if (!same) {
        bpe_print_ids("herd", ids, n);
        bpe_print_ids("hf", want, n_want);
    }
    size_t k;
    char *text = bpe_decode(t, want, n_want, &k);
    CHECK_MSG(k == c->len && memcmp(text, c->text, k) == 0, "%s: case %d does not decode back",
              name, i);
    free(text);
    CHECK_OK(herd_tokenize_ex(t, c->text, c->len, flags | HERD_TOKENIZE_BOS | HERD_TOKENIZE_EOS,
                              ids, cap, &n));
    CHECK(n == n_want + 2 && ids[0] == 128000 && ids[n - 1] == 128001);
    if (n_want > 1) {
        CHECK_OK(herd_tokenize_ex(t, c->text, c->len, flags, ids, n_want - 1, &n));
        CHECK(n == n_want);
    }
    free(ids);
}

static void check_golden(const herd_tokenizer *t, const char *name)
{
    char path[4096];
    bpe_case *c;
    snprintf(path, sizeof path, "%s/tests/fixtures/bpe_llama3.txt", test_source());
    int n = bpe_load_cases(path, &c);
    CHECK_MSG(n > 300, "%s: %d cases", path, n);
    for (int i = 0; i < n; i++) {
        check_case(t, name, &c[i], i, 0, c[i].ids, c[i].n);
        /* No special token in these texts: parsing them changes nothing. */
        check_case(t, name, &c[i], i, HERD_TOKENIZE_SPECIAL, c[i].ids, c[i].n);
    }
    bpe_free_cases(c, n);
    snprintf(path, sizeof path, "%s/tests/fixtures/bpe_llama3_special.txt", test_source());
    n = bpe_load_cases(path, &c);
    CHECK_MSG(n > 20, "%s: %d cases", path, n);
    for (int i = 0; i < n; i++) {
        check_case(t, name, &c[i], i, HERD_TOKENIZE_SPECIAL, c[i].ids, c[i].n);
        check_case(t, name, &c[i], i, 0, c[i].plain, c[i].n_plain);
    }
    bpe_free_cases(c, n);
}

static void check_vocab(const herd_tokenizer *t)
{
    CHECK(herd_tokenizer_kind(t) == HERD_TOK_BYTE_BPE);
    CHECK(herd_tokenizer_n_vocab(t) == 128256);
    CHECK(herd_tokenizer_bos(t) == 128000 && herd_tokenizer_eos(t) == 128001);
    CHECK(herd_token_id(t, "<|begin_of_text|>") == 128000);
    CHECK(herd_token_id(t, "<|end_of_text|>") == 128001);
    CHECK(herd_token_id(t, "<|start_header_id|>") == 128006);
    CHECK(herd_token_id(t, "<|end_header_id|>") == 128007);
    CHECK(herd_token_id(t, "<|eot_id|>") == 128009);
    CHECK(herd_token_id(t, "<|reserved_special_token_250|>") == 128255);
    CHECK(herd_token_id(t, "<|no_such_token|>") == -1 && herd_token_id(t, "") == -1);
    CHECK(herd_token_id(t, " the") == 279 && herd_token_id(t, "!") == 0);
    CHECK(herd_token_type(t, 128009) == HERD_PIECE_CONTROL);
    CHECK(herd_token_type(t, 279) == HERD_PIECE_NORMAL);
    char buf[256];
    CHECK(herd_token_to_bytes(t, -1, 128009, buf) == 10 && memcmp(buf, "<|eot_id|>", 10) == 0);
    CHECK(herd_token_to_bytes(t, -1, 128256, buf) == -1);
    CHECK(herd_token_piece(t, 128256) == NULL);
    for (int b = 0; b < 256; b++)
        CHECK(herd_token_to_bytes(t, -1, llama3_byte_id(b), buf) == 1 &&
              (unsigned char)buf[0] == b);
    int ids[4], n = -1;
    CHECK_OK(herd_tokenize(t, "", 0, 1, 1, ids, 4, &n));
    CHECK(n == 2 && ids[0] == 128000 && ids[1] == 128001);
    CHECK_OK(herd_tokenize(t, NULL, 0, 0, 0, NULL, 0, &n));
    CHECK(n == 0);
    CHECK_FAILS(herd_tokenize(t, "x", 1, 0, 0, NULL, 4, &n), HERD_E_ARG);
    CHECK_FAILS(herd_tokenize_ex(t, "x", 1, 64, ids, 4, &n), HERD_E_ARG);
}

/* The two files give the same bytes for every id. */
static void check_same_tokens(const herd_tokenizer *a, const herd_tokenizer *b)
{
    char x[256], y[256];
    int diff = 0;
    for (int id = 0; id < 128256; id++) {
        int n = herd_token_to_bytes(a, -1, id, x), m = herd_token_to_bytes(b, -1, id, y);
        diff += n != m || n < 0 || memcmp(x, y, (size_t)n) != 0;
    }
    CHECK_MSG(diff == 0, "%d tokens differ between tokenizer.model and tokenizer.json", diff);
}

static int tokenize_all(const herd_tokenizer *t, const char *s, size_t n, int *ids, int cap)
{
    int got = -1;
    CHECK_OK(herd_tokenize_ex(t, s, n, 0, ids, cap, &got));
    return got;
}

/* Invalid UTF-8: the text is cut at each bad byte, which becomes its byte's
 * token; the stretches between are encoded as texts of their own. */
static void check_bad_utf8(const herd_tokenizer *t)
{
    static const char *const parts[] = {"Hello", "\xff", " world", "\xe4\xb8", "\xe4\xb8\x96",
                                        "\xed\xa0\x80", "  x", "\xc0\xaf", "'s", "\x80", "\n"};
    /* bad bytes: FF | E4 B8 (truncated) | ED A0 80 (surrogate) | C0 AF (overlong) | 80 */
    static const int bad[] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0};
    char text[128];
    size_t len = 0;
    int want[64], nw = 0, ids[64];
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t l = strlen(parts[i]);
        memcpy(text + len, parts[i], l);
        len += l;
        if (bad[i])
            for (size_t k = 0; k < l; k++)
                want[nw++] = llama3_byte_id((unsigned char)parts[i][k]);
        else
            nw += tokenize_all(t, parts[i], l, want + nw, 64 - nw);
    }
    int n = tokenize_all(t, text, len, ids, 64);
    CHECK(n == nw && memcmp(ids, want, (size_t)n * sizeof *ids) == 0);
    size_t k;
    char *back = bpe_decode(t, ids, n, &k);
    CHECK(k == len && memcmp(back, text, len) == 0);
    free(back);
    /* U+4E16 whole is one character: 世 */
    CHECK(tokenize_all(t, "\xe4\xb8\x96", 3, ids, 64) == 1 && ids[0] == 101083);
}

/* Long runs: no regex limit is hit, and the text comes back. */
static void check_long(const herd_tokenizer *t)
{
    const char *fills[] = {" ", "a", "7", "\n", " \n", "\xe4\xb8\x96", "!?", "\t ", "\xff"};
    size_t n = 1 << 20;
    char *text = malloc(n + 1);
    int *ids = malloc((n + 8) * sizeof *ids);
    for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++) {
        size_t l = strlen(fills[f]), k = 0;
        while (k + l <= n) {
            memcpy(text + k, fills[f], l);
            k += l;
        }
        text[k++] = 'z';
        int got = -1;
        CHECK_OK(herd_tokenize_ex(t, text, k, 0, ids, (int)n + 8, &got));
        size_t m;
        char *back = bpe_decode(t, ids, got, &m);
        CHECK_MSG(m == k && memcmp(back, text, k) == 0, "fill %zu does not come back", f);
        free(back);
    }
    free(text);
    free(ids);
}

static void write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");
    fputs(data, f);
    fclose(f);
}

/* A file that must fail to open with st, its message naming the file and
 * holding what. */
static void expect_bad(const char *data, herd_status st, const char *what)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/herd-test-bpe-%d.txt", (int)getpid());
    write_file(path, data);
    herd_tokenizer *t = (herd_tokenizer *)1;
    CHECK_FAILS(herd_tokenizer_open(path, &t), st);
    CHECK(t == NULL);
    const char *msg = herd_last_error();
    CHECK_MSG(strstr(msg, path) && strstr(msg, what), "message \"%s\" lacks \"%s\"", msg, what);
    remove(path);
}

static void check_bad_files(void)
{
    expect_bad("IQ== 0\nIg== 1\nIw==2\n", HERD_E_FORMAT, "line 3");
    expect_bad("IQ== 0\nIg== 1\n\nI!== 3\n", HERD_E_FORMAT, "line 4");
    expect_bad("IQ== 0\nIg== 1\nIw== 1\n", HERD_E_FORMAT, "line 3");
    expect_bad("IQ== 0\nIg== x\n", HERD_E_FORMAT, "line 2");
    expect_bad("IQ== 0\nIg== 5\n", HERD_E_FORMAT, "line 2");
    expect_bad("IQ== 0\nIg== 1\n", HERD_E_FORMAT, "no token for the byte");
    expect_bad("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", HERD_E_UNSUPPORTED,
               "WordPiece");
    expect_bad("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", HERD_E_UNSUPPORTED,
               "Unigram");
    expect_bad("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, ", HERD_E_FORMAT,
               "not valid JSON");
    expect_bad("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []},"
               " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": true}}",
               HERD_E_UNSUPPORTED, "pre_tokenizer ByteLevel");
    expect_bad("[1, 2]", HERD_E_FORMAT, "not a tokenizer herd knows");
}

int main(void)
{
    char model[4096], json[4096];
    snprintf(model, sizeof model, "%s/tokenizers/llama3/tokenizer.model", test_shared());
    snprintf(json, sizeof json, "%s/tokenizers/llama3/tokenizer.json", test_shared());
    FILE *f1 = fopen(model, "rb"), *f2 = fopen(json, "rb");
    if (f1)
        fclose(f1);
    if (f2)
        fclose(f2);
    if (!f1 || !f2)
        TEST_SKIP("%s or %s is absent (set HERD_SHARED)", model, json);
    herd_tokenizer *tm = NULL, *tj = NULL;
    CHECK_OK(herd_tokenizer_open(model, &tm));
    CHECK_OK(herd_tokenizer_open(json, &tj));
    if (!tm || !tj)
        TEST_END();
    check_vocab(tm);
    check_vocab(tj);
    check_same_tokens(tm, tj);
    check_golden(tm, "tokenizer.model");
    check_golden(tj, "tokenizer.json");
    check_bad_utf8(tm);
    check_bad_utf8(tj);
    check_long(tm);
    check_bad_files();
    herd_tokenizer_free(tm);
    herd_tokenizer_free(tj);
    TEST_END();
}

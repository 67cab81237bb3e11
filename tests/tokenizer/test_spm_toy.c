/* SentencePiece BPE on toy vocabularies built here, with expectations
 * worked out by hand: merges by score (leftmost on ties), byte fallback,
 * <unk> runs, user-defined and unused pieces; and llama2.c's tokenizer.bin
 * reader on a file written here. */
#include "herd.h"
#include "tokenizer/tokenizer.h"
#include "test.h"
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define SP "\xE2\x96\x81" /* U+2581 */

typedef struct {
    const char *piece;
    float score;
    int type; /* 0: let herd infer it */
} toy_piece;

/* <unk> <s> </s>, then the 256 byte pieces (ids 3..258) when bytes is set,
 * then the toy's own pieces. */
static herd_tokenizer *build(const toy_piece *own, int n_own, int bytes)
{
    static char byte_names[256][8];
    const char *pieces[600];
    size_t lens[600];
    float scores[600];
    int types[600], n = 0, any_type = 0;
    const char *special[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++, n++) {
        pieces[n] = special[i];
        scores[n] = 0;
        types[n] = i ? HERD_PIECE_CONTROL : HERD_PIECE_UNKNOWN;
    }
    for (int b = 0; bytes && b < 256; b++, n++) {
        snprintf(byte_names[b], sizeof byte_names[b], "<0x%02X>", b);
        pieces[n] = byte_names[b];
        scores[n] = 0;
        types[n] = HERD_PIECE_BYTE;
    }
    for (int i = 0; i < n_own; i++, n++) {
        pieces[n] = own[i].piece;
        scores[n] = own[i].score;
        types[n] = own[i].type ? own[i].type : HERD_PIECE_NORMAL;
        any_type |= own[i].type != 0;
    }
    for (int i = 0; i < n; i++)
        lens[i] = strlen(pieces[i]);
    herd_tokenizer *t = NULL;
    CHECK_OK(herd_spm_from_vocab(n, pieces, lens, scores, any_type ? types : NULL, 1, 2, 0, 1,
                                 &t));
    return t;
}

/* Encodes text and compares with the pieces named in want (NULL-terminated). */
static void expect(const herd_tokenizer *t, const char *text, const char *const *want)
{
    int ids[64], n = -1, m = 0;
    CHECK_OK(herd_tokenize(t, text, strlen(text), 0, 0, ids, 64, &n));
    while (want[m])
        m++;
    int same = n == m;
    for (int i = 0; same && i < n; i++) {
        const char *p = herd_token_piece(t, ids[i]);
        same = p && strcmp(p, want[i]) == 0;
    }
    CHECK_MSG(same, "\"%s\": %d ids, want %d", text, n, m);
    if (!same)
        for (int i = 0; i < n && i < 64; i++)
            fprintf(stderr, "  got %d %s\n", ids[i], herd_token_piece(t, ids[i]));
}

/* Decodes ids as a stream starting after BOS. */
static void expect_decode(const herd_tokenizer *t, const char *text)
{
    int ids[64], n = 0;
    CHECK_OK(herd_tokenize(t, text, strlen(text), 1, 0, ids, 64, &n));
    char out[256], buf[256];
    size_t k = 0;
    for (int i = 1; i < n; i++) {
        int m = herd_token_to_bytes(t, ids[i - 1], ids[i], buf);
        CHECK(m >= 0 && k + (size_t)m < sizeof out);
        memcpy(out + k, buf, (size_t)m);
        k += (size_t)m;
    }
    CHECK_MSG(k == strlen(text) && memcmp(out, text, k) == 0, "decoding \"%s\"", text);
}

static const toy_piece toy[] = {
    {SP, -10, 0}, {"a", -10, 0}, {"b", -10, 0}, {"c", -10, 0}, {"d", -10, 0},
    {"x", -10, 0}, {"y", -10, 0},
    {"ab", -1, 0}, {"bc", -0.5f, 0}, {"cd", -0.6f, 0}, {"abc", -2, 0}, {SP "a", -3, 0},
    {"xy", -1.5f, 0}, {"yx", -1.5f, 0}, {SP SP, -4, 0},
};
#define N_TOY ((int)(sizeof toy / sizeof *toy))

static void check_merges(void)
{
    herd_tokenizer *t = build(toy, N_TOY, 1);
    if (!t)
        return;
    CHECK(herd_tokenizer_n_vocab(t) == 3 + 256 + N_TOY);
    CHECK(herd_token_type(t, 3 + 0x41) == HERD_PIECE_BYTE);
    /* ▁ a b c: bc (-0.5) first, then a+bc = abc (-2) beats ▁a (-3). */
    expect(t, "abc", (const char *[]){SP, "abc", NULL});
    /* ▁ b c d: bc (-0.5) beats cd (-0.6); then nothing spells bcd. */
    expect(t, "bcd", (const char *[]){SP, "bc", "d", NULL});
    /* x y x: xy and yx tie at -1.5: the leftmost pair wins. */
    expect(t, "xyx", (const char *[]){SP, "xy", "x", NULL});
    /* ▁ a b: ab (-1) first, ▁ab is no piece. */
    expect(t, "ab", (const char *[]){SP, "ab", NULL});
    /* ▁ ▁ a: ▁a (-3) beats ▁▁ (-4). */
    expect(t, " a", (const char *[]){SP, SP "a", NULL});
    /* é has no piece: its two UTF-8 bytes; a bad byte stays alone. */
    expect(t, "a\xC3\xA9", (const char *[]){SP "a", "<0xC3>", "<0xA9>", NULL});
    expect(t, "a\xFF" "b", (const char *[]){SP "a", "<0xFF>", "b", NULL});
    expect(t, "", (const char *[]){NULL});
    expect_decode(t, "abc bcd  xyx\xC3\xA9\n");
    expect_decode(t, " a");
    char buf[256];
    CHECK(herd_token_to_bytes(t, 1, 3 + 0xA9, buf) == 1 && (unsigned char)buf[0] == 0xA9);
    /* A leading space survives when the previous token is not BOS. */
    int sp_a = 3 + 256 + 11;
    CHECK(strcmp(herd_token_piece(t, sp_a), SP "a") == 0);
    CHECK(herd_token_to_bytes(t, 1, sp_a, buf) == 1 && buf[0] == 'a');
    CHECK(herd_token_to_bytes(t, 5, sp_a, buf) == 2 && memcmp(buf, " a", 2) == 0);
    CHECK(herd_token_score(t, sp_a) == -3.0f);
    herd_tokenizer_free(t);
}

/* No byte pieces: a run of unknown characters is one <unk>. */
static void check_unk(void)
{
    herd_tokenizer *t = build(toy, N_TOY, 0);
    if (!t)
        return;
    expect(t, "a\xC3\xA9\xC3\xA9 b", (const char *[]){SP "a", "<unk>", SP, "b", NULL});
    expect(t, "\xC3\xA9" "a\xC3\xA9", (const char *[]){SP, "<unk>", "a", "<unk>", NULL});
    char buf[256];
    int n = herd_token_to_bytes(t, 1, 0, buf);
    CHECK(n == 5 && memcmp(buf, " \xE2\x81\x87 ", 5) == 0);
    herd_tokenizer_free(t);
}

/* A user-defined piece is taken whole and never merged; an unused piece
 * made by a merge is split back into its parts. */
static void check_special_types(void)
{
    static const toy_piece own[] = {
        {SP, -10, 0}, {"a", -10, 0}, {"b", -10, 0}, {"c", -10, 0}, {SP "a", -3, 0},
        {"<t>", 0, HERD_PIECE_USER_DEFINED}, {"<", -10, 0}, {"t", -10, 0}, {">", -10, 0},
        {"a<", -1, 0}, {"bc", -20, HERD_PIECE_UNUSED},
    };
    herd_tokenizer *t = build(own, (int)(sizeof own / sizeof *own), 1);
    if (!t)
        return;
    expect(t, "a<t>b", (const char *[]){SP "a", "<t>", "b", NULL});
    expect(t, "a<b", (const char *[]){SP, "a<", "b", NULL});
    expect(t, "bc", (const char *[]){SP, "b", "c", NULL});
    CHECK(herd_token_type(t, 3 + 256 + 5) == HERD_PIECE_USER_DEFINED);
    herd_tokenizer_free(t);
}

static void put_i32(FILE *f, int32_t v) { fwrite(&v, 4, 1, f); }
static void put_f32(FILE *f, float v) { fwrite(&v, 4, 1, f); }

static void put_token(FILE *f, const char *s, float score)
{
    put_f32(f, score);
    put_i32(f, (int32_t)strlen(s));
    fwrite(s, 1, strlen(s), f);
}

/* llama2.c's exporter writes spaces for U+2581 and "\n<s>\n" for <s>. */
static long write_bin(const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    put_i32(f, 7);
    put_token(f, "<unk>", 0);
    put_token(f, "\n<s>\n", 0);
    put_token(f, "\n</s>\n", 0);
    char name[8];
    for (int b = 0; b < 256; b++) {
        snprintf(name, sizeof name, "<0x%02X>", b);
        put_token(f, name, 0);
    }
    const char *own[] = {" ", "a", "b", "c", "ab", "bc", "abc", " a", " b", "  "};
    float score[] = {-10, -10, -10, -10, -1, -0.5f, -2, -3, -0.1f, -4};
    for (int i = 0; i < 10; i++)
        put_token(f, own[i], score[i]);
    long size = ftell(f);
    fclose(f);
    return size;
}

static void check_llama2c_bin(void)
{
    char path[] = "/tmp/herd_test_tokbin_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    long size = write_bin(path);
    herd_tokenizer *t = NULL;
    CHECK_OK(herd_tokenizer_open(path, &t));
    if (t) {
        CHECK(herd_tokenizer_n_vocab(t) == 3 + 256 + 10);
        CHECK(herd_tokenizer_bos(t) == 1 && herd_tokenizer_eos(t) == 2);
        CHECK(strcmp(herd_token_piece(t, 1), "<s>") == 0);
        CHECK(strcmp(herd_token_piece(t, 2), "</s>") == 0);
        CHECK(strcmp(herd_token_piece(t, 259), SP) == 0);
        CHECK(strcmp(herd_token_piece(t, 266), SP "a") == 0);
        CHECK(herd_token_type(t, 0) == HERD_PIECE_UNKNOWN);
        CHECK(herd_token_type(t, 1) == HERD_PIECE_CONTROL);
        CHECK(herd_token_type(t, 3 + 10) == HERD_PIECE_BYTE);
        CHECK(herd_token_type(t, 260) == HERD_PIECE_NORMAL);
        CHECK(herd_token_score(t, 264) == -0.5f);
        /* ▁ a b c d: bc, then abc; d falls back to <0x64>. ▁ b: ▁b (-0.1). */
        expect(t, "abcd b", (const char *[]){SP, "abc", "<0x64>", SP "b", NULL});
        int ids[8], n = 0;
        CHECK_OK(herd_tokenize(t, "ab", 2, 1, 1, ids, 8, &n));
        CHECK(n == 4 && ids[0] == 1 && ids[1] == 259 && ids[2] == 263 && ids[3] == 2);
        expect_decode(t, "abc  ab\n");
        herd_tokenizer_free(t);
    }
    /* The same file cut short, and one with too few tokens. */
    FILE *f = fopen(path, "r+b");
    CHECK(f && ftruncate(fileno(f), size - 1) == 0);
    if (f)
        fclose(f);
    t = NULL;
    CHECK_FAILS(herd_tokenizer_open(path, &t), HERD_E_FORMAT);
    CHECK(t == NULL && strstr(herd_last_error(), path));
    f = fopen(path, "wb");
    put_i32(f, 5);
    put_token(f, "<unk>", 0);
    put_token(f, "<s>", 0);
    fclose(f);
    CHECK_FAILS(herd_tokenizer_open(path, &t), HERD_E_FORMAT);
    unlink(path);
}

static void check_bad_vocab(void)
{
    const char *pieces[2] = {"<unk>", "a"};
    size_t lens[2] = {5, 1};
    int types[2] = {HERD_PIECE_UNKNOWN, 9};
    herd_tokenizer *t = NULL;
    CHECK_FAILS(herd_spm_from_vocab(2, pieces, lens, NULL, types, -1, -1, 0, 1, &t),
                HERD_E_FORMAT);
    CHECK_FAILS(herd_spm_from_vocab(2, pieces, lens, NULL, NULL, 5, -1, 0, 1, &t),
                HERD_E_FORMAT);
    CHECK_FAILS(herd_spm_from_vocab(0, pieces, lens, NULL, NULL, -1, -1, 0, 1, &t), HERD_E_ARG);
    /* Without add_dummy_prefix no space is put in front. */
    CHECK_OK(herd_spm_from_vocab(2, pieces, lens, NULL, NULL, -1, -1, 0, 0, &t));
    int ids[4], n = 0;
    CHECK_OK(herd_tokenize(t, "aa", 2, 1, 1, ids, 4, &n));
    CHECK(n == 2 && ids[0] == 1 && ids[1] == 1);
    herd_tokenizer_free(t);
}

int main(void)
{
    check_merges();
    check_unk();
    check_special_types();
    check_llama2c_bin();
    check_bad_vocab();
    TEST_END();
}

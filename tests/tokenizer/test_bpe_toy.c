/* Byte BPE rules on tiny tokenizers whose ids can be worked out by hand:
 * merge order by the merges list (tokenizer.json) or by rank (tiktoken rank
 * file), leftmost on ties, ignore_merges (a piece that is a token), added
 * tokens (special only with HERD_TOKENIZE_SPECIAL, others always, longest
 * first), holes in the ids, and files herd must refuse.
 *
 * The toy vocabulary: ids 0..255 are the single bytes (id = byte value),
 * then "ab" 256, "bc" 257, "abc" 258, "aa" 259. */
#include "herd.h"
#include "test.h"
#include <stdarg.h>
#include <unistd.h>

static char dir[64], path[128], config[128];

/* GPT-2's spelling of byte b, written at o (UTF-8): the printable bytes as
 * themselves, the 68 others as U+0100 + their index among them. */
static int spell(int b, char *o)
{
    int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    int cp = b, k = 0;
    if (!printable) {
        cp = 256;
        for (int x = 0; x < b; x++)
            cp += !((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE);
    }
    if (cp < 0x80) {
        o[k++] = (char)cp;
    } else {
        o[k++] = (char)(0xC0 | cp >> 6);
        o[k++] = (char)(0x80 | (cp & 0x3F));
    }
    if (cp == '"' || cp == '\\') { /* JSON escape */
        o[1] = o[0];
        o[0] = '\\';
        k = 2;
    }
    return k;
}

static const char *const PRE =
    "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", "
    "\"pattern\": {\"Regex\": \"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?"
    "\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|"
    "\\\\s+(?!\\\\S)|\\\\s+\"}, \"behavior\": \"Isolated\", \"invert\": false}, "
    "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, "
    "\"use_regex\": false}]}";

/* Writes a toy tokenizer.json; merges and added are JSON fragments. */
static void write_json(const char *merges, int ignore_merges, const char *added,
                       const char *extra)
{
    FILE *f = fopen(path, "wb");
    fprintf(f, "{\"version\": \"1.0\", \"normalizer\": null, %s, %s\"added_tokens\": [%s], "
            "\"model\": {\"type\": \"BPE\", \"ignore_merges\": %s, \"vocab\": {",
            PRE, extra, added, ignore_merges ? "true" : "false");
    char s[8];
    for (int b = 0; b < 256; b++) {
        int k = spell(b, s);
        fprintf(f, "\"%.*s\": %d, ", k, s, b);
    }
    fprintf(f, "\"ab\": 256, \"bc\": 257, \"abc\": 258, \"aa\": 259}, \"merges\": [%s]}}",
            merges);
    fclose(f);
}

static void write_ranks(void)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    FILE *f = fopen(path, "wb");
    for (int b = 0; b < 256; b++)
        fprintf(f, "%c%c== %d\n", b64[b >> 2], b64[(b & 3) << 4], b);
    fprintf(f, "YWI= 256\nYmM= 257\nYWJj 258\nYWE= 259\n"); /* ab bc abc aa */
    fclose(f);
}

static herd_tokenizer *open_toy(void)
{
    herd_tokenizer *t = NULL;
    CHECK_OK(herd_tokenizer_open(path, &t));
    return t;
}

/* Encodes text and compares with the n ids that follow. */
static void expect(const herd_tokenizer *t, const char *text, unsigned flags, int n, ...)
{
    int ids[64], got = -1, want[64];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        want[i] = va_arg(ap, int);
    va_end(ap);
    if (!t)
        return;
    CHECK_OK(herd_tokenize_ex(t, text, strlen(text), flags, ids, 64, &got));
    int same = got == n && memcmp(ids, want, (size_t)n * sizeof *ids) == 0;
    CHECK_MSG(same, "\"%s\": got %d ids (%d %d %d ...)", text, got, ids[0], ids[1], ids[2]);
}

static void check_merge_order(void)
{
    write_json("\"a b\", \"b c\"", 0, "", "");
    herd_tokenizer *t = open_toy();
    expect(t, "abc", 0, 2, 256, 'c');               /* a+b ranks first */
    expect(t, "abcabc", 0, 4, 256, 'c', 256, 'c');
    herd_tokenizer_free(t);
    write_json("\"b c\", \"a b\"", 0, "", "");
    t = open_toy();
    expect(t, "abc", 0, 2, 'a', 257);               /* b+c ranks first */
    herd_tokenizer_free(t);
    write_json("[\"b\", \"c\"], [\"a\", \"b\"], [\"ab\", \"c\"], [\"a\", \"bc\"]", 0, "", "");
    t = open_toy();
    expect(t, "abc", 0, 1, 258);                    /* a+bc reaches abc */
    expect(t, "xabcx", 0, 3, 'x', 258, 'x');
    herd_tokenizer_free(t);
    write_json("\"a b\", \"b c\"", 1, "", "");      /* ignore_merges: a token is a token */
    t = open_toy();
    expect(t, "abc", 0, 1, 258);
    expect(t, "abcabc", 0, 4, 256, 'c', 256, 'c');
    herd_tokenizer_free(t);
    write_json("\"a a\"", 0, "", "");               /* ties: leftmost first */
    t = open_toy();
    expect(t, "aaa", 0, 2, 259, 'a');
    expect(t, "aaaaa", 0, 3, 259, 259, 'a');
    herd_tokenizer_free(t);
}

/* tiktoken: any two parts whose join is a token merge, lowest id first. */
static void check_ranks(void)
{
    write_ranks();
    herd_tokenizer *t = open_toy();
    if (t) {
        CHECK(herd_tokenizer_n_vocab(t) == 260 + 256);
        CHECK(herd_tokenizer_bos(t) == 260 && herd_tokenizer_eos(t) == 261);
        CHECK(herd_token_id(t, "<|eot_id|>") == 269);
    }
    expect(t, "abc", 0, 1, 258);
    expect(t, "abcabc", 0, 2, 258, 258);            /* ab, ab, then abc twice */
    expect(t, "aaa", 0, 2, 259, 'a');
    expect(t, "cab", 0, 2, 'c', 256);
    expect(t, "<|eot_id|>", HERD_TOKENIZE_SPECIAL, 1, 269);
    expect(t, "<|eot_id|>", 0, 10, '<', '|', 'e', 'o', 't', '_', 'i', 'd', '|', '>');
    herd_tokenizer_free(t);
}

static void check_added(void)
{
    write_json("\"a b\"", 0,
               "{\"id\": 300, \"content\": \"<|x|>\", \"special\": true}, "
               "{\"id\": 301, \"content\": \"<|x|>yy\", \"special\": true}, "
               "{\"id\": 302, \"content\": \"hello\", \"special\": false}", "");
    herd_tokenizer *t = open_toy();
    if (t) {
        CHECK(herd_tokenizer_n_vocab(t) == 303);
        CHECK(herd_tokenizer_bos(t) == -1 && herd_tokenizer_eos(t) == -1);
        char buf[256];
        CHECK(herd_token_to_bytes(t, -1, 280, buf) == 0); /* a hole */
        CHECK(herd_token_to_bytes(t, -1, 302, buf) == 5 && memcmp(buf, "hello", 5) == 0);
    }
    expect(t, "a<|x|>", HERD_TOKENIZE_SPECIAL, 2, 'a', 300);
    expect(t, "a<|x|>", 0, 6, 'a', '<', '|', 'x', '|', '>');
    expect(t, "<|x|>yy", HERD_TOKENIZE_SPECIAL, 1, 301);
    expect(t, "<|x|>y", HERD_TOKENIZE_SPECIAL, 2, 300, 'y');
    expect(t, "ab hello", 0, 3, 256, ' ', 302);    /* not special: always */
    expect(t, "ab hello", HERD_TOKENIZE_BOS | HERD_TOKENIZE_EOS, 3, 256, ' ', 302);
    herd_tokenizer_free(t);
    /* BOS and EOS from a tokenizer_config.json beside the file. */
    FILE *f = fopen(config, "wb");
    fprintf(f, "{\"bos_token\": {\"content\": \"hello\"}, \"eos_token\": \"<|x|>\"}");
    fclose(f);
    t = open_toy();
    if (t)
        CHECK(herd_tokenizer_bos(t) == 302 && herd_tokenizer_eos(t) == 300);
    expect(t, "ab", HERD_TOKENIZE_BOS | HERD_TOKENIZE_EOS, 3, 302, 256, 300);
    herd_tokenizer_free(t);
    remove(config);
}

static void expect_fail(herd_status st, const char *what)
{
    herd_tokenizer *t = NULL;
    CHECK_FAILS(herd_tokenizer_open(path, &t), st);
    CHECK(t == NULL);
    CHECK_MSG(strstr(herd_last_error(), what), "\"%s\" lacks \"%s\"", herd_last_error(), what);
}

static void check_refusals(void)
{
    write_json("\"a q\"", 0, "", "");               /* makes "aq": not a token */
    expect_fail(HERD_E_FORMAT, "merge 0");
    write_json("\"a zz\"", 0, "", "");              /* zz is no token */
    expect_fail(HERD_E_FORMAT, "merge 0");
    write_json("\"a b c\"", 0, "", "");
    expect_fail(HERD_E_FORMAT, "merge 0");
    write_json("\"a b\"", 0, "{\"id\": 97, \"content\": \"<|x|>\", \"special\": true}", "");
    expect_fail(HERD_E_FORMAT, "added token 97");
    FILE *f = fopen(path, "wb");
    fprintf(f, "{\"normalizer\": {\"type\": \"NFC\"}, \"model\": {\"type\": \"BPE\", "
            "\"vocab\": {}, \"merges\": []}}");
    fclose(f);
    expect_fail(HERD_E_UNSUPPORTED, "normalizer NFC");
    f = fopen(path, "wb");
    fprintf(f, "{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": [], "
            "\"continuing_subword_prefix\": \"##\"}}");
    fclose(f);
    expect_fail(HERD_E_UNSUPPORTED, "continuing_subword_prefix");
}

/* A run of whitespace longer than PCRE2's default match limit (ten million
 * steps) is still one piece. */
static void check_long_run(void)
{
    write_json("", 0, "", "");
    herd_tokenizer *t = open_toy();
    size_t n = 11u << 20;
    char *text = malloc(n + 1);
    int *ids = malloc((n + 1) * sizeof *ids), got = -1;
    memset(text, ' ', n);
    text[n] = 'z';
    if (t) {
        CHECK_OK(herd_tokenize_ex(t, text, n + 1, 0, ids, (int)n + 1, &got));
        CHECK(got == (int)n + 1 && ids[0] == ' ' && ids[n - 1] == ' ' && ids[n] == 'z');
    }
    free(text);
    free(ids);
    herd_tokenizer_free(t);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/herd-test-bpe-XXXXXX");
    if (!mkdtemp(dir))
        TEST_SKIP("cannot make a folder in /tmp");
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    snprintf(config, sizeof config, "%s/tokenizer_config.json", dir);
    check_merge_order();
    check_ranks();
    check_added();
    check_refusals();
    check_long_run();
    remove(path);
    rmdir(dir);
    TEST_END();
}

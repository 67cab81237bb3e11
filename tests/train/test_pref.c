/* Preference data (train/pref.h) with the shipped model's SentencePiece
 * tokenizer:
 *  - plain template: each sequence is the tokenization of prompt + response
 *    with BOS and EOS (herd_tokenize), and the trained tokens decode to the
 *    response;
 *  - Llama 2 template: the ids are herd_chat_render's for the conversation
 *    with the response as the last assistant message, and only that final
 *    answer is trained (not an earlier assistant turn of the prompt);
 *  - margins: numbers, Llama 2's strength labels (1, 2/3, 1/3, 0), none;
 *  - bad lines name file:line (identical pair, missing field, not JSON, a
 *    bad strength, margin and strength together), or are skipped and
 *    counted; too-long pairs are dropped and counted. */
#include "test.h"
#include "train/pref.h"
#include <unistd.h>

static char dir[] = "/tmp/herd_test_pref_XXXXXX";

static const char *write_file(const char *name, const char *text)
{
    static char path[4][256];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 256, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return p;
}

/* The text of ids[i] for the trained i, in order. */
static void trained_text(const herd_tokenizer *t, const int *ids, const uint8_t *mask, int n,
                         char *out, size_t cap)
{
    size_t len = 0;
    char buf[256];
    for (int i = 0; i < n; i++) {
        if (!mask[i] || ids[i] == herd_tokenizer_eos(t))
            continue;
        int k = herd_token_to_bytes(t, i ? ids[i - 1] : -1, ids[i], buf);
        if (k > 0 && len + (size_t)k < cap) {
            memcpy(out + len, buf, (size_t)k);
            len += (size_t)k;
        }
    }
    out[len] = 0;
}

static void test_plain(const herd_tokenizer *t)
{
    const char *path = write_file("a.jsonl",
        "{\"prompt\": \"Say something.\", \"chosen\": \" the dog amen\", \"rejected\": \" a cat\"}\n"
        "\n"
        "{\"prompt\": \"Hi.\", \"chosen\": \" one\", \"rejected\": \" two\", \"strength\": "
        "\"significantly better\"}\n"
        "{\"prompt\": \"Hi.\", \"chosen\": \" one\", \"rejected\": \" two\", \"strength\": \"Better\"}\n"
        "{\"prompt\": \"Hi.\", \"chosen\": \" one\", \"rejected\": \" two\", \"strength\": "
        "\"slightly better\"}\n"
        "{\"prompt\": \"Hi.\", \"chosen\": \" one\", \"rejected\": \" two\", \"strength\": "
        "\"negligibly better\"}\n"
        "{\"prompt\": \"Hi.\", \"chosen\": \" one\", \"rejected\": \" two\", \"margin\": 2.5}\n");
    herd_pref_set *s;
    herd_pref_stats st;
    CHECK_OK(herd_pref_load(path, t, HERD_CHAT_NONE, 0, 0, &s, &st));
    if (!s)
        return;
    CHECK(s->n == 6 && st.lines == 6 && st.used == 6 && st.bad == 0);
    float want[6] = {0, 1, 2.0f / 3, 1.0f / 3, 0, 2.5f};
    int64_t lines[6] = {1, 3, 4, 5, 6, 7};
    for (int i = 0; i < 6 && i < s->n; i++) {
        CHECK_MSG(fabsf(s->pairs[i].margin - want[i]) < 1e-6f, "pair %d margin %g", i,
                  s->pairs[i].margin);
        CHECK(s->pairs[i].line == lines[i]);
    }
    const herd_pref_pair *p = &s->pairs[0];
    int ref[64], n;
    const char *texts[2] = {"Say something. the dog amen", "Say something. a cat"};
    const char *resp[2] = {" the dog amen", " a cat"};
    const int *ids[2] = {p->chosen, p->rejected};
    const uint8_t *mask[2] = {p->chosen_mask, p->rejected_mask};
    int len[2] = {p->n_chosen, p->n_rejected};
    for (int k = 0; k < 2; k++) {
        CHECK_OK(herd_tokenize(t, texts[k], strlen(texts[k]), 1, 1, ref, 64, &n));
        CHECK(n == len[k] && !memcmp(ref, ids[k], (size_t)n * sizeof *ref));
        CHECK(mask[k][0] == 0 && mask[k][n - 1] == 1);   /* BOS no, EOS yes */
        char text[256];
        trained_text(t, ids[k], mask[k], len[k], text, sizeof text);
        CHECK_MSG(!strcmp(text, resp[k]), "trained text '%s', want '%s'", text, resp[k]);
    }
    herd_pref_set_free(s);
}

static void test_llama2(const herd_tokenizer *t)
{
    const char *path = write_file("b.jsonl",
        "{\"prompt\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", "
        "\"content\": \"Hello\"}, {\"role\": \"assistant\", \"content\": \"Hi there\"}, "
        "{\"role\": \"user\", \"content\": \"Say it\"}], \"chosen\": \"big sun\", "
        "\"rejected\": \"little tree\"}\n");
    herd_pref_set *s;
    CHECK_OK(herd_pref_load(path, t, HERD_CHAT_LLAMA2, 0, 0, &s, NULL));
    if (!s)
        return;
    const herd_pref_pair *p = &s->pairs[0];
    herd_chat_msg m[5] = {{"system", "Be brief."}, {"user", "Hello"}, {"assistant", "Hi there"},
                          {"user", "Say it"}, {"assistant", "big sun"}};
    int ref[256], n;
    CHECK_OK(herd_chat_render(t, HERD_CHAT_LLAMA2, m, 5, 0, ref, 256, &n));
    CHECK(n == p->n_chosen && !memcmp(ref, p->chosen, (size_t)n * sizeof *ref));
    char text[256];
    trained_text(t, p->chosen, p->chosen_mask, p->n_chosen, text, sizeof text);
    CHECK_MSG(!strcmp(text, " big sun "),   /* Meta's " {answer} " EOS */
              "trained text '%s' (the earlier answer must not be trained)", text);
    m[4].content = "little tree";
    CHECK_OK(herd_chat_render(t, HERD_CHAT_LLAMA2, m, 5, 0, ref, 256, &n));
    CHECK(n == p->n_rejected && !memcmp(ref, p->rejected, (size_t)n * sizeof *ref));
    herd_pref_set_free(s);
}

/* A file of one good line then bad: must fail naming line 2 and why. */
static void expect_bad(const herd_tokenizer *t, const char *bad, const char *why)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"prompt\": \"Q\", \"chosen\": \" a\", \"rejected\": \" b\"}\n%s\n", bad);
    const char *path = write_file("bad.jsonl", text);
    herd_pref_set *s;
    CHECK_FAILS(herd_pref_load(path, t, HERD_CHAT_NONE, 0, 0, &s, NULL), HERD_E_FORMAT);
    char want[300];
    snprintf(want, sizeof want, "%s:2: ", path);
    CHECK_MSG(strstr(herd_last_error(), want) && strstr(herd_last_error(), why),
              "message '%s', want '%s' and '%s'", herd_last_error(), want, why);
    /* skipped and counted */
    herd_pref_stats st;
    CHECK_OK(herd_pref_load(path, t, HERD_CHAT_NONE, 0, 1, &s, &st));
    CHECK(s && s->n == 1 && st.bad == 1 && strstr(st.first_bad, why));
    herd_pref_set_free(s);
}

static void test_bad(const herd_tokenizer *t)
{
    expect_bad(t, "{\"prompt\": \"Q\", \"chosen\": \" same\", \"rejected\": \" same\"}", "identical");
    expect_bad(t, "{\"prompt\": \"Q\", \"chosen\": \" a\"}", "no \"rejected\"");
    expect_bad(t, "{\"chosen\": \" a\", \"rejected\": \" b\"}", "no \"prompt\"");
    expect_bad(t, "{\"prompt\": \"Q\", \"chosen\": 3, \"rejected\": \" b\"}", "not a string");
    expect_bad(t, "{\"prompt\": \"Q\", \"chosen\": \" a\", ", "not valid JSON");
    expect_bad(t, "[1, 2]", "not a JSON object");
    expect_bad(t, "{\"prompt\": \"Q\", \"chosen\": \" a\", \"rejected\": \" b\", \"strength\": "
               "\"much better\"}", "strength");
    expect_bad(t, "{\"prompt\": \"Q\", \"chosen\": \" a\", \"rejected\": \" b\", \"margin\": -1}",
               "margin");
    expect_bad(t, "{\"prompt\": \"Q\", \"chosen\": \" a\", \"rejected\": \" b\", \"margin\": 1, "
               "\"strength\": \"better\"}", "both");
    expect_bad(t, "{\"prompt\": [{\"role\": \"robot\", \"content\": \"x\"}], \"chosen\": \" a\", "
               "\"rejected\": \" b\"}", "role");
    /* Nothing usable at all. */
    const char *path = write_file("empty.jsonl", "\n\n");
    herd_pref_set *s;
    CHECK_FAILS(herd_pref_load(path, t, HERD_CHAT_NONE, 0, 0, &s, NULL), HERD_E_FORMAT);
}

static void test_too_long(const herd_tokenizer *t)
{
    const char *path = write_file("long.jsonl",
        "{\"prompt\": \"Q\", \"chosen\": \" a\", \"rejected\": \" b\"}\n"
        "{\"prompt\": \"Q\", \"chosen\": \" the dog saw the cat and the sun\", \"rejected\": \" b\"}\n");
    herd_pref_set *s;
    herd_pref_stats st;
    CHECK_OK(herd_pref_load(path, t, HERD_CHAT_NONE, 8, 0, &s, &st));
    CHECK(s && s->n == 1 && st.too_long == 1 && s->pairs[0].line == 1);
    herd_pref_set_free(s);
}

int main(void)
{
    CHECK(herd_pref_strength_margin("significantly better") == 1.0f);
    CHECK(fabsf(herd_pref_strength_margin("BETTER") - 2.0f / 3) < 1e-7f);
    CHECK(fabsf(herd_pref_strength_margin("slightly better") - 1.0f / 3) < 1e-7f);
    CHECK(herd_pref_strength_margin("negligibly better") == 0.0f);
    CHECK(herd_pref_strength_margin("unsure") == 0.0f);
    CHECK(herd_pref_strength_margin("far better") < 0);

    char path[512];
    const char *bin = getenv("HERD_BIN");
    snprintf(path, sizeof path, "%s/models/herd-random.gguf", bin ? bin : "build");
    herd_model *m;
    if (herd_model_open(path, &m) != HERD_OK)
        TEST_SKIP("no %s", path);
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary folder");
    const herd_tokenizer *t = herd_model_tokenizer(m);
    test_plain(t);
    test_llama2(t);
    test_bad(t);
    test_too_long(t);
    const char *names[] = {"a.jsonl", "b.jsonl", "bad.jsonl", "empty.jsonl", "long.jsonl"};
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    herd_model_free(m);
    TEST_END();
}

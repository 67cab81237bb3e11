/* Ghost Attention data: the sampling view has the instruction on every user
 * message, the training view only at the start (system prompt or first
 * user message) with "train": false on every answer but the last; written
 * files read back through herd_sft_load train only the last answer (mask
 * checked token by token, ids against herd_chat_render of hand-written
 * messages); instructions drawn from a pool are deterministic per seed and
 * line; bad input stops with file:line. */
#include "herd.h"
#include "test.h"
#include "tokenizer/tokenizer.h"
#include "train/gatt.h"
#include "train/sft.h"
#include <unistd.h>

#define SP "\xE2\x96\x81" /* U+2581 */

static char dir[64], in_path[128], out_path[128], pool_path[128];

static void write_to(const char *p, const char *text)
{
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (!f)
        exit(1);
    fputs(text, f);
    fclose(f);
}

static char *read_all(const char *p)
{
    static char buf[1 << 16];
    FILE *f = fopen(p, "rb");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    return buf;
}

/* ---- one dialogue ---- */

static const herd_chat_msg CONV[] = {{"system", "Be brief."}, {"user", "Hi"},
                                     {"assistant", "Hello"},  {"user", "Bye"},
                                     {"assistant", "Ciao"},   {"user", "?"}};

static void expect_msgs(const herd_gatt_dialog *d, const herd_chat_msg *want,
                        const uint8_t *train, int n, const char *what)
{
    CHECK_MSG(d->n == n, "%s: %d messages, want %d", what, d->n, n);
    for (int i = 0; i < n && i < d->n; i++) {
        CHECK_MSG(!strcmp(d->msgs[i].role, want[i].role) &&
                  !strcmp(d->msgs[i].content, want[i].content) && d->train[i] == train[i],
                  "%s: message %d is %s \"%s\" train %d, want %s \"%s\" train %d", what, i,
                  d->msgs[i].role, d->msgs[i].content, d->train[i], want[i].role,
                  want[i].content, train[i]);
    }
}

static void check_views(void)
{
    herd_gatt_dialog d, d2;
    const char *I = "Answer in French.";
    CHECK_OK(herd_gatt_build(HERD_GATT_PROMPTS, 0, I, CONV, 6, &d));
    const herd_chat_msg p[] = {{"system", "Be brief."}, {"user", "Answer in French.\n\nHi"},
                               {"assistant", "Hello"}, {"user", "Answer in French.\n\nBye"},
                               {"assistant", "Ciao"},  {"user", "Answer in French.\n\n?"}};
    const uint8_t all[] = {1, 1, 1, 1, 1, 1, 1};
    expect_msgs(&d, p, all, 6, "prompts");
    /* The prompts view is its own prompts view. */
    CHECK_OK(herd_gatt_build(HERD_GATT_PROMPTS, 0, I, d.msgs, d.n, &d2));
    expect_msgs(&d2, p, all, 6, "prompts of prompts");
    herd_gatt_dialog_free(&d2);
    /* The train view, from the raw dialogue and from the prompts view. */
    const herd_chat_msg t[] = {{"system", "Answer in French.\n\nBe brief."}, {"user", "Hi"},
                               {"assistant", "Hello"}, {"user", "Bye"}, {"assistant", "Ciao"}};
    const uint8_t last[] = {1, 1, 0, 1, 1};
    CHECK_OK(herd_gatt_build(HERD_GATT_TRAIN, 0, I, CONV, 6, &d2));
    expect_msgs(&d2, t, last, 5, "train");
    herd_gatt_dialog_free(&d2);
    CHECK_OK(herd_gatt_build(HERD_GATT_TRAIN, 0, I, d.msgs, d.n, &d2));
    expect_msgs(&d2, t, last, 5, "train of prompts");
    herd_gatt_dialog_free(&d2);
    herd_gatt_dialog_free(&d);
    /* No system message: a new one; --in-user: the first user message. */
    const herd_chat_msg ns[] = {{"system", I}, {"user", "Hi"}, {"assistant", "Hello"},
                                {"user", "Bye"}, {"assistant", "Ciao"}};
    CHECK_OK(herd_gatt_build(HERD_GATT_TRAIN, 0, I, CONV + 1, 5, &d));
    expect_msgs(&d, ns, last, 5, "train, no system");
    herd_gatt_dialog_free(&d);
    const herd_chat_msg iu[] = {{"system", "Be brief."}, {"user", "Answer in French.\n\nHi"},
                                {"assistant", "Hello"}, {"user", "Bye"}, {"assistant", "Ciao"}};
    CHECK_OK(herd_gatt_build(HERD_GATT_TRAIN, 1, I, CONV, 6, &d));
    expect_msgs(&d, iu, last, 5, "train, in user");
    herd_gatt_dialog_free(&d);
    /* Three answers: only the third trained; an empty user text. */
    const herd_chat_msg three[] = {{"user", ""},  {"assistant", "a"}, {"user", "b"},
                                   {"assistant", "c"}, {"user", "d"}, {"assistant", "e"}};
    const herd_chat_msg three_p[] = {{"user", I}, {"assistant", "a"},
                                     {"user", "Answer in French.\n\nb"},
                                     {"assistant", "c"}, {"user", "Answer in French.\n\nd"},
                                     {"assistant", "e"}};
    CHECK_OK(herd_gatt_build(HERD_GATT_PROMPTS, 0, I, three, 6, &d));
    expect_msgs(&d, three_p, all, 6, "prompts, empty user text");
    herd_gatt_dialog_free(&d);
    const uint8_t only3[] = {1, 1, 0, 1, 0, 1, 1};
    CHECK_OK(herd_gatt_build(HERD_GATT_TRAIN, 1, I, three, 6, &d));
    const herd_chat_msg three_t[] = {{"user", I}, {"assistant", "a"}, {"user", "b"},
                                     {"assistant", "c"}, {"user", "d"}, {"assistant", "e"}};
    expect_msgs(&d, three_t, only3 + 1, 6, "train, three answers");
    herd_gatt_dialog_free(&d);
    /* Refused: no user message, no answer to train, empty instruction, a role. */
    const herd_chat_msg no_user[] = {{"system", "s"}, {"assistant", "a"}};
    const herd_chat_msg no_answer[] = {{"assistant", "a"}, {"user", "u"}};
    const herd_chat_msg tool[] = {{"user", "u"}, {"tool", "x"}, {"assistant", "a"}};
    CHECK_FAILS(herd_gatt_build(HERD_GATT_PROMPTS, 0, I, no_user, 2, &d), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "no user message") != NULL);
    CHECK_OK(herd_gatt_build(HERD_GATT_PROMPTS, 0, I, no_answer, 2, &d));
    herd_gatt_dialog_free(&d);
    CHECK_FAILS(herd_gatt_build(HERD_GATT_TRAIN, 0, I, no_answer, 2, &d), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "no assistant message after a user") != NULL);
    CHECK_FAILS(herd_gatt_build(HERD_GATT_TRAIN, 0, " \n", CONV, 6, &d), HERD_E_ARG);
    CHECK_FAILS(herd_gatt_build(HERD_GATT_TRAIN, 0, NULL, CONV, 6, &d), HERD_E_ARG);
    CHECK_FAILS(herd_gatt_build(HERD_GATT_TRAIN, 0, I, tool, 3, &d), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "tool") != NULL && d.n == 0);
}

/* ---- through SFT ---- */

/* SentencePiece: <unk> <s> </s>, the byte pieces, "▁", printable ASCII. */
static herd_tokenizer *toy_spm(void)
{
    static char bytes[256][8], chars[95][2];
    const char *pieces[400];
    size_t lens[400];
    float scores[400];
    int types[400], n = 0;
    const char *special[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++, n++)
        pieces[n] = special[i], scores[n] = 0,
        types[n] = i ? HERD_PIECE_CONTROL : HERD_PIECE_UNKNOWN;
    for (int b = 0; b < 256; b++, n++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        pieces[n] = bytes[b], scores[n] = 0, types[n] = HERD_PIECE_BYTE;
    }
    pieces[n] = SP, scores[n] = -1, types[n++] = HERD_PIECE_NORMAL;
    for (int c = 0x21; c < 0x7F; c++, n++) {
        chars[c - 0x21][0] = (char)c;
        pieces[n] = chars[c - 0x21], scores[n] = -1, types[n] = HERD_PIECE_NORMAL;
    }
    for (int i = 0; i < n; i++)
        lens[i] = strlen(pieces[i]);
    herd_tokenizer *t = NULL;
    CHECK_OK(herd_spm_from_vocab(n, pieces, lens, scores, types, 1, 2, 0, 1, &t));
    return t;
}

/* The decoded text of ids, control tokens by their piece, each run of
 * trained tokens in braces. */
static const char *describe(const herd_tokenizer *t, const int *ids, const uint8_t *tr, int n)
{
    static char out[16384];
    size_t k = 0;
    int in = 0;
    for (int i = 0; i < n && k < sizeof out - 300; i++) {
        if (tr[i] != in)
            out[k++] = in ? '}' : '{', in = tr[i];
        if (herd_token_type(t, ids[i]) == HERD_PIECE_CONTROL) {
            const char *p = herd_token_piece(t, ids[i]);
            memcpy(out + k, p, strlen(p));
            k += strlen(p);
        } else {
            int len = herd_token_to_bytes(t, i ? ids[i - 1] : -1, ids[i], out + k);
            k += len > 0 ? (size_t)len : 0;
        }
    }
    if (in)
        out[k++] = '}';
    out[k] = 0;
    return out;
}

static const char *const CHATS =
    "{\"id\": 7, \"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": "
    "\"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}, "
    "{\"role\": \"user\", \"content\": \"Bye\"}, {\"role\": \"assistant\", \"content\": "
    "\"Ciao\"}, {\"role\": \"user\", \"content\": \"?\"}]}\n"
    "\n"
    "{\"conversations\": [{\"from\": \"human\", \"value\": \"a\"}, {\"from\": \"gpt\", "
    "\"value\": \"b\"}, {\"from\": \"human\", \"value\": \"c\"}, {\"from\": \"gpt\", \"value\": "
    "\"d\"}, {\"from\": \"human\", \"value\": \"e\"}, {\"from\": \"gpt\", \"value\": \"f\"}], "
    "\"instruction\": \"Use emojis.\"}\n";

static herd_sft_set *sft_of(const herd_tokenizer *t, herd_chat_template tpl)
{
    herd_sft_opts so = {tpl, 0, 0, 0};
    herd_sft_set *s = NULL;
    CHECK_OK(herd_sft_load(out_path, t, &so, &s, NULL));
    return s;
}

static void expect_example(const herd_tokenizer *t, const herd_sft_set *s, int64_t i,
                           const char *want, const char *what)
{
    CHECK_MSG(s && i < s->n, "%s: no example %lld", what, (long long)i);
    if (!s || i >= s->n)
        return;
    int64_t o = s->off[i];
    const char *got = describe(t, s->ids + o, s->trained + o, (int)(s->off[i + 1] - o));
    CHECK_MSG(!strcmp(got, want), "%s:\n  got  %s\n  want %s", what, got, want);
}

static void expect_render(const herd_tokenizer *t, const herd_sft_set *s, int64_t i,
                          const herd_chat_msg *m, int n, const char *what)
{
    int ids[4096], got = 0;
    CHECK_OK(herd_chat_render(t, HERD_CHAT_LLAMA2, m, n, 0, ids, 4096, &got));
    int same = s && i < s->n && s->off[i + 1] - s->off[i] == got &&
               !memcmp(s->ids + s->off[i], ids, (size_t)got * sizeof *ids);
    CHECK_MSG(same, "%s: not the chat template's rendering", what);
}

static herd_status run_file(herd_gatt_view v, const char *inst, int in_user,
                            herd_gatt_stats *st)
{
    herd_gatt_opts o = {.view = v, .instruction = inst, .in_user = in_user};
    FILE *f = fopen(out_path, "wb");
    herd_status s = herd_gatt_file(in_path, f, &o, st);
    fclose(f);
    return s;
}

static void check_sft(const herd_tokenizer *t)
{
    write_to(in_path, CHATS);
    herd_gatt_stats st;
    CHECK_OK(run_file(HERD_GATT_TRAIN, "Answer in French.", 0, &st));
    CHECK(st.lines == 2 && st.written == 2 && st.drawn == 0);
    herd_sft_set *s = sft_of(t, HERD_CHAT_LLAMA2);
    CHECK(s && s->n == 2);
    expect_example(t, s, 0, "<s>[INST] <<SYS>>\nAnswer in French.\n\nBe brief.\n<</SYS>>\n\n"
                   "Hi [/INST] Hello </s><s>[INST] Bye [/INST]{ Ciao </s>}", "train view, llama2");
    const herd_chat_msg m0[] = {{"system", "Answer in French.\n\nBe brief."}, {"user", "Hi"},
                                {"assistant", "Hello"}, {"user", "Bye"}, {"assistant", "Ciao"}};
    expect_render(t, s, 0, m0, 5, "train view");
    /* The line's own instruction wins over the fixed one. */
    expect_example(t, s, 1, "<s>[INST] <<SYS>>\nUse emojis.\n<</SYS>>\n\na [/INST] b </s>"
                   "<s>[INST] c [/INST] d </s><s>[INST] e [/INST]{ f </s>}", "sharegpt, own");
    herd_sft_set_free(s);
    s = sft_of(t, HERD_CHAT_NONE);
    expect_example(t, s, 1, "<s>System: Use emojis.\nUser: a\nAssistant: b</s> User: c\n"
                   "Assistant: d</s> User: e\nAssistant:{ f</s>}", "train view, plain");
    herd_sft_set_free(s);
    /* The other keys are kept, the "train" flags written. */
    const char *text = read_all(out_path);
    CHECK(strstr(text, "\"id\":7") != NULL);
    CHECK(strstr(text, "{\"role\":\"assistant\",\"content\":\"Hello\",\"train\":false}") != NULL);
    CHECK(strstr(text, "{\"role\":\"assistant\",\"content\":\"Ciao\"}") != NULL);
    /* In the user message. */
    CHECK_OK(run_file(HERD_GATT_TRAIN, "Answer in French.", 1, NULL));
    s = sft_of(t, HERD_CHAT_LLAMA2);
    expect_example(t, s, 0, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nAnswer in French.\n\nHi "
                   "[/INST] Hello </s><s>[INST] Bye [/INST]{ Ciao </s>}", "in user, llama2");
    herd_sft_set_free(s);
    /* The prompts view (every answer trained, as plain SFT): the
     * instruction before every user text. */
    CHECK_OK(run_file(HERD_GATT_PROMPTS, "Answer in French.", 0, NULL));
    s = sft_of(t, HERD_CHAT_LLAMA2);
    expect_example(t, s, 0, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nAnswer in French.\n\nHi "
                   "[/INST]{ Hello </s>}<s>[INST] Answer in French.\n\nBye [/INST]{ Ciao </s>}",
                   "prompts, llama2");
    herd_sft_set_free(s);
    text = read_all(out_path);
    CHECK(strstr(text, "\"content\":\"Answer in French.\\n\\n?\"") != NULL);
    CHECK(strstr(text, "\"train\"") == NULL);
}

/* ---- drawn instructions ---- */

/* The "instruction" of each line of out_path into got (n lines). */
static int instructions_of(char got[][64], int max)
{
    const char *text = read_all(out_path), *p = text;
    int n = 0;
    while (n < max && (p = strstr(p, "\"instruction\":\""))) {
        p += 15;
        size_t k = strcspn(p, "\"");
        snprintf(got[n++], 64, "%.*s", (int)k, p);
    }
    return n;
}

static void check_pool(void)
{
    write_to(pool_path, "\xEF\xBB\xBF" "Answer in French.\r\n\n  Use emojis.  \nAct as Napoleon.\n"
             "\t\nSpeak like a pirate.\nBe terse.");
    char **pool = NULL;
    int np = 0;
    CHECK_OK(herd_gatt_read_pool(pool_path, &pool, &np));
    const char *want[] = {"Answer in French.", "Use emojis.", "Act as Napoleon.",
                          "Speak like a pirate.", "Be terse."};
    CHECK(np == 5);
    for (int i = 0; i < np && i < 5; i++)
        CHECK_MSG(!strcmp(pool[i], want[i]), "pool[%d] \"%s\"", i, pool[i]);
    char chats[40 * 160] = "", line[160];
    for (int i = 0; i < 40; i++) {
        snprintf(line, sizeof line, "{\"messages\": [{\"role\": \"user\", \"content\": \"q%d\"}, "
                 "{\"role\": \"assistant\", \"content\": \"a\"}, {\"role\": \"user\", "
                 "\"content\": \"r\"}]}\n", i);
        strcat(chats, line);
    }
    write_to(in_path, chats);
    static char got[4][40][64];
    herd_gatt_opts o = {.view = HERD_GATT_PROMPTS, .pool = pool, .n_pool = np, .seed = 1};
    uint64_t seeds[4] = {1, 1, 2, 1};
    for (int r = 0; r < 4; r++) {
        o.seed = seeds[r];
        o.view = r == 3 ? HERD_GATT_TRAIN : HERD_GATT_PROMPTS;
        FILE *f = fopen(out_path, "wb");
        herd_gatt_stats st;
        CHECK_OK(herd_gatt_file(in_path, f, &o, &st));
        fclose(f);
        CHECK(st.written == 40 && st.drawn == 40);
        CHECK(instructions_of(got[r], 40) == 40);
        if (r == 0) {
            /* Each line's user messages both carry its instruction. */
            const char *text = read_all(out_path);
            char needle[160];
            for (int i = 0; i < 40; i++) {
                snprintf(needle, sizeof needle, "\"%s\\n\\nq%d\"},{\"role\":\"assistant\","
                         "\"content\":\"a\"},{\"role\":\"user\",\"content\":\"%s\\n\\nr\"}",
                         got[0][i], i, got[0][i]);
                CHECK_MSG(strstr(text, needle) != NULL, "line %d", i + 1);
            }
        }
    }
    int same01 = 1, same03 = 1, same02 = 1, seen[5] = {0};
    for (int i = 0; i < 40; i++) {
        same01 &= !strcmp(got[0][i], got[1][i]);
        same03 &= !strcmp(got[0][i], got[3][i]);
        same02 &= !strcmp(got[0][i], got[2][i]);
        int in_pool = 0;
        for (int k = 0; k < 5; k++)
            if (!strcmp(got[0][i], want[k]))
                seen[k] = in_pool = 1;
        CHECK_MSG(in_pool, "line %d: \"%s\" is not in the pool", i + 1, got[0][i]);
    }
    CHECK(same01 && same03 && !same02);
    CHECK(seen[0] && seen[1] && seen[2] && seen[3] && seen[4]);
    /* A line's draw depends on its number only: other lines changed. */
    write_to(in_path, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}\n"
             "{\"messages\": [{\"role\": \"user\", \"content\": \"y\"}]}\n"
             "{\"messages\": [{\"role\": \"user\", \"content\": \"q2\"}]}\n");
    o.view = HERD_GATT_PROMPTS, o.seed = 1;
    FILE *f = fopen(out_path, "wb");
    CHECK_OK(herd_gatt_file(in_path, f, &o, NULL));
    fclose(f);
    char three[3][64];
    CHECK(instructions_of(three, 3) == 3);
    for (int i = 0; i < 3; i++)
        CHECK_MSG(!strcmp(three[i], got[0][i]), "line %d: %s, was %s", i + 1, three[i], got[0][i]);
    /* Combined: K different ones joined by a space. */
    o.combine = 2;
    f = fopen(out_path, "wb");
    CHECK_OK(herd_gatt_file(in_path, f, &o, NULL));
    fclose(f);
    CHECK(instructions_of(three, 3) == 3);
    for (int i = 0; i < 3; i++) {
        int parts = 0;
        for (int a = 0; a < 5; a++)
            for (int b = 0; b < 5; b++) {
                char both[128];
                snprintf(both, sizeof both, "%s %s", want[a], want[b]);
                parts += a != b && !strcmp(three[i], both);
            }
        CHECK_MSG(parts == 1, "combined \"%s\"", three[i]);
    }
    o.combine = 6;
    CHECK_FAILS(herd_gatt_file(in_path, stdout, &o, NULL), HERD_E_ARG);
    herd_gatt_pool_free(pool, np);
    write_to(pool_path, "\n \n\t\n");
    CHECK_FAILS(herd_gatt_read_pool(pool_path, &pool, &np), HERD_E_FORMAT);
    CHECK(strstr(herd_last_error(), "no instructions") != NULL && !pool && !np);
}

/* ---- bad lines ---- */

static void check_bad(void)
{
    static const char *const bad[][3] = {
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "no instruction", ""},
        {"{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"assistant\", "
         "\"content\": \"a\"}]}", "no user message", "I"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}", "not valid JSON", "I"},
        {"[1]", "not a JSON object", "I"},
        {"{\"prompt\": \"p\", \"completion\": \"c\"}", "not a chat", "I"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"instruction\": 3}",
         "\"instruction\" is not a string", "I"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"instruction\": \"\"}",
         "instruction is empty", "I"},
        {"{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}", "robot", "I"},
        {"{\"conversations\": [{\"from\": \"human\"}]}", "conversations[0] has no string", "I"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]} 1", "text after", "I"},
    };
    char text[512], where[200];
    snprintf(where, sizeof where, "%s:3: ", in_path);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(text, sizeof text, "{\"messages\": [{\"role\": \"user\", \"content\": \"ok\"}, "
                 "{\"role\": \"assistant\", \"content\": \"a\"}], \"instruction\": \"J\"}\n\n"
                 "%s\n", bad[i][0]);
        write_to(in_path, text);
        herd_gatt_stats st;
        herd_status s = run_file(HERD_GATT_PROMPTS, bad[i][2][0] ? bad[i][2] : NULL, 0, &st);
        CHECK_MSG(s == HERD_E_FORMAT && strstr(herd_last_error(), where) &&
                  strstr(herd_last_error(), bad[i][1]), "bad line %zu: %d %s", i, (int)s,
                  herd_last_error());
        CHECK(st.lines == 2 && st.written == 1);
    }
    /* The train view wants an answer after a user message. */
    write_to(in_path, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}\n");
    CHECK_FAILS(run_file(HERD_GATT_TRAIN, "I", 0, NULL), HERD_E_FORMAT);
    snprintf(where, sizeof where, "%s:1: ", in_path);
    CHECK(strstr(herd_last_error(), where) && strstr(herd_last_error(), "no assistant"));
    CHECK_OK(run_file(HERD_GATT_PROMPTS, "I", 0, NULL));
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none.jsonl", dir);
    herd_gatt_opts o = {.view = HERD_GATT_TRAIN, .instruction = "I"};
    CHECK_FAILS(herd_gatt_file(missing, stdout, &o, NULL), HERD_E_IO);
    o.view = (herd_gatt_view)7;
    CHECK_FAILS(herd_gatt_file(in_path, stdout, &o, NULL), HERD_E_ARG);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/herd_gatt_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(in_path, sizeof in_path, "%s/in.jsonl", dir);
    snprintf(out_path, sizeof out_path, "%s/out.jsonl", dir);
    snprintf(pool_path, sizeof pool_path, "%s/pool.txt", dir);
    herd_tokenizer *spm = toy_spm();
    if (!spm)
        return 1;
    check_views();
    check_sft(spm);
    check_pool();
    check_bad();
    herd_tokenizer_free(spm);
    unlink(in_path);
    unlink(out_path);
    unlink(pool_path);
    rmdir(dir);
    TEST_END();
}

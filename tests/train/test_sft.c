/* SFT data: every JSONL shape rendered with Llama 2, Llama 3 and the plain
 * template, its loss mask checked token by token against hand-written
 * expectations (the decoded text with each trained run in braces), its ids
 * against herd_chat_render / herd_tokenize of the whole text; bad lines
 * (stop with file:line, or skip and count), long examples (dropped or
 * truncated, counted), empty files; and the packing loader (whole examples,
 * doc_start, padding, greedy fill, each example once per epoch, exact
 * resume). Toy tokenizers built here; the real Llama 2 / Llama 3 ones from
 * shared/ when present. */
#include "herd.h"
#include "test.h"
#include "tokenizer/tokenizer.h"
#include "train/sft.h"
#include <stdarg.h>
#include <stdint.h>
#include <unistd.h>

#define SP "\xE2\x96\x81" /* U+2581 */

static char dir[64], path[128];

static void write_file(const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        exit(1);
    fputs(text, f);
    fclose(f);
}

/* ---- toy tokenizers ---- */

/* SentencePiece: <unk> <s> </s>, the 256 byte pieces, "▁", the printable
 * ASCII characters, then a few merges. */
static herd_tokenizer *toy_spm(void)
{
    static char bytes[256][8], chars[95][2];
    static const char *const merges[] = {SP "[", "IN", "ST", "INST", "He", "ll", "llo", "Hello",
                                         SP "Hello", "<<", ">>", "SY", "SYS", "Us", "er",
                                         "User", SP "User"};
    const char *pieces[600];
    size_t lens[600];
    float scores[600];
    int types[600], n = 0;
    const char *special[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++, n++)
        pieces[n] = special[i], scores[n] = 0, types[n] = i ? HERD_PIECE_CONTROL : HERD_PIECE_UNKNOWN;
    for (int b = 0; b < 256; b++, n++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        pieces[n] = bytes[b], scores[n] = 0, types[n] = HERD_PIECE_BYTE;
    }
    pieces[n] = SP, scores[n] = -1, types[n++] = HERD_PIECE_NORMAL;
    for (int c = 0x21; c < 0x7F; c++, n++) {
        chars[c - 0x21][0] = (char)c;
        pieces[n] = chars[c - 0x21], scores[n] = -1, types[n] = HERD_PIECE_NORMAL;
    }
    for (size_t i = 0; i < sizeof merges / sizeof *merges; i++, n++)
        pieces[n] = merges[i], scores[n] = -2 - (float)i, types[n] = HERD_PIECE_NORMAL;
    for (int i = 0; i < n; i++)
        lens[i] = strlen(pieces[i]);
    herd_tokenizer *t = NULL;
    CHECK_OK(herd_spm_from_vocab(n, pieces, lens, scores, types, 1, 2, 0, 1, &t));
    return t;
}

/* GPT-2's spelling of byte b (UTF-8 at o), its length. */
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
    return k;
}

/* Byte BPE: the 256 bytes, a few merges, Llama 3's chat special tokens. */
static herd_tokenizer *toy_bpe(void)
{
    static char bytes[256][4];
    static const char *const merges[] = {"H e", "l l", "He ll", "Hell o", "u s", "us e", "use r",
                                         "Ċ Ċ", "Ġ H", "ĠH e", "ĠHe ll"};
    static const char *const merged[] = {"He", "ll", "Hell", "Hello", "us", "use", "user", "ĊĊ",
                                         "ĠH", "ĠHe", "ĠHell"};
    static const char *const special[] = {"<|begin_of_text|>", "<|end_of_text|>",
                                          "<|start_header_id|>", "<|end_header_id|>",
                                          "<|eot_id|>"};
    const char *tok[300];
    size_t lens[300], mlens[16];
    int types[300], n = 0, nm = (int)(sizeof merges / sizeof *merges);
    for (int b = 0; b < 256; b++, n++) {
        lens[n] = (size_t)spell(b, bytes[b]);
        tok[n] = bytes[b], types[n] = HERD_PIECE_NORMAL;
    }
    for (int i = 0; i < nm; i++, n++)
        tok[n] = merged[i], lens[n] = strlen(merged[i]), types[n] = HERD_PIECE_NORMAL;
    for (int i = 0; i < 5; i++, n++)
        tok[n] = special[i], lens[n] = strlen(special[i]), types[n] = HERD_PIECE_CONTROL;
    for (int i = 0; i < nm; i++)
        mlens[i] = strlen(merges[i]);
    herd_tokenizer *t = NULL;
    CHECK_OK(herd_bpe_from_vocab(n, tok, lens, types, nm, merges, mlens, -1, -1, &t));
    return t;
}

/* ---- what an example reads as ---- */

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

static void expect_example(const herd_tokenizer *t, const herd_sft_set *s, int64_t i,
                           const char *want, const char *what)
{
    CHECK_MSG(i < s->n, "%s: example %lld missing", what, (long long)i);
    if (i >= s->n)
        return;
    int64_t o = s->off[i];
    const char *got = describe(t, s->ids + o, s->trained + o, (int)(s->off[i + 1] - o));
    CHECK_MSG(!strcmp(got, want), "%s, example %lld:\n  got  %s\n  want %s", what, (long long)i,
              got, want);
}

/* Example i's ids equal want (n ids). */
static void expect_ids(const herd_sft_set *s, int64_t i, const int *want, int n, const char *what)
{
    int same = i < s->n && s->off[i + 1] - s->off[i] == n &&
               !memcmp(s->ids + s->off[i], want, (size_t)n * sizeof *want);
    CHECK_MSG(same, "%s: example %lld is not the reference rendering", what, (long long)i);
}

static void expect_chat_render(const herd_tokenizer *t, herd_chat_template tpl,
                               const herd_sft_set *s, int64_t i, const herd_chat_msg *m, int n,
                               const char *what)
{
    int ids[4096], got = 0;
    CHECK_OK(herd_chat_render(t, tpl, m, n, 0, ids, 4096, &got));
    expect_ids(s, i, ids, got, what);
}

static void expect_text(const herd_tokenizer *t, const herd_sft_set *s, int64_t i,
                        const char *text, const char *what)
{
    int ids[4096], got = 0;
    CHECK_OK(herd_tokenize_ex(t, text, strlen(text), HERD_TOKENIZE_BOS | HERD_TOKENIZE_EOS, ids,
                              4096, &got));
    expect_ids(s, i, ids, got, what);
}

/* ---- every shape with every template ---- */

static const char *const SHAPES =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", "
    "\"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}, {\"role\": \"user\", "
    "\"content\": \"Bye\"}, {\"role\": \"assistant\", \"content\": \" Ciao\\n\"}, {\"role\": "
    "\"user\", \"content\": \"?\"}]}\n"
    "\n"
    "{\"conversations\": [{\"from\": \"human\", \"value\": \"Hi\"}, {\"from\": \"gpt\", "
    "\"value\": \"Hello\"}]}\n"
    "{\"instruction\": \"Translate.\", \"input\": \"cat\", \"output\": \"chat\"}\n"
    "  \r\n"
    "{\"instruction\": \"Say hi.\", \"input\": \"\", \"output\": \"Hi!\"}\n"
    "{\"prompt\": \"2+2=\", \"completion\": \" 4\"}";

static const herd_chat_msg CONV[] = {{"system", "Be brief."}, {"user", "Hi"},
                                     {"assistant", "Hello"},  {"user", "Bye"},
                                     {"assistant", " Ciao\n"}};

static herd_sft_set *load_ok(const herd_tokenizer *t, herd_chat_template tpl, int max_len,
                             int truncate, int skip_bad, herd_sft_stats *st)
{
    herd_sft_opts o = {tpl, max_len, truncate, skip_bad};
    herd_sft_set *s = NULL;
    CHECK_OK(herd_sft_load(path, t, &o, &s, st));
    if (!s)
        exit(1);
    return s;
}

static void check_llama2(const herd_tokenizer *t, const char *name)
{
    write_file(SHAPES);
    herd_sft_stats st;
    herd_sft_set *s = load_ok(t, HERD_CHAT_LLAMA2, 0, 0, 0, &st);
    CHECK(s->n == 5 && st.lines == 5 && st.used == 5 && st.bad == 0);
    expect_example(t, s, 0, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]{ Hello </s>}"
                   "<s>[INST] Bye [/INST]{ Ciao </s>}", name);
    expect_example(t, s, 1, "<s>[INST] Hi [/INST]{ Hello </s>}", name);
    expect_example(t, s, 2, "<s>[INST] Translate.\n\ncat [/INST]{ chat </s>}", name);
    expect_example(t, s, 3, "<s>[INST] Say hi. [/INST]{ Hi! </s>}", name);
    expect_example(t, s, 4, "<s>[INST] 2+2= [/INST]{ 4 </s>}", name);
    expect_chat_render(t, HERD_CHAT_LLAMA2, s, 0, CONV, 5, name);
    expect_chat_render(t, HERD_CHAT_LLAMA2, s, 1, CONV + 1, 2, name);
    const herd_chat_msg alp[] = {{"user", "Translate.\n\ncat"}, {"assistant", "chat"}};
    expect_chat_render(t, HERD_CHAT_LLAMA2, s, 2, alp, 2, name);
    CHECK(s->line[0] == 1 && s->line[1] == 3 && s->line[4] == 7);
    int64_t trained = 0;
    for (int64_t i = 0; i < s->off[s->n]; i++)
        trained += s->trained[i];
    CHECK(st.tokens == s->off[s->n] && st.trained == trained && trained > 0);
    herd_sft_set_free(s);
}

static void check_llama3(const herd_tokenizer *t, const char *name)
{
    write_file(SHAPES);
    herd_sft_set *s = load_ok(t, HERD_CHAT_LLAMA3, 0, 0, 0, NULL);
    CHECK(s->n == 5);
#define H(role) "<|start_header_id|>" role "<|end_header_id|>\n\n"
    expect_example(t, s, 0, "<|begin_of_text|>" H("system") "Be brief.<|eot_id|>" H("user")
                   "Hi<|eot_id|>" H("assistant") "{Hello<|eot_id|>}" H("user") "Bye<|eot_id|>"
                   H("assistant") "{Ciao<|eot_id|>}", name);
    expect_example(t, s, 1, "<|begin_of_text|>" H("user") "Hi<|eot_id|>" H("assistant")
                   "{Hello<|eot_id|>}", name);
    expect_example(t, s, 2, "<|begin_of_text|>" H("user") "Translate.\n\ncat<|eot_id|>"
                   H("assistant") "{chat<|eot_id|>}", name);
    expect_example(t, s, 3, "<|begin_of_text|>" H("user") "Say hi.<|eot_id|>" H("assistant")
                   "{Hi!<|eot_id|>}", name);
    expect_example(t, s, 4, "<|begin_of_text|>" H("user") "2+2=<|eot_id|>" H("assistant")
                   "{4<|eot_id|>}", name);
#undef H
    expect_chat_render(t, HERD_CHAT_LLAMA3, s, 0, CONV, 5, name);
    expect_chat_render(t, HERD_CHAT_LLAMA3, s, 1, CONV + 1, 2, name);
    const herd_chat_msg cmp[] = {{"user", "2+2="}, {"assistant", " 4"}};
    expect_chat_render(t, HERD_CHAT_LLAMA3, s, 4, cmp, 2, name);
    /* The trained end token is the template's. */
    int eot = herd_chat_end_token(t, HERD_CHAT_LLAMA3);
    for (int64_t i = 0; i < s->n; i++) {
        int64_t last = s->off[i + 1] - 1;
        CHECK(s->ids[last] == eot && s->trained[last] && !s->trained[s->off[i]]);
    }
    herd_sft_set_free(s);
}

/* The plain template; sp is the space SentencePiece puts before a turn. */
static void check_plain(const herd_tokenizer *t, const char *name)
{
    char B[64], E[64], want[2048];
    snprintf(B, sizeof B, "%s", herd_token_piece(t, herd_tokenizer_bos(t)));
    snprintf(E, sizeof E, "%s", herd_token_piece(t, herd_tokenizer_eos(t)));
    const char *sp = herd_tokenizer_kind(t) == HERD_TOK_SPM ? " " : "";
    write_file(SHAPES);
    herd_sft_set *s = load_ok(t, HERD_CHAT_NONE, 0, 0, 0, NULL);
    CHECK(s->n == 5);
    snprintf(want, sizeof want, "%sSystem: Be brief.\nUser: Hi\nAssistant:{ Hello%s}%sUser: "
             "Bye\nAssistant:{ Ciao%s}", B, E, sp, E);
    expect_example(t, s, 0, want, name);
    snprintf(want, sizeof want, "%sUser: Hi\nAssistant:{ Hello%s}", B, E);
    expect_example(t, s, 1, want, name);
    const char *alpaca_in =
        "Below is an instruction that describes a task, paired with an input that provides "
        "further context. Write a response that appropriately completes the request.\n\n"
        "### Instruction:\nTranslate.\n\n### Input:\ncat\n\n### Response:\n";
    const char *alpaca = "Below is an instruction that describes a task. Write a response that "
                         "appropriately completes the request.\n\n### Instruction:\nSay hi.\n\n"
                         "### Response:\n";
    snprintf(want, sizeof want, "%s%s{chat%s}", B, alpaca_in, E);
    expect_example(t, s, 2, want, name);
    snprintf(want, sizeof want, "%s%s{Hi!%s}", B, alpaca, E);
    expect_example(t, s, 3, want, name);
    snprintf(want, sizeof want, "%s2+2={ 4%s}", B, E);
    expect_example(t, s, 4, want, name);
    char text[1024];
    snprintf(text, sizeof text, "%schat", alpaca_in);
    expect_text(t, s, 2, text, name);
    expect_text(t, s, 4, "2+2= 4", name);
    expect_text(t, s, 1, "User: Hi\nAssistant: Hello", name);
    herd_sft_set_free(s);
}

/* herd_sft_render on its own: roles it refuses, trailing turns left out. */
static void check_render_api(const herd_tokenizer *spm, const herd_tokenizer *bpe)
{
    herd_sft_tokens tk = {0};
    const herd_chat_msg tool[] = {{"user", "a"}, {"tool", "b"}, {"assistant", "c"}};
    const herd_chat_msg none[] = {{"system", "a"}, {"user", "b"}};
    const herd_chat_msg a_first[] = {{"assistant", "Hi"}, {"user", "x"}, {"assistant", "y"}};
    herd_sft_example ex = {.shape = HERD_SFT_CHAT, .msgs = tool, .n_msgs = 3};
    CHECK_FAILS(herd_sft_render(bpe, HERD_CHAT_LLAMA3, &ex, &tk), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "tool") != NULL);
    ex.msgs = none, ex.n_msgs = 2;
    CHECK_FAILS(herd_sft_render(bpe, HERD_CHAT_LLAMA3, &ex, &tk), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "assistant") != NULL);
    ex.msgs = a_first, ex.n_msgs = 3;
    CHECK_FAILS(herd_sft_render(spm, HERD_CHAT_LLAMA2, &ex, &tk), HERD_E_ARG);
    /* Llama 3 and the plain template take an answer first. */
    CHECK_OK(herd_sft_render(bpe, HERD_CHAT_LLAMA3, &ex, &tk));
    CHECK(!strcmp(describe(bpe, tk.ids, tk.trained, tk.n),
                  "<|begin_of_text|><|start_header_id|>assistant<|end_header_id|>\n\n{Hi<|eot_id|>}"
                  "<|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|><|start_header_id|>"
                  "assistant<|end_header_id|>\n\n{y<|eot_id|>}"));
    CHECK_OK(herd_sft_render(spm, HERD_CHAT_NONE, &ex, &tk));
    CHECK(!strcmp(describe(spm, tk.ids, tk.trained, tk.n),
                  "<s>Assistant:{ Hi</s>} User: x\nAssistant:{ y</s>}"));
    /* Llama 3's template on a tokenizer without its tokens. */
    CHECK_FAILS(herd_sft_render(spm, HERD_CHAT_LLAMA3, &ex, &tk), HERD_E_UNSUPPORTED);
    ex.shape = HERD_SFT_ALPACA;
    CHECK_FAILS(herd_sft_render(spm, HERD_CHAT_NONE, &ex, &tk), HERD_E_ARG);
    CHECK_FAILS(herd_sft_render(spm, (herd_chat_template)9, &ex, &tk), HERD_E_ARG);
    herd_sft_tokens_free(&tk);
}

/* "train": false on an assistant message: its turn is context, untrained;
 * the ids are still the whole conversation's rendering. */
static const char *const TRAIN_FLAG =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", "
    "\"content\": \"Hi\", \"train\": false}, {\"role\": \"assistant\", \"content\": \"Hello\", "
    "\"train\": false}, {\"role\": \"user\", \"content\": \"Bye\"}, {\"role\": \"assistant\", "
    "\"content\": \" Ciao\\n\", \"train\": true}]}\n"
    "{\"conversations\": [{\"from\": \"human\", \"value\": \"Hi\"}, {\"from\": \"gpt\", "
    "\"value\": \"Hello\"}, {\"from\": \"human\", \"value\": \"Bye\"}, {\"from\": \"gpt\", "
    "\"value\": \"Ciao\", \"train\": false}]}\n";

static void check_train_flag(const herd_tokenizer *spm, const herd_tokenizer *bpe)
{
    write_file(TRAIN_FLAG);
    herd_sft_set *s = load_ok(spm, HERD_CHAT_LLAMA2, 0, 0, 0, NULL);
    CHECK(s->n == 2);
    expect_example(spm, s, 0, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello </s>"
                   "<s>[INST] Bye [/INST]{ Ciao </s>}", "train false, llama2");
    expect_chat_render(spm, HERD_CHAT_LLAMA2, s, 0, CONV, 5, "train false, llama2");
    /* A last answer not trained: its turn is left out. */
    expect_example(spm, s, 1, "<s>[INST] Hi [/INST]{ Hello </s>}", "trailing train false");
    herd_sft_set_free(s);
    s = load_ok(bpe, HERD_CHAT_LLAMA3, 0, 0, 0, NULL);
#define H(role) "<|start_header_id|>" role "<|end_header_id|>\n\n"
    expect_example(bpe, s, 0, "<|begin_of_text|>" H("system") "Be brief.<|eot_id|>" H("user")
                   "Hi<|eot_id|>" H("assistant") "Hello<|eot_id|>" H("user") "Bye<|eot_id|>"
                   H("assistant") "{Ciao<|eot_id|>}", "train false, llama3");
#undef H
    expect_chat_render(bpe, HERD_CHAT_LLAMA3, s, 0, CONV, 5, "train false, llama3");
    herd_sft_set_free(s);
    s = load_ok(spm, HERD_CHAT_NONE, 0, 0, 0, NULL);
    expect_example(spm, s, 0, "<s>System: Be brief.\nUser: Hi\nAssistant: Hello</s> User: "
                   "Bye\nAssistant:{ Ciao</s>}", "train false, plain");
    herd_sft_set_free(s);
    /* Through herd_sft_render: the flags per message. */
    herd_sft_tokens tk = {0};
    const uint8_t flags[5] = {0, 0, 1, 0, 0}, none_left[5] = {0, 0, 1, 0, 1};
    herd_sft_example ex = {.shape = HERD_SFT_CHAT, .msgs = CONV, .n_msgs = 5, .untrained = flags};
    CHECK_OK(herd_sft_render(spm, HERD_CHAT_LLAMA2, &ex, &tk));
    CHECK(!strcmp(describe(spm, tk.ids, tk.trained, tk.n),
                  "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello </s>"
                  "<s>[INST] Bye [/INST]{ Ciao </s>}"));
    ex.untrained = none_left;
    CHECK_FAILS(herd_sft_render(spm, HERD_CHAT_LLAMA2, &ex, &tk), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "\"train\": false") != NULL);
    herd_sft_tokens_free(&tk);
    /* Bad flags name their line and message. */
    static const char *const bad[][2] = {
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", "
         "\"content\": \"b\", \"train\": false}]}\n", "nothing to train"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", "
         "\"content\": \"b\", \"train\": 0}]}\n", "messages[1] has a \"train\" that is not"},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\", \"train\": true}, {\"role\": "
         "\"assistant\", \"content\": \"b\"}]}\n", "messages[0] has \"train\": true on a user"},
    };
    herd_sft_opts o = {HERD_CHAT_LLAMA2, 0, 0, 0};
    char where[160];
    snprintf(where, sizeof where, "%s:1: ", path);
    for (int i = 0; i < 3; i++) {
        write_file(bad[i][0]);
        CHECK_FAILS(herd_sft_load(path, spm, &o, &s, NULL), HERD_E_FORMAT);
        CHECK_MSG(strstr(herd_last_error(), where) && strstr(herd_last_error(), bad[i][1]),
                  "%s", herd_last_error());
    }
}

/* ---- bad lines, long examples, empty files ---- */

static const char *const BAD =
    "{\"prompt\": \"a\", \"completion\": \"b\"}\n"                       /* 1 ok */
    "{\"prompt\": \"a\", \"completion\": \n"                             /* 2 not JSON */
    "{\"foo\": 1}\n"                                                     /* 3 no shape */
    "[1, 2]\n"                                                           /* 4 not an object */
    "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}\n"       /* 5 no answer */
    "{\"instruction\": 5, \"output\": \"x\"}\n"                          /* 6 not a string */
    "{\"messages\": [{\"role\": \"assistant\", \"content\": \"x\"}, {\"role\": \"user\", "
    "\"content\": \"y\"}, {\"role\": \"assistant\", \"content\": \"z\"}]}\n" /* 7 llama2 only */
    "{\"prompt\": \"a\", \"completion\": \"b\"} x\n"                     /* 8 trailing text */
    "{\"messages\": [{\"role\": \"user\", \"content\": 3}, {\"role\": \"assistant\", "
    "\"content\": \"z\"}]}\n"                                            /* 9 content */
    "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}\n"      /* 10 role */
    "{\"prompt\": \"c\"}\n"                                              /* 11 no completion */
    "{\"instruction\": \"i\", \"input\": null, \"output\": \"o\"}";      /* 12 ok */

static void check_bad(const herd_tokenizer *spm)
{
    write_file(BAD);
    herd_sft_opts o = {HERD_CHAT_LLAMA2, 0, 0, 0};
    herd_sft_set *s = NULL;
    herd_sft_stats st;
    CHECK_FAILS(herd_sft_load(path, spm, &o, &s, &st), HERD_E_FORMAT);
    char where[160];
    snprintf(where, sizeof where, "%s:2: ", path);
    CHECK_MSG(strstr(herd_last_error(), where) != NULL, "%s", herd_last_error());
    CHECK(s == NULL && st.lines == 2 && st.used == 1);
    s = load_ok(spm, HERD_CHAT_LLAMA2, 0, 0, 1, &st);
    CHECK_MSG(s->n == 2 && st.used == 2 && st.bad == 10 && st.lines == 12, "%lld used, %lld bad",
              (long long)st.used, (long long)st.bad);
    CHECK(s->line[0] == 1 && s->line[1] == 12);
    CHECK_MSG(strstr(st.first_bad, where) != NULL, "%s", st.first_bad);
    expect_example(spm, s, 1, "<s>[INST] i [/INST]{ o </s>}", "alpaca with input null");
    herd_sft_set_free(s);
    /* Line 7 is bad for Llama 2 only. */
    s = load_ok(spm, HERD_CHAT_NONE, 0, 0, 1, &st);
    CHECK(s->n == 3 && st.bad == 9 && s->line[1] == 7);
    herd_sft_set_free(s);
    /* Each message names its line and says what is wrong. */
    static const char *const why[] = {"not valid JSON", "not a known example shape",
                                      "not a JSON object", "no assistant", "not a string",
                                      "want 'user'", "text after", "\"content\"", "robot",
                                      "no \"completion\""};
    char text[4096];
    const char *lines[12], *p = BAD;
    for (int i = 0; i < 12; i++, p = strchr(p, '\n') + 1)
        lines[i] = p;
    for (int i = 0; i < 10; i++) {
        const char *end = strchr(lines[i + 1], '\n');
        snprintf(text, sizeof text, "{\"prompt\": \"a\", \"completion\": \"b\"}\n\n%.*s",
                 (int)(end - lines[i + 1] + 1), lines[i + 1]);
        write_file(text);
        CHECK_FAILS(herd_sft_load(path, spm, &o, &s, NULL), HERD_E_FORMAT);
        snprintf(where, sizeof where, "%s:3: ", path);
        CHECK_MSG(strstr(herd_last_error(), where) && strstr(herd_last_error(), why[i]),
                  "line %d: %s", i + 2, herd_last_error());
    }
}

static void check_empty(const herd_tokenizer *spm)
{
    herd_sft_opts o = {HERD_CHAT_LLAMA2, 0, 0, 1};
    herd_sft_set *s = NULL;
    const char *texts[] = {"", "\n \n\t\n", "{\"foo\": 1}\n"};
    for (int i = 0; i < 3; i++) {
        write_file(texts[i]);
        CHECK_FAILS(herd_sft_load(path, spm, &o, &s, NULL), HERD_E_FORMAT);
        CHECK(strstr(herd_last_error(), "no usable examples") != NULL && s == NULL);
    }
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none.jsonl", dir);
    CHECK_FAILS(herd_sft_load(missing, spm, &o, &s, NULL), HERD_E_IO);
    o.max_len = 1;
    CHECK_FAILS(herd_sft_load(path, spm, &o, &s, NULL), HERD_E_ARG);
    /* A byte order mark before the first line. */
    write_file("\xEF\xBB\xBF{\"prompt\": \"a\", \"completion\": \"b\"}\n");
    o.max_len = 0;
    CHECK_OK(herd_sft_load(path, spm, &o, &s, NULL));
    herd_sft_set_free(s);
}

/* Examples of many lengths, loaded unlimited and with max_len L: each
 * kept whole, cut to L (when a trained token is left) or dropped. */
static void check_long(const herd_tokenizer *spm)
{
    char text[16384];
    size_t k = 0;
    for (int i = 0; i < 30; i++) {
        int np = i % 7 * 3, nc = i % 5 * 4;
        k += (size_t)snprintf(text + k, sizeof text - k, "{\"prompt\": \"%.*s\", \"completion\": "
                              "\"%.*s\"}\n", np, "abcdefghijklmnopqrstuvwxyz", nc,
                              "zyxwvutsrqponmlkjihgfedcba");
    }
    write_file(text);
    herd_sft_set *all = load_ok(spm, HERD_CHAT_NONE, 0, 0, 0, NULL);
    const int L = 14;
    for (int truncate = 0; truncate < 2; truncate++) {
        herd_sft_stats st;
        herd_sft_set *s = load_ok(spm, HERD_CHAT_NONE, L, truncate, 0, &st);
        int64_t kept = 0, dropped = 0, cut = 0, j = 0;
        for (int64_t i = 0; i < all->n; i++) {
            int64_t n = all->off[i + 1] - all->off[i], m = n < L ? n : L, any = 0;
            for (int64_t q = 0; q < m; q++)
                any |= all->trained[all->off[i] + q];
            if (n > L && (!truncate || !any)) {
                dropped++;
                continue;
            }
            cut += n > L;
            kept++;
            int same = j < s->n && s->off[j + 1] - s->off[j] == m &&
                       !memcmp(s->ids + s->off[j], all->ids + all->off[i], (size_t)m * sizeof(int)) &&
                       !memcmp(s->trained + s->off[j], all->trained + all->off[i], (size_t)m);
            CHECK_MSG(same, "truncate %d: example %lld", truncate, (long long)i);
            j++;
        }
        CHECK(dropped > 0 && (!truncate || cut > 0));
        CHECK(s->n == kept && st.used == kept && st.too_long == dropped && st.truncated == cut);
        CHECK(st.lines == 30 && st.bad == 0);
        herd_sft_set_free(s);
    }
    herd_sft_set_free(all);
}

/* ---- packing ---- */

/* The example whose inputs are tok[0..n), -1 if none. */
static int64_t find_example(const herd_sft_set *s, const int *tok, int n)
{
    for (int64_t k = 0; k < s->n; k++)
        if (s->off[k + 1] - s->off[k] - 1 == n && !memcmp(s->ids + s->off[k], tok, (size_t)n * sizeof(int)))
            return k;
    return -1;
}

typedef struct {
    int64_t seq[4096];   /* examples in stream order */
    int n_seq;
    int row_first[2048]; /* seq index of each row's first example */
    int row_pad[2048];
    int n_rows;
} stream_log;

/* Splits one row at its doc_starts: every piece is a whole example with
 * its masked targets, or the padding at the end. */
static void read_row(const herd_sft_set *s, const int *tok, const int *tgt, const uint8_t *ds,
                     int T, stream_log *lg)
{
    CHECK(ds[0] == 1);
    lg->row_first[lg->n_rows] = lg->n_seq;
    lg->row_pad[lg->n_rows] = 0;
    for (int t = 0, e; t < T; t = e) {
        for (e = t + 1; e < T && !ds[e]; e++)
            ;
        int64_t k = find_example(s, tok + t, e - t);
        if (k < 0) {
            int pad = e == T;
            for (int j = t; j < e; j++)
                pad &= tok[j] == 0 && tgt[j] == -1;
            CHECK_MSG(pad, "row piece at %d..%d is neither an example nor padding", t, e);
            lg->row_pad[lg->n_rows] = e - t;
            continue;
        }
        const int *ids = s->ids + s->off[k];
        const uint8_t *tr = s->trained + s->off[k];
        for (int j = 0; j < e - t; j++)
            CHECK(tgt[t + j] == (tr[j + 1] ? ids[j + 1] : -1));
        if (lg->n_seq < 4096)
            lg->seq[lg->n_seq++] = k;
    }
    lg->n_rows++;
}

static void run_stream(herd_sft_loader *l, const herd_sft_set *s, int B, int T, int epochs,
                       stream_log *lg)
{
    memset(lg, 0, sizeof *lg);
    while (herd_sft_loader_state(l).epoch < (uint64_t)epochs && lg->n_rows + B < 2048) {
        herd_batch b;
        herd_sft_loader_batch(l, &b);
        CHECK(b.B == B && b.T == T);
        for (int r = 0; r < B; r++)
            read_row(s, b.tokens + r * T, b.targets + r * T, b.doc_start + r * T, T, lg);
    }
    /* Greedy: a row ends early only when the next example does not fit. */
    for (int r = 0; r + 1 < lg->n_rows; r++) {
        int64_t next = lg->seq[lg->row_first[r + 1]];
        if (lg->row_pad[r])
            CHECK(s->off[next + 1] - s->off[next] - 1 > lg->row_pad[r]);
    }
}

static void check_pack(const herd_tokenizer *spm)
{
    char text[16384];
    size_t k = 0;
    for (int i = 0; i < 40; i++)
        k += (size_t)snprintf(text + k, sizeof text - k, "{\"prompt\": \"p%d:\", \"completion\": "
                              "\"%.*s\"}\n", i, (i * 7) % 16, "qrstuvwxyzabcdefgh");
    write_file(text);
    const int B = 3, T = 32;
    herd_sft_set *s = load_ok(spm, HERD_CHAT_NONE, T + 1, 0, 0, NULL);
    CHECK(s->n == 40);
    static stream_log lg;
    herd_sft_loader *l = NULL;
    /* In file order. */
    CHECK_OK(herd_sft_loader_new(s, B, T, 7, 0, &l));
    run_stream(l, s, B, T, 3, &lg);
    CHECK(lg.n_seq >= 120);
    for (int i = 0; i < lg.n_seq; i++)
        CHECK(lg.seq[i] == i % 40);
    int last_row = 0;
    for (int r = 0; r < lg.n_rows; r++)
        if (lg.row_first[r] <= 39)
            last_row = r;
    CHECK((uint64_t)last_row + 1 == herd_sft_loader_epoch_rows(l));
    herd_sft_loader_free(l);
    /* Shuffled: each epoch a new permutation. */
    CHECK_OK(herd_sft_loader_new(s, B, T, 7, 1, &l));
    run_stream(l, s, B, T, 3, &lg);
    for (int e = 0; e < 3; e++) {
        int seen[40] = {0}, in_order = 1;
        for (int i = 0; i < 40; i++) {
            seen[lg.seq[e * 40 + i]]++;
            in_order &= lg.seq[e * 40 + i] == i;
        }
        for (int i = 0; i < 40; i++)
            CHECK_MSG(seen[i] == 1, "epoch %d: example %d %d times", e, i, seen[i]);
        CHECK(!in_order);
    }
    CHECK(memcmp(lg.seq, lg.seq + 40, 40 * sizeof *lg.seq) != 0);
    herd_sft_loader_free(l);
    herd_sft_set_free(s);
}

/* A loader set to a saved position gives the batches the first one gave. */
static void check_resume(const herd_tokenizer *spm)
{
    herd_sft_set *s = load_ok(spm, HERD_CHAT_NONE, 17, 0, 0, NULL); /* check_pack's file */
    const int B = 2, T = 16, N = 2 * T * 40;
    herd_sft_loader *a = NULL, *b = NULL;
    CHECK_OK(herd_sft_loader_new(s, B, T, 99, 1, &a));
    CHECK_OK(herd_sft_loader_new(s, B, T, 99, 1, &b));
    if (!a || !b)
        exit(1);
    static int tok[2][40 * 32], tgt[2][40 * 32];
    static uint8_t ds[2][40 * 32];
    herd_sft_pos at = {0, 0};
    for (int i = 0; i < 40; i++) {
        if (i == 23)
            at = herd_sft_loader_state(a);
        herd_sft_loader_next(a, tok[0] + i * B * T, tgt[0] + i * B * T, ds[0] + i * B * T);
    }
    CHECK(at.epoch >= 1 && herd_sft_loader_state(b).epoch == 0 &&
          herd_sft_loader_state(b).index == 0);
    CHECK_OK(herd_sft_loader_set_state(b, at));
    for (int i = 23; i < 40; i++)
        herd_sft_loader_next(b, tok[1] + i * B * T, tgt[1] + i * B * T, ds[1] + i * B * T);
    size_t from = (size_t)23 * B * T, n = (size_t)N - from;
    CHECK(!memcmp(tok[0] + from, tok[1] + from, n * sizeof(int)) &&
          !memcmp(tgt[0] + from, tgt[1] + from, n * sizeof(int)) &&
          !memcmp(ds[0] + from, ds[1] + from, n));
    herd_sft_pos bad = {0, (uint64_t)s->n};
    CHECK_FAILS(herd_sft_loader_set_state(b, bad), HERD_E_ARG);
    herd_sft_loader_free(a);
    herd_sft_loader_free(b);
    /* Rows too short for an example; bad shapes. */
    herd_sft_loader *l = NULL;
    CHECK_FAILS(herd_sft_loader_new(s, 1, 8, 1, 0, &l), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "max_len 9") != NULL && l == NULL);
    CHECK_FAILS(herd_sft_loader_new(s, 0, 16, 1, 0, &l), HERD_E_ARG);
    CHECK_FAILS(herd_sft_loader_new(NULL, 1, 16, 1, 0, &l), HERD_E_ARG);
    herd_sft_set_free(s);
}

/* ---- the real tokenizers ---- */

static herd_tokenizer *open_shared(const char *rel)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/tokenizers/%s", test_shared(), rel);
    if (access(p, R_OK) != 0) {
        printf("note: %s not found, its checks skipped\n", p);
        return NULL;
    }
    herd_tokenizer *t = NULL;
    CHECK_OK(herd_tokenizer_open(p, &t));
    return t;
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/herd_sft_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/data.jsonl", dir);
    herd_tokenizer *spm = toy_spm(), *bpe = toy_bpe();
    if (!spm || !bpe)
        return 1;
    check_llama2(spm, "toy spm");
    check_llama3(bpe, "toy bpe");
    check_plain(spm, "plain, toy spm");
    check_plain(bpe, "plain, toy bpe");
    check_render_api(spm, bpe);
    check_train_flag(spm, bpe);
    check_bad(spm);
    check_empty(spm);
    check_long(spm);
    check_pack(spm);
    check_resume(spm);
    herd_tokenizer *l2 = open_shared("llama2/tokenizer.model");
    herd_tokenizer *l3 = open_shared("llama3/tokenizer.json");
    if (l2) {
        check_llama2(l2, "llama2 tokenizer.model");
        check_plain(l2, "plain, llama2 tokenizer.model");
    }
    if (l3) {
        check_llama3(l3, "llama3 tokenizer.json");
        check_plain(l3, "plain, llama3 tokenizer.json");
    }
    herd_tokenizer_free(l2);
    herd_tokenizer_free(l3);
    herd_tokenizer_free(spm);
    herd_tokenizer_free(bpe);
    unlink(path);
    rmdir(dir);
    TEST_END();
}

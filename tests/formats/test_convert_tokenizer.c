/* Tokenizers through herd convert, checked against the reference
 * tokenizers' own ids (tests/fixtures/spm_llama2.txt from
 * python3-sentencepiece, bpe_llama3*.txt from Hugging Face tokenizers):
 *  - Llama 3 (Meta's tokenizer.model) into GGUF "gpt2" metadata, into a
 *    Hugging Face folder's tokenizer.json, and from there into GGUF again;
 *  - Llama 2 (SentencePiece tokenizer.model) into GGUF "llama" metadata and
 *    into a folder's tokenizer.model (pieces, scores and types unchanged);
 * each read back by herd_model_open, with BOS/EOS and the chat template.
 * The model around them is a one-layer random one. */
#include "herd.h"
#include "formats/convert.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/test_bpe_fixture.h"
#include "base/file.h"
#include "test.h"

static char tmp[64];
static const char *const template3 =
    "{% for message in messages %}<|start_header_id|>{{ message['role'] }}"
    "<|end_header_id|>\n\n{{ message['content'] }}<|eot_id|>{% endfor %}";

/* A one-layer model of vocabulary n around tokenizer t (taken over). */
static herd_model *tiny_model(herd_tokenizer *t, const char *chat)
{
    herd_model *m = calloc(1, sizeof *m);
    herd_config_defaults(&m->cfg);
    m->cfg.dim = 8, m->cfg.hidden_dim = 16, m->cfg.n_layers = 1, m->cfg.n_heads = 2;
    m->cfg.n_kv_heads = 1, m->cfg.vocab_size = herd_tokenizer_n_vocab(t);
    m->cfg.seq_len = 32, m->cfg.tied_embeddings = 1;
    CHECK_OK(herd_model_alloc_layers(m));
    herd_tensor *all[11] = {&m->w.tok_embeddings, &m->w.output_norm};
    herd_layer_weights *L = &m->w.layers[0];
    herd_tensor *layer[9] = {&L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo,
                             &L->ffn_norm, &L->w1, &L->w2, &L->w3};
    int64_t shapes[11][2] = {{m->cfg.vocab_size, 8}, {1, 8}, {1, 8}, {8, 8}, {4, 8}, {4, 8},
                             {8, 8}, {1, 8}, {16, 8}, {8, 16}, {16, 8}};
    for (int i = 0; i < 9; i++)
        all[2 + i] = layer[i];
    for (int i = 0; i < 11; i++) {
        size_t n = (size_t)(shapes[i][0] * shapes[i][1]);
        float *d = herd_owned_alloc(&m->owned, n * sizeof *d);
        for (size_t k = 0; k < n; k++)
            d[k] = (float)((k * 7919 + (size_t)i) % 97) / 97.0f - 0.5f;
        *all[i] = (herd_tensor){.data = d, .type = HERD_TYPE_F32, .rows = shapes[i][0],
                                .cols = shapes[i][1]};
    }
    m->tok = t;
    m->chat_template = chat ? strdup(chat) : NULL;
    return m;
}

static herd_model *save_and_open(const herd_model *m, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    herd_convert_opts o = {.type = HERD_TYPE_F16};
    CHECK_OK(herd_convert_save(m, path, &o));
    herd_model *r = NULL;
    herd_status s = herd_model_open(path, &r);
    CHECK_MSG(s == HERD_OK, "%s: %s", path, herd_last_error());
    return r;
}

/* ---- Llama 3 ---- */

static void bpe_cases(const herd_tokenizer *t, const char *file, int special, const char *what)
{
    char path[1024];
    bpe_case *c;
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", test_source(), file);
    int n = bpe_load_cases(path, &c), bad = 0;
    CHECK_MSG(n > 20, "%s: %d cases", path, n);
    for (int i = 0; i < n; i++) {
        int cap = (int)c[i].len + 8, k = -1, *ids = malloc((size_t)cap * sizeof *ids);
        herd_status s = herd_tokenize_ex(t, c[i].text, c[i].len,
                                         special ? HERD_TOKENIZE_SPECIAL : 0, ids, cap, &k);
        bad += s != HERD_OK || k != c[i].n || memcmp(ids, c[i].ids, (size_t)k * sizeof *ids);
        free(ids);
    }
    CHECK_MSG(bad == 0, "%s: %d of %d cases of %s differ from Hugging Face's ids", what, bad,
              n, file);
    bpe_free_cases(c, n);
}

static void check_llama3(herd_model *m, const char *what)
{
    if (!m)
        return;
    herd_tokenizer *t = herd_model_tokenizer(m);
    CHECK_MSG(t && herd_tokenizer_kind(t) == HERD_TOK_BYTE_BPE, "%s: no byte BPE", what);
    if (!t)
        return;
    CHECK(herd_tokenizer_n_vocab(t) == 128256);
    CHECK_MSG(herd_tokenizer_bos(t) == 128000 && herd_tokenizer_eos(t) == 128001,
              "%s: bos %d eos %d", what, herd_tokenizer_bos(t), herd_tokenizer_eos(t));
    CHECK(herd_token_id(t, "<|eot_id|>") == 128009);
    bpe_cases(t, "bpe_llama3.txt", 0, what);
    bpe_cases(t, "bpe_llama3_special.txt", 1, what);
    const char *ct = herd_model_chat_template(m);
    CHECK_MSG(ct && !strcmp(ct, template3), "%s: chat template lost", what);
}

static void llama3(const char *model)
{
    herd_tokenizer *t;
    CHECK_OK(herd_tokenizer_open(model, &t));
    herd_model *m = tiny_model(t, template3);
    herd_model *g = save_and_open(m, "l3.gguf");
    check_llama3(g, "Llama 3 -> GGUF");
    herd_model *h = save_and_open(m, "l3-hf");
    check_llama3(h, "Llama 3 -> HF");
    herd_model *g2 = h ? save_and_open(h, "l3-again.gguf") : NULL;
    check_llama3(g2, "Llama 3 -> HF -> GGUF");
    herd_model_free(g2);
    herd_model_free(h);
    herd_model_free(g);
    herd_model_free(m);
}

/* ---- Llama 2 ---- */

static char *unhex(const char *s, size_t *n)
{
    size_t len = strlen(s) / 2;
    char *o = malloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        o[i] = (char)v;
    }
    *n = len;
    return o;
}

/* spm_llama2.txt: "text HEX" then "ids ..." lines; counts mismatches. */
static void spm_cases(const herd_tokenizer *t, const char *what)
{
    char path[1024], line[1 << 16];
    snprintf(path, sizeof path, "%s/tests/fixtures/spm_llama2.txt", test_source());
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "%s missing", path);
    char *text = NULL;
    size_t len = 0;
    int cases = 0, bad = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!strncmp(line, "text ", 5) || !strcmp(line, "text")) {
            free(text);
            text = unhex(line + (line[4] ? 5 : 4), &len);
        } else if (text && (!strncmp(line, "ids", 3))) {
            int want[4096], n_want = 0, got[4096], n = -1;
            for (char *p = line + 3, *e; n_want < 4096; p = e) {
                long v = strtol(p, &e, 10);
                if (e == p)
                    break;
                want[n_want++] = (int)v;
            }
            herd_status s = herd_tokenize(t, text, len, 0, 0, got, 4096, &n);
            bad += s != HERD_OK || n != n_want || memcmp(got, want, (size_t)n * sizeof *got);
            cases++;
        }
    }
    free(text);
    if (f)
        fclose(f);
    CHECK_MSG(cases > 300 && bad == 0, "%s: %d of %d cases differ from sentencepiece", what,
              bad, cases);
}

static void same_vocab(const herd_tokenizer *a, const herd_tokenizer *b, const char *what)
{
    int n = herd_tokenizer_n_vocab(a), bad = 0;
    CHECK(herd_tokenizer_n_vocab(b) == n);
    for (int i = 0; i < n && herd_tokenizer_n_vocab(b) == n; i++)
        bad += strcmp(herd_token_piece(a, i), herd_token_piece(b, i)) != 0 ||
               herd_token_score(a, i) != herd_token_score(b, i) ||
               herd_token_type(a, i) != herd_token_type(b, i);
    CHECK_MSG(bad == 0, "%s: %d pieces differ", what, bad);
    CHECK(herd_tokenizer_bos(a) == herd_tokenizer_bos(b));
    CHECK(herd_tokenizer_eos(a) == herd_tokenizer_eos(b));
    CHECK(herd_tokenizer_unk(a) == herd_tokenizer_unk(b));
    CHECK(herd_tokenizer_add_dummy_prefix(a) == herd_tokenizer_add_dummy_prefix(b));
}

static void llama2(const char *model)
{
    herd_tokenizer *t;
    CHECK_OK(herd_tokenizer_open(model, &t));
    herd_model *m = tiny_model(t, NULL);
    const char *names[2] = {"l2.gguf", "l2-hf"};
    for (int i = 0; i < 2; i++) {
        herd_model *r = save_and_open(m, names[i]);
        herd_tokenizer *rt = r ? herd_model_tokenizer(r) : NULL;
        CHECK_MSG(rt && herd_tokenizer_kind(rt) == HERD_TOK_SPM, "%s: no tokenizer", names[i]);
        if (rt) {
            same_vocab(t, rt, names[i]);
            spm_cases(rt, names[i]);
        }
        CHECK(r && herd_model_chat_template(r) == NULL);
        herd_model_free(r);
    }
    herd_model_free(m);
}

int main(void)
{
    char l3[1024], l2[1024];
    snprintf(l3, sizeof l3, "%s/tokenizers/llama3/tokenizer.model", test_shared());
    snprintf(l2, sizeof l2, "%s/tokenizers/llama2/tokenizer.model", test_shared());
    if (!herd_file_exists(l3) || !herd_file_exists(l2))
        TEST_SKIP("%s or %s is missing", l3, l2);
    snprintf(tmp, sizeof tmp, "/tmp/herd-test-convtok-XXXXXX");
    if (!mkdtemp(tmp))
        TEST_SKIP("no temporary folder");
    llama3(l3);
    llama2(l2);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    TEST_END();
}

/* Llama 3's tokenizer as GGUF "gpt2" metadata, the way llama.cpp's converter
 * stores it: tokenizer.ggml.tokens (GPT-2 spelling, special tokens as their
 * text), token_type (1 normal, 3 control), merges ("a b"), pre "llama-bpe".
 * The metadata is built here from tokenizer.json's own vocabulary and
 * merges (read with cJSON, not by herd), then the tokenizer herd reads from
 * it must give Hugging Face's ids for every golden case. */
#include "herd.h"
#include "formats/gguf.h"
#include "formats/gguf_buf.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "test.h"
#include "test_bpe_fixture.h"
#include <cjson/cJSON.h>

#define N_VOCAB 128256

typedef struct {
    const char *tokens[N_VOCAB];
    int types[N_VOCAB];
    cJSON *root;
} hf_vocab;

static int read_json(const char *path, hf_vocab *v)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = malloc((size_t)n + 1);
    size_t got = fread(d, 1, (size_t)n, f);
    fclose(f);
    v->root = cJSON_ParseWithLength(d, got);
    free(d);
    if (!v->root)
        return -1;
    const cJSON *e, *model = cJSON_GetObjectItem(v->root, "model");
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(model, "vocab")) {
        int id = e->valueint;
        if (id >= 0 && id < N_VOCAB)
            v->tokens[id] = e->string, v->types[id] = 1;
    }
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(v->root, "added_tokens")) {
        int id = cJSON_GetObjectItem(e, "id")->valueint;
        if (id >= 0 && id < N_VOCAB)
            v->tokens[id] = cJSON_GetObjectItem(e, "content")->valuestring, v->types[id] = 3;
    }
    for (int i = 0; i < N_VOCAB; i++)
        if (!v->tokens[i])
            return -1;
    return 0;
}

typedef struct {
    const char *pre;       /* NULL: no tokenizer.ggml.pre */
    int drop_merges;       /* leave tokenizer.ggml.merges out */
    int bad_merge;         /* a merge of two strings that are no tokens */
} gguf_opts;

/* The metadata, in a GGUF file without tensors. */
static void build(const hf_vocab *v, gguf_opts o, herd_gbuf *out)
{
    herd_gbuf kv = {0};
    herd_gbuf_kv_str(&kv, "tokenizer.ggml.model", "gpt2");
    if (o.pre)
        herd_gbuf_kv_str(&kv, "tokenizer.ggml.pre", o.pre);
    herd_gbuf_kv_array(&kv, "tokenizer.ggml.tokens", HERD_GGUF_STRING, N_VOCAB);
    for (int i = 0; i < N_VOCAB; i++)
        herd_gbuf_str(&kv, v->tokens[i], strlen(v->tokens[i]));
    herd_gbuf_kv_array(&kv, "tokenizer.ggml.token_type", HERD_GGUF_INT32, N_VOCAB);
    for (int i = 0; i < N_VOCAB; i++)
        herd_gbuf_u32(&kv, (uint32_t)v->types[i]);
    const cJSON *merges = cJSON_GetObjectItem(cJSON_GetObjectItem(v->root, "model"), "merges");
    if (!o.drop_merges) {
        int n = cJSON_GetArraySize(merges);
        herd_gbuf_kv_array(&kv, "tokenizer.ggml.merges", HERD_GGUF_STRING,
                           (uint64_t)n + (o.bad_merge != 0));
        const cJSON *m;
        char buf[1024];
        cJSON_ArrayForEach(m, merges) {
            if (cJSON_IsString(m))
                snprintf(buf, sizeof buf, "%s", m->valuestring);
            else
                snprintf(buf, sizeof buf, "%s %s", cJSON_GetArrayItem(m, 0)->valuestring,
                         cJSON_GetArrayItem(m, 1)->valuestring);
            herd_gbuf_str(&kv, buf, strlen(buf));
        }
        if (o.bad_merge)
            herd_gbuf_str(&kv, "\xe2\x82\xac\xe2\x82\xac x", 8); /* €€ is no token spelling */
    }
    herd_gbuf_kv_u32(&kv, "tokenizer.ggml.bos_token_id", 128000);
    herd_gbuf_kv_u32(&kv, "tokenizer.ggml.eos_token_id", 128009);
    herd_gbuf_put(out, "GGUF", 4);
    herd_gbuf_u32(out, 3);
    herd_gbuf_u64(out, 0);
    herd_gbuf_u64(out, kv.n_kv);
    herd_gbuf_put(out, kv.p, kv.n);
    herd_gbuf_free(&kv);
}

static herd_status load(const hf_vocab *v, gguf_opts o, herd_model *m)
{
    herd_gbuf b = {0};
    build(v, o, &b);
    herd_gguf g;
    memset(m, 0, sizeof *m);
    herd_status s = herd_gguf_parse("t.gguf", b.p, b.n, &g);
    if (s == HERD_OK)
        s = herd_gguf_load_tokenizer(&g, m);
    herd_gguf_free(&g);
    herd_gbuf_free(&b);
    return s;
}

static void check_file(const herd_tokenizer *t, const char *name, int special)
{
    char path[4096];
    bpe_case *c;
    snprintf(path, sizeof path, "%s/tests/fixtures/%s", test_source(), name);
    int n = bpe_load_cases(path, &c), bad = 0;
    CHECK_MSG(n > 20, "%s: %d cases", path, n);
    for (int i = 0; i < n; i++) {
        int cap = (int)c[i].len + 8, got = -1, *ids = malloc((size_t)cap * sizeof *ids);
        CHECK_OK(herd_tokenize_ex(t, c[i].text, c[i].len, special ? HERD_TOKENIZE_SPECIAL : 0,
                                  ids, cap, &got));
        int ok = got == c[i].n && memcmp(ids, c[i].ids, (size_t)got * sizeof *ids) == 0;
        if (!ok && bad++ < 5) {
            fprintf(stderr, "%s: case %d (%.40s) differs\n", name, i, c[i].text);
            bpe_print_ids("herd", ids, got);
            bpe_print_ids("hf", c[i].ids, c[i].n);
        }
        if (special && c[i].plain) {
            CHECK_OK(herd_tokenize_ex(t, c[i].text, c[i].len, 0, ids, cap, &got));
            ok = got == c[i].n_plain && memcmp(ids, c[i].plain, (size_t)got * sizeof *ids) == 0;
            bad += !ok;
        }
        free(ids);
    }
    CHECK_MSG(bad == 0, "%s: %d cases differ from Hugging Face's", name, bad);
    bpe_free_cases(c, n);
}

int main(void)
{
    char json[4096];
    snprintf(json, sizeof json, "%s/tokenizers/llama3/tokenizer.json", test_shared());
    static hf_vocab v;
    if (read_json(json, &v) != 0)
        TEST_SKIP("%s is absent or unreadable (set HERD_SHARED)", json);
    herd_model m;
    CHECK_OK(load(&v, (gguf_opts){"llama-bpe", 0, 0}, &m));
    if (m.tok) {
        CHECK(herd_tokenizer_kind(m.tok) == HERD_TOK_BYTE_BPE);
        CHECK(herd_tokenizer_n_vocab(m.tok) == N_VOCAB);
        CHECK(herd_tokenizer_bos(m.tok) == 128000 && herd_tokenizer_eos(m.tok) == 128009);
        CHECK(herd_token_id(m.tok, "<|eot_id|>") == 128009);
        CHECK(herd_token_type(m.tok, 128009) == HERD_PIECE_CONTROL);
        check_file(m.tok, "bpe_llama3.txt", 0);
        check_file(m.tok, "bpe_llama3_special.txt", 1);
        herd_tokenizer_free(m.tok);
    }
    CHECK_OK(load(&v, (gguf_opts){NULL, 0, 0}, &m)); /* no pre: taken as Llama 3's */
    herd_tokenizer_free(m.tok);
    CHECK_FAILS(load(&v, (gguf_opts){"default", 0, 0}, &m), HERD_E_UNSUPPORTED);
    CHECK(m.tok == NULL && strstr(herd_last_error(), "default"));
    CHECK_FAILS(load(&v, (gguf_opts){"llama-bpe", 1, 0}, &m), HERD_E_FORMAT);
    CHECK(m.tok == NULL && strstr(herd_last_error(), "tokenizer.ggml.merges"));
    CHECK_FAILS(load(&v, (gguf_opts){"llama-bpe", 0, 1}, &m), HERD_E_FORMAT);
    CHECK(m.tok == NULL && strstr(herd_last_error(), "merge 280147"));
    cJSON_Delete(v.root);
    TEST_END();
}

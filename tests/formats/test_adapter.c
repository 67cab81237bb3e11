/* LoRA adapter files (formats/adapter.h): a random adapter on a tiny config
 * survives PEFT and GGUF round trips (F32 exactly, F16 as the rounded
 * values; q/k lora_B permutation undone), partial adapters keep their
 * holes, adapter_config.json has PEFT's fields, the PEFT tensors have
 * PEFT's names and shapes with q/k lora_B rows in Hugging Face's order
 * (checked by hand here and, against llama.cpp's own permutation, by
 * tests/formats/adapter_ref.py with its own parsers), and bad input gives
 * clear errors.
 *
 * Also a helper for tests/formats/test_adapter_llamacpp.sh:
 *   test_adapter llamacpp BASE.gguf OUTDIR TOKEN...
 * writes OUTDIR/adapter.gguf (random, B != 0), OUTDIR/adapter-f16.gguf,
 * OUTDIR/peft (the same adapter as a PEFT folder), OUTDIR/merged.gguf: the
 * base with W + alpha/r B A in every matrix, and herd's logits after the
 * tokens: OUTDIR/herd-merged.txt of the merged model, herd-lora.txt and
 * herd-peft.txt of the base with the GGUF / PEFT adapter attached
 * (herd_model_add_lora). */
#include "test.h"
#include "herd_train.h"
#include "formats/adapter.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"
#include "base/error.h"
#include "base/file.h"
#include "base/half.h"
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static herd_config tiny(void)
{
    herd_config c = {0};
    c.dim = 32;
    c.hidden_dim = 48;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.vocab_size = 64;
    c.seq_len = 16;
    return c;
}

static uint64_t rng = 88172645463325252ull;
static float frand(void) /* uniform in [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) / (double)(1 << 23) - 1.0);
}

static herd_adapter *random_adapter(const herd_config *c, int r, float alpha, unsigned targets)
{
    herd_adapter *a = NULL;
    CHECK_OK(herd_adapter_new(c, r, alpha, targets, &a));
    if (!a)
        exit(1);
    for (int k = 0; k < a->n_layers * HERD_LORA_MATS; k++) {
        herd_lora_w *w = &a->w[k];
        for (int j = 0; w->a && j < r * w->in; j++)
            w->a[j] = frand();
        for (int j = 0; w->b && j < w->out * r; j++)
            w->b[j] = frand() * 0.5f;
    }
    return a;
}

static float f16r(float x) { return herd_f16_to_f32(herd_f32_to_f16(x)); }

/* b equals a (values through f16 rounding when f16). */
static int same(const herd_adapter *a, const herd_adapter *b, int f16)
{
    if (a->n_layers != b->n_layers || a->r != b->r || a->alpha != b->alpha ||
        a->targets != b->targets)
        return 0;
    for (int k = 0; k < a->n_layers * HERD_LORA_MATS; k++) {
        const herd_lora_w *x = &a->w[k], *y = &b->w[k];
        if (!x->a != !y->a || !x->b != !y->b || x->in != y->in || x->out != y->out)
            return 0;
        for (int j = 0; x->a && j < a->r * x->in; j++)
            if ((f16 ? f16r(x->a[j]) : x->a[j]) != y->a[j])
                return 0;
        for (int j = 0; x->b && j < x->out * a->r; j++)
            if ((f16 ? f16r(x->b[j]) : x->b[j]) != y->b[j])
                return 0;
    }
    return 1;
}

static char dir[64];

static const char *at(const char *name)
{
    static char p[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static void test_peft_roundtrip(const herd_config *c)
{
    herd_adapter *a = random_adapter(c, 4, 8.0f, HERD_LORA_ALL), *b = NULL;
    CHECK_OK(herd_adapter_save_peft(a, c, at("peft"), "meta-llama/Tiny"));
    CHECK_OK(herd_adapter_load_peft(at("peft"), c, &b));
    CHECK(b && same(a, b, 0));
    herd_adapter_free(b);
    CHECK_OK(herd_adapter_load(at("peft"), c, &b)); /* a folder: PEFT */
    CHECK(b && same(a, b, 0));
    herd_adapter_free(b);

    herd_adapter_save_opts o = {HERD_TYPE_F16, 0.05f};
    CHECK_OK(herd_adapter_save_peft_opts(a, c, at("peft16"), NULL, &o));
    CHECK_OK(herd_adapter_load_peft(at("peft16"), c, &b));
    CHECK(b && same(a, b, 1));
    herd_adapter_free(b);
    herd_adapter_free(a);
}

/* Meta row of HF row d within heads of hd rows, worked out by hand: HF
 * keeps the first halves of the rotary pairs in rows 0..hd/2-1 of a head. */
static int meta_row(int d, int hd)
{
    int h = d / hd, j = d % hd;
    return h * hd + (j < hd / 2 ? 2 * j : 2 * (j - hd / 2) + 1);
}

static void test_peft_layout(const herd_config *c)
{
    herd_adapter *a = random_adapter(c, 4, 8.0f, HERD_LORA_ALL);
    CHECK_OK(herd_adapter_save_peft(a, c, at("layout"), NULL));
    herd_st_file f;
    CHECK_OK(herd_st_open(at("layout/adapter_model.safetensors"), &f));
    CHECK(f.n_entries == 2 * 7 * c->n_layers);
    const char *mods[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                           "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                           "mlp.down_proj"};
    int outs[7] = {32, 16, 16, 32, 48, 48, 32}, ins[7] = {32, 32, 32, 32, 32, 32, 48};
    char name[128];
    for (int l = 0; l < c->n_layers; l++)
        for (int i = 0; i < 7; i++) {
            const herd_lora_w *w = &a->w[l * 7 + i];
            snprintf(name, sizeof name, "base_model.model.model.layers.%d.%s.lora_A.weight", l,
                     mods[i]);
            const herd_st_entry *ea = herd_st_find(&f, name);
            snprintf(name, sizeof name, "base_model.model.model.layers.%d.%s.lora_B.weight", l,
                     mods[i]);
            const herd_st_entry *eb = herd_st_find(&f, name);
            CHECK_MSG(ea && eb, "%s", name);
            if (!ea || !eb)
                continue;
            CHECK(!strcmp(ea->dtype, "F32") && ea->n_dims == 2 && ea->shape[0] == 4 &&
                  ea->shape[1] == ins[i]);
            CHECK(!strcmp(eb->dtype, "F32") && eb->n_dims == 2 && eb->shape[0] == outs[i] &&
                  eb->shape[1] == 4);
            CHECK(memcmp(ea->data, w->a, ea->size) == 0);
            int ok = 1;
            for (int d = 0; d < outs[i]; d++) {
                int src = i <= 1 ? meta_row(d, 8) : d;
                ok &= memcmp(eb->data + (size_t)d * 16, w->b + src * 4, 16) == 0;
            }
            CHECK_MSG(ok, "layer %d %s: lora_B rows", l, mods[i]);
        }
    CHECK(f.metadata && cJSON_IsString(cJSON_GetObjectItem(f.metadata, "format")));
    herd_st_close(&f);
    herd_adapter_free(a);
}

static void test_peft_json(const herd_config *c)
{
    herd_adapter *a = random_adapter(c, 4, 16.0f, HERD_LORA_Q | HERD_LORA_V | HERD_LORA_DOWN);
    herd_adapter_save_opts o = {HERD_TYPE_F32, 0.05f};
    CHECK_OK(herd_adapter_save_peft_opts(a, c, at("json"), "meta-llama/Llama-2-7b-hf", &o));
    char *text;
    size_t n;
    CHECK_OK(herd_read_file(at("json/adapter_config.json"), &text, &n));
    cJSON *j = cJSON_Parse(text);
    CHECK(cJSON_IsObject(j));
    const char *strs[4][2] = {{"peft_type", "LORA"}, {"task_type", "CAUSAL_LM"},
                              {"bias", "none"},
                              {"base_model_name_or_path", "meta-llama/Llama-2-7b-hf"}};
    for (int k = 0; k < 4; k++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(j, strs[k][0]);
        CHECK_MSG(cJSON_IsString(v) && !strcmp(v->valuestring, strs[k][1]), "%s", strs[k][0]);
    }
    CHECK(cJSON_GetObjectItem(j, "r")->valuedouble == 4);
    CHECK(cJSON_GetObjectItem(j, "lora_alpha")->valuedouble == 16);
    CHECK(cJSON_GetObjectItem(j, "lora_dropout")->valuedouble == 0.05);
    CHECK(strstr(text, "\"lora_dropout\":\t0.05,") != NULL); /* not 0.0500000007 */
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(j, "fan_in_fan_out")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "inference_mode")));
    cJSON *t = cJSON_GetObjectItem(j, "target_modules");
    CHECK(cJSON_GetArraySize(t) == 3);
    const char *want[3] = {"q_proj", "v_proj", "down_proj"};
    for (int k = 0; k < 3 && cJSON_GetArraySize(t) == 3; k++)
        CHECK(!strcmp(cJSON_GetArrayItem(t, k)->valuestring, want[k]));
    cJSON_Delete(j);
    free(text);

    CHECK_OK(herd_adapter_save_peft(a, c, at("json2"), NULL));
    CHECK_OK(herd_read_file(at("json2/adapter_config.json"), &text, &n));
    j = cJSON_Parse(text);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "base_model_name_or_path")));
    cJSON_Delete(j);
    free(text);
    /* the targets come back from the tensors present */
    herd_adapter *b = NULL;
    CHECK_OK(herd_adapter_load_peft(at("json"), c, &b));
    CHECK(b && b->targets == (HERD_LORA_Q | HERD_LORA_V | HERD_LORA_DOWN) && same(a, b, 0));
    herd_adapter_free(b);
    herd_adapter_free(a);
}

static void test_gguf_roundtrip(const herd_config *c)
{
    herd_adapter *a = random_adapter(c, 3, 6.0f, HERD_LORA_ALL), *b = NULL;
    CHECK_OK(herd_adapter_save_gguf(a, at("a.gguf")));
    CHECK_OK(herd_adapter_load_gguf(at("a.gguf"), &b));
    CHECK(b && same(a, b, 0));
    herd_adapter_free(b);
    CHECK_OK(herd_adapter_load(at("a.gguf"), c, &b)); /* a file: GGUF */
    CHECK(b && same(a, b, 0));
    herd_adapter_free(b);
    herd_adapter_save_opts o = {HERD_TYPE_F16, 0};
    CHECK_OK(herd_adapter_save_gguf_opts(a, at("a16.gguf"), &o));
    CHECK_OK(herd_adapter_load_gguf(at("a16.gguf"), &b));
    CHECK(b && same(a, b, 1));
    herd_adapter_free(b);

    /* the file as llama.cpp reads it: metadata and ne of one pair */
    herd_map m;
    herd_gguf g;
    CHECK_OK(herd_map_file(at("a.gguf"), &m));
    CHECK_OK(herd_gguf_parse("a.gguf", m.data, m.size, &g));
    herd_gguf_str s;
    CHECK(herd_gguf_get_str(&g, "general.type", &s) == 0 && herd_gguf_str_eq(s, "adapter"));
    CHECK(herd_gguf_get_str(&g, "adapter.type", &s) == 0 && herd_gguf_str_eq(s, "lora"));
    CHECK(herd_gguf_get_str(&g, "general.architecture", &s) == 0 &&
          herd_gguf_str_eq(s, "llama"));
    const herd_gguf_kv *kv = herd_gguf_find(&g, "adapter.lora.alpha");
    CHECK(kv && kv->type == HERD_GGUF_FLOAT32);
    const herd_gguf_tensor *ta = herd_gguf_find_tensor(&g, "blk.1.ffn_down.weight.lora_a");
    const herd_gguf_tensor *tb = herd_gguf_find_tensor(&g, "blk.1.ffn_down.weight.lora_b");
    CHECK(ta && ta->n_dims == 2 && ta->ne[0] == 48 && ta->ne[1] == 3 && ta->type == 0);
    CHECK(tb && tb->n_dims == 2 && tb->ne[0] == 3 && tb->ne[1] == 32 && tb->type == 0);
    /* q stays in Meta's order: GGUF's B is the adapter's B as is */
    const herd_gguf_tensor *tq = herd_gguf_find_tensor(&g, "blk.0.attn_q.weight.lora_b");
    CHECK(tq && memcmp(tq->data, a->w[0].b, 32 * 3 * 4) == 0);
    herd_gguf_free(&g);
    herd_unmap(&m);
    herd_adapter_free(a);
}

/* Holes: a matrix missing in one layer, a last layer without adapters. */
static void test_partial(const herd_config *c)
{
    herd_adapter *a = random_adapter(c, 2, 4.0f, HERD_LORA_Q | HERD_LORA_UP), *b = NULL;
    a->w[0 * 7 + 5].a = a->w[0 * 7 + 5].b = NULL; /* layer 0 has no ffn_up */
    a->w[1 * 7 + 0].a = a->w[1 * 7 + 0].b = NULL; /* layer 1 no attn_q */
    CHECK_OK(herd_adapter_save_peft(a, c, at("partial"), NULL));
    CHECK_OK(herd_adapter_load_peft(at("partial"), c, &b));
    CHECK(b && same(a, b, 0));
    herd_adapter_free(b);
    CHECK_OK(herd_adapter_save_gguf(a, at("partial.gguf")));
    CHECK_OK(herd_adapter_load(at("partial.gguf"), c, &b));
    CHECK(b && same(a, b, 0));
    herd_adapter_free(b);

    a->w[1 * 7 + 5].a = a->w[1 * 7 + 5].b = NULL; /* now layer 1 has none */
    CHECK_OK(herd_adapter_save_gguf(a, at("partial.gguf")));
    CHECK_OK(herd_adapter_load_gguf(at("partial.gguf"), &b));
    CHECK(b && b->n_layers == 1); /* no config: the highest block + 1 */
    herd_adapter_free(b);
    CHECK_OK(herd_adapter_load(at("partial.gguf"), c, &b));
    CHECK(b && b->n_layers == 2 && !b->w[7].a && b->w[7].out == 32 && b->w[12].in == 32);
    herd_adapter_free(b);
    herd_adapter_free(a);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* Replaces the first occurrence of from by to (k bytes each; 0: strlen). */
static int patchn(const char *path, const char *from, const char *to, size_t k)
{
    char *d;
    size_t n;
    k = k ? k : strlen(from);
    if (herd_read_file(path, &d, &n) != HERD_OK)
        return 0;
    int done = 0;
    for (size_t i = 0; i + k <= n && !done; i++)
        if (!memcmp(d + i, from, k)) {
            memcpy(d + i, to, k);
            done = 1;
        }
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
    free(d);
    return done;
}

static int patch(const char *path, const char *from, const char *to)
{
    return patchn(path, from, to, 0);
}

static void truncate_copy(const char *from, const char *to, double part)
{
    char *d;
    size_t n;
    if (herd_read_file(from, &d, &n) != HERD_OK)
        return;
    FILE *f = fopen(to, "wb");
    fwrite(d, 1, (size_t)(n * part), f);
    fclose(f);
    free(d);
}

static int said(const char *what)
{
    int ok = strstr(herd_last_error(), what) != NULL;
    if (!ok)
        fprintf(stderr, "message lacks '%s': %s\n", what, herd_last_error());
    return ok;
}

static void test_peft_errors(const herd_config *c)
{
    herd_adapter *a = random_adapter(c, 4, 8.0f, HERD_LORA_ALL), *b = NULL;
    CHECK_OK(herd_adapter_save_peft(a, c, at("bad"), NULL));
    herd_config other = *c;
    other.hidden_dim = 64;
    CHECK_FAILS(herd_adapter_load_peft(at("bad"), &other, &b), HERD_E_ARG);
    CHECK(said("different base model") && said("mlp."));
    other = *c;
    other.n_layers = 1;
    CHECK_FAILS(herd_adapter_load_peft(at("bad"), &other, &b), HERD_E_ARG);
    CHECK(said("different base model"));
    CHECK(b == NULL);
    CHECK_FAILS(herd_adapter_save_peft(a, &other, at("bad2"), NULL), HERD_E_ARG);
    CHECK(said("different base model"));

    /* an unknown tensor beside the adapter's */
    float x[4] = {0};
    herd_st_tensor_out t = {"base_model.model.lm_head.lora_A.weight", HERD_TYPE_F32, 2,
                            {2, 2}, x};
    CHECK_OK(herd_adapter_save_peft(a, c, at("unknown"), NULL));
    CHECK_OK(herd_st_write(at("unknown/adapter_model.safetensors"), &t, 1, NULL));
    CHECK_FAILS(herd_adapter_load_peft(at("unknown"), c, &b), HERD_E_UNSUPPORTED);
    CHECK(said("base_model.model.lm_head.lora_A.weight"));

    /* a json without lora_alpha, a rank that is not the tensors' */
    write_text(at("bad/adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": 4}");
    CHECK_FAILS(herd_adapter_load_peft(at("bad"), c, &b), HERD_E_FORMAT);
    CHECK(said("lora_alpha"));
    write_text(at("bad/adapter_config.json"), "{\"r\": 8, \"lora_alpha\": 16}");
    CHECK_FAILS(herd_adapter_load_peft(at("bad"), c, &b), HERD_E_FORMAT);
    CHECK(said("r = 8"));
    write_text(at("bad/adapter_config.json"), "{\"r\": 4, \"lora_alpha\": 16, \"use_dora\": true}");
    CHECK_FAILS(herd_adapter_load_peft(at("bad"), c, &b), HERD_E_UNSUPPORTED);
    write_text(at("bad/adapter_config.json"),
               "{\"r\": 4, \"lora_alpha\": 2, \"use_rslora\": true}");
    CHECK_OK(herd_adapter_load_peft(at("bad"), c, &b)); /* scale 2 / sqrt(4) = alpha' / 4 */
    CHECK(b && b->alpha == 4.0f);
    herd_adapter_free(b);
    b = NULL;
    write_text(at("bad/adapter_config.json"), "{\"r\": 4,");
    CHECK_FAILS(herd_adapter_load_peft(at("bad"), c, &b), HERD_E_FORMAT);
    /* a truncated safetensors file */
    write_text(at("bad/adapter_config.json"), "{\"r\": 4, \"lora_alpha\": 8}");
    truncate_copy(at("peft/adapter_model.safetensors"), at("bad/adapter_model.safetensors"),
                  0.7);
    CHECK(herd_adapter_load_peft(at("bad"), c, &b) != HERD_OK && b == NULL);
    CHECK_FAILS(herd_adapter_load_peft(at("nothing"), c, &b), HERD_E_IO);
    CHECK(said("adapter_config.json"));
    herd_adapter_free(a);
}

static void test_gguf_errors(const herd_config *c)
{
    herd_adapter *a = random_adapter(c, 4, 8.0f, HERD_LORA_ALL), *b = NULL;
    char model[512];
    snprintf(model, sizeof model, "%s/tests/fixtures/models/gqa/model.gguf", test_source());
    CHECK_FAILS(herd_adapter_load_gguf(model, &b), HERD_E_FORMAT);
    CHECK(said("not a LoRA adapter"));

    CHECK_OK(herd_adapter_save_gguf(a, at("e.gguf")));
    herd_config other = *c;
    other.dim = 64;
    other.n_heads = 8;
    CHECK_FAILS(herd_adapter_load(at("e.gguf"), &other, &b), HERD_E_ARG);
    CHECK(said("different base model"));
    other = *c;
    other.n_layers = 1;
    CHECK_FAILS(herd_adapter_load(at("e.gguf"), &other, &b), HERD_E_ARG);
    CHECK(said("different base model"));

    truncate_copy(at("e.gguf"), at("t.gguf"), 0.6);
    CHECK_FAILS(herd_adapter_load_gguf(at("t.gguf"), &b), HERD_E_FORMAT);
    truncate_copy(at("e.gguf"), at("t.gguf"), 0.01);
    CHECK_FAILS(herd_adapter_load_gguf(at("t.gguf"), &b), HERD_E_FORMAT);

    CHECK_OK(herd_adapter_save_gguf(a, at("p.gguf")));
    CHECK(patch(at("p.gguf"), "adapter.lora.alpha", "adapter.lora.alphx"));
    CHECK_FAILS(herd_adapter_load_gguf(at("p.gguf"), &b), HERD_E_FORMAT);
    CHECK(said("adapter.lora.alpha"));
    CHECK_OK(herd_adapter_save_gguf(a, at("p.gguf")));
    CHECK(patch(at("p.gguf"), "blk.1.attn_v.weight.lora_b", "blk.1.attn_v.weight.lora_c"));
    CHECK_FAILS(herd_adapter_load_gguf(at("p.gguf"), &b), HERD_E_UNSUPPORTED);
    CHECK(said("blk.1.attn_v.weight.lora_c"));
    CHECK_OK(herd_adapter_save_gguf(a, at("p.gguf")));
    CHECK(patch(at("p.gguf"), "blk.1.attn_v.weight.lora_b", "blk.1.attn_q.weight.lora_b"));
    CHECK(herd_adapter_load_gguf(at("p.gguf"), &b) != HERD_OK); /* duplicate name */
    CHECK_OK(herd_adapter_save_gguf(a, at("p.gguf")));
    CHECK(patchn(at("p.gguf"), "\x07\x00\x00\x00\x00\x00\x00\x00" "adapter",
                 "\x07\x00\x00\x00\x00\x00\x00\x00" "adaptor", 15));
    CHECK_FAILS(herd_adapter_load_gguf(at("p.gguf"), &b), HERD_E_FORMAT);
    CHECK(said("not a LoRA adapter"));
    CHECK(b == NULL);

    herd_adapter_save_opts q8 = {HERD_TYPE_Q8_0, 0};
    CHECK_FAILS(herd_adapter_save_gguf_opts(a, at("q.gguf"), &q8), HERD_E_ARG);
    CHECK(!herd_file_exists(at("q.gguf")) && !herd_file_exists(at("q.gguf.tmp")));
    CHECK_FAILS(herd_adapter_save_gguf(a, at("no/such/folder.gguf")), HERD_E_IO);
    herd_adapter_free(a);
}

/* Both formats from one adapter, checked by adapter_ref.py. */
static void test_python(const herd_config *c)
{
    if (sh("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
        printf("note: /usr/bin/python3 with numpy missing: skipping adapter_ref.py\n");
        return;
    }
    herd_adapter *a = random_adapter(c, 4, 8.0f, HERD_LORA_ALL);
    CHECK_OK(herd_adapter_save_peft(a, c, at("py"), "base"));
    CHECK_OK(herd_adapter_save_gguf(a, at("py.gguf")));
    int rc = sh("/usr/bin/python3 %s/tests/formats/adapter_ref.py %s %s %d %d %d %d %d 4 8",
                test_source(), at("py"), at("py.gguf"), c->dim, c->hidden_dim, c->n_layers,
                c->n_heads, c->n_kv_heads);
    CHECK_MSG(rc == 0, "adapter_ref.py");
    herd_adapter_free(a);
}

/* ---- files for the llama.cpp check ---- */

/* herd's logits after the last of n tokens on model path (with the LoRA
 * adapter lora when not NULL), one a line. */
static void herd_logits(const char *path, const char *lora, const int *tok, int n,
                        const char *txt)
{
    herd_model *m;
    CHECK_OK(herd_model_open(path, &m));
    if (!m)
        return;
    if (lora && herd_model_add_lora(m, lora, 1.0f) != HERD_OK) {
        CHECK_MSG(0, "herd_model_add_lora %s: %s", lora, herd_last_error());
        herd_model_free(m);
        return;
    }
    int nv = herd_model_config(m)->vocab_size;
    float *lg = malloc((size_t)n * nv * sizeof *lg);
    CHECK_OK(herd_forward_nocache(m, tok, n, lg));
    FILE *f = fopen(txt, "w");
    for (int i = 0; f && i < nv; i++)
        fprintf(f, "%.9g\n", lg[(size_t)(n - 1) * nv + i]);
    if (f)
        fclose(f);
    free(lg);
    herd_model_free(m);
}

static int llamacpp_files(const char *base, const char *out, const int *tok, int n_tok)
{
    herd_model *m;
    if (herd_model_load(base, NULL, &m) != HERD_OK) {
        fprintf(stderr, "%s\n", herd_last_error());
        return 1;
    }
    herd_adapter *a = random_adapter(&m->cfg, 4, 8.0f, HERD_LORA_ALL);
    char p[1024];
    snprintf(p, sizeof p, "%s/adapter.gguf", out);
    CHECK_OK(herd_adapter_save_gguf(a, p));
    herd_adapter_save_opts o = {HERD_TYPE_F16, 0};
    snprintf(p, sizeof p, "%s/adapter-f16.gguf", out);
    CHECK_OK(herd_adapter_save_gguf_opts(a, p, &o));
    snprintf(p, sizeof p, "%s/peft", out);
    CHECK_OK(herd_adapter_save_peft(a, &m->cfg, p, NULL));
    /* merged: W + alpha/r B A, in double */
    float *bufs[64 * 7] = {0};
    int nb = 0;
    for (int l = 0; l < m->cfg.n_layers && l < 64; l++)
        for (int i = 0; i < HERD_LORA_MATS; i++) {
            herd_tensor *t = (herd_tensor *)herd_lora_target(m, l, i);
            const herd_lora_w *w = &a->w[l * HERD_LORA_MATS + i];
            CHECK(t->type == HERD_TYPE_F32 && t->rows == w->out && t->cols == w->in);
            float *W = malloc((size_t)(t->rows * t->cols) * sizeof *W);
            for (int o2 = 0; o2 < w->out; o2++)
                for (int c2 = 0; c2 < w->in; c2++) {
                    double s = 0;
                    for (int k = 0; k < a->r; k++)
                        s += (double)w->b[o2 * a->r + k] * w->a[k * w->in + c2];
                    W[o2 * w->in + c2] = (float)(((const float *)t->data)[o2 * w->in + c2] +
                                                 a->alpha / a->r * s);
                }
            t->data = W;
            bufs[nb++] = W;
        }
    snprintf(p, sizeof p, "%s/merged.gguf", out);
    CHECK_OK(herd_save_gguf(m, p, HERD_TYPE_F32));
    for (int k = 0; k < nb; k++)
        free(bufs[k]);
    herd_adapter_free(a);
    herd_model_free(m);
    char txt[1024], lora[1024];
    snprintf(txt, sizeof txt, "%s/herd-merged.txt", out);
    herd_logits(p, NULL, tok, n_tok, txt);
    snprintf(lora, sizeof lora, "%s/adapter.gguf", out);
    snprintf(txt, sizeof txt, "%s/herd-lora.txt", out);
    herd_logits(base, lora, tok, n_tok, txt);
    snprintf(lora, sizeof lora, "%s/peft", out);
    snprintf(txt, sizeof txt, "%s/herd-peft.txt", out);
    herd_logits(base, lora, tok, n_tok, txt);
    return test_failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && argc < 69 && !strcmp(argv[1], "llamacpp")) {
        int tok[64];
        for (int i = 4; i < argc; i++)
            tok[i - 4] = atoi(argv[i]);
        return llamacpp_files(argv[2], argv[3], tok, argc - 4);
    }
    snprintf(dir, sizeof dir, "/tmp/herd-adapter-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    herd_config c = tiny();
    test_peft_roundtrip(&c);
    test_peft_layout(&c);
    test_peft_json(&c);
    test_gguf_roundtrip(&c);
    test_partial(&c);
    test_peft_errors(&c);
    test_gguf_errors(&c);
    test_python(&c);
    if (!getenv("KEEP")) sh("rm -rf %s", dir);
    TEST_END();
}

/* The Hugging Face folder loader on tiny Llamas written here at test time:
 * the same random weights as one F32 file, as BF16 shards behind an index
 * and tied as F16. Logits are checked against a plain float64 forward
 * written below from the HF modeling code's definitions (RMSNorm, RoPE on
 * halves, grouped-query attention, SwiGLU), and the F32 and BF16 copies
 * against each other; rope_scaling read from config.json. Then every kind
 * of broken folder. */
#include "formats/safetensors.h"
#include "base/half.h"
#include "test.h"
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

enum { DIM = 16, HID = 32, LAYERS = 2, HEADS = 4, KV = 2, VOCAB = 300, HD = DIM / HEADS };

static char root[] = "/tmp/herd-hf-XXXXXX";

/* ---- the weights ---- */

typedef struct {
    char name[64];
    int rows, cols;          /* rows 0: a vector */
    float *data;
} spec;

static spec specs[3 + 9 * LAYERS];
static int n_specs;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static int rand_int(int lo, int hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (int)(rng % (uint64_t)(hi - lo + 1));
}

/* Matrices k/256 (|k| <= 128), norms k/128 (96 <= k <= 160): exact in
 * BF16 and F16, so every copy holds the same numbers. */
static void add(const char *name, int rows, int cols, int norm)
{
    spec *s = &specs[n_specs++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->rows = rows;
    s->cols = cols;
    int n = (rows ? rows : 1) * cols;
    s->data = malloc((size_t)n * sizeof(float));
    for (int i = 0; i < n; i++)
        s->data[i] = norm ? rand_int(96, 160) / 128.0f : rand_int(-128, 128) / 256.0f;
}

static void make_weights(void)
{
    add("model.embed_tokens.weight", VOCAB, DIM, 0);
    add("model.norm.weight", 0, DIM, 1);
    add("lm_head.weight", VOCAB, DIM, 0);
    for (int l = 0; l < LAYERS; l++) {
        char n[64];
#define ADD(sfx, r, c, norm) snprintf(n, sizeof n, "model.layers.%d.%s", l, sfx), add(n, r, c, norm)
        ADD("input_layernorm.weight", 0, DIM, 1);
        ADD("self_attn.q_proj.weight", DIM, DIM, 0);
        ADD("self_attn.k_proj.weight", KV * HD, DIM, 0);
        ADD("self_attn.v_proj.weight", KV * HD, DIM, 0);
        ADD("self_attn.o_proj.weight", DIM, DIM, 0);
        ADD("post_attention_layernorm.weight", 0, DIM, 1);
        ADD("mlp.gate_proj.weight", HID, DIM, 0);
        ADD("mlp.down_proj.weight", DIM, HID, 0);
        ADD("mlp.up_proj.weight", HID, DIM, 0);
#undef ADD
    }
}

static const float *W(const char *fmt, int l)
{
    char n[64];
    snprintf(n, sizeof n, fmt, l);
    for (int i = 0; i < n_specs; i++)
        if (strcmp(specs[i].name, n) == 0)
            return specs[i].data;
    abort();
}

/* ---- the float64 reference forward ---- */

static void matvec(double *y, const float *w, const double *x, int out, int in)
{
    for (int o = 0; o < out; o++) {
        double s = 0;
        for (int i = 0; i < in; i++)
            s += (double)w[(size_t)o * in + i] * x[i];
        y[o] = s;
    }
}

static void rmsnorm(double *y, const double *x, const float *w, double eps)
{
    double ss = 0;
    for (int i = 0; i < DIM; i++)
        ss += x[i] * x[i];
    double r = 1.0 / sqrt(ss / DIM + eps);
    for (int i = 0; i < DIM; i++)
        y[i] = x[i] * r * w[i];
}

/* Linear position interpolation (rope_scaling "linear"): every frequency
 * divided by this factor. */
static double rope_div = 1;

/* HF's rotate_half: pairs (i, i + HD/2). */
static void rope(double *v, int n_heads, int pos, double theta)
{
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < HD / 2; i++) {
            double a = pos * pow(theta, -2.0 * i / HD) / rope_div, c = cos(a), s = sin(a);
            double *x = v + h * HD, x0 = x[i], x1 = x[i + HD / 2];
            x[i] = x0 * c - x1 * s;
            x[i + HD / 2] = x0 * s + x1 * c;
        }
}

static void attention(double x[][DIM], int n, int l, double eps, double theta)
{
    static double q[16][DIM], k[16][KV * HD], v[16][KV * HD];
    double xb[DIM], att[DIM], o[DIM];
    for (int t = 0; t < n; t++) {
        rmsnorm(xb, x[t], W("model.layers.%d.input_layernorm.weight", l), eps);
        matvec(q[t], W("model.layers.%d.self_attn.q_proj.weight", l), xb, DIM, DIM);
        matvec(k[t], W("model.layers.%d.self_attn.k_proj.weight", l), xb, KV * HD, DIM);
        matvec(v[t], W("model.layers.%d.self_attn.v_proj.weight", l), xb, KV * HD, DIM);
        rope(q[t], HEADS, t, theta);
        rope(k[t], KV, t, theta);
    }
    for (int t = 0; t < n; t++) {
        for (int h = 0; h < HEADS; h++) {
            int g = h / (HEADS / KV);
            double sc[16], mx = -1e300, sum = 0;
            for (int j = 0; j <= t; j++) {
                sc[j] = 0;
                for (int i = 0; i < HD; i++)
                    sc[j] += q[t][h * HD + i] * k[j][g * HD + i];
                sc[j] /= sqrt((double)HD);
                mx = sc[j] > mx ? sc[j] : mx;
            }
            for (int j = 0; j <= t; j++)
                sum += sc[j] = exp(sc[j] - mx);
            for (int i = 0; i < HD; i++) {
                att[h * HD + i] = 0;
                for (int j = 0; j <= t; j++)
                    att[h * HD + i] += sc[j] / sum * v[j][g * HD + i];
            }
        }
        matvec(o, W("model.layers.%d.self_attn.o_proj.weight", l), att, DIM, DIM);
        for (int i = 0; i < DIM; i++)
            x[t][i] += o[i];
    }
}

static void mlp(double *x, int l, double eps)
{
    double xb[DIM], g[HID], u[HID], d[DIM];
    rmsnorm(xb, x, W("model.layers.%d.post_attention_layernorm.weight", l), eps);
    matvec(g, W("model.layers.%d.mlp.gate_proj.weight", l), xb, HID, DIM);
    matvec(u, W("model.layers.%d.mlp.up_proj.weight", l), xb, HID, DIM);
    for (int i = 0; i < HID; i++)
        g[i] = g[i] / (1 + exp(-g[i])) * u[i];
    matvec(d, W("model.layers.%d.mlp.down_proj.weight", l), g, DIM, HID);
    for (int i = 0; i < DIM; i++)
        x[i] += d[i];
}

static void reference(const int *tok, int n, double eps, double theta, int tied,
                      double *logits)
{
    static double x[16][DIM];
    for (int t = 0; t < n; t++)
        for (int i = 0; i < DIM; i++)
            x[t][i] = W("model.embed_tokens.weight", 0)[tok[t] * DIM + i];
    for (int l = 0; l < LAYERS; l++) {
        attention(x, n, l, eps, theta);
        for (int t = 0; t < n; t++)
            mlp(x[t], l, eps);
    }
    const float *out = W(tied ? "model.embed_tokens.weight" : "lm_head.weight", 0);
    for (int t = 0; t < n; t++) {
        double xn[DIM];
        rmsnorm(xn, x[t], W("model.norm.weight", 0), eps);
        matvec(logits + (size_t)t * VOCAB, out, xn, VOCAB, DIM);
    }
}

/* ---- writing folders ---- */

static void *bufs[64];
static int n_bufs;

static void folder(char *dir, const char *name)
{
    snprintf(dir, 512, "%s/%s", root, name);
    if (mkdir(dir, 0755) != 0)
        abort();
}

static void write_text(const char *dir, const char *file, const char *text)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    FILE *f = fopen(p, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
}

/* config.json with every key but those quoted in omit, then extra. */
static void write_config(const char *dir, const char *omit, const char *extra)
{
    static const char *members[] = {
        "\"architectures\": [\"LlamaForCausalLM\"]", "\"model_type\": \"llama\"",
        "\"hidden_size\": 16", "\"intermediate_size\": 32", "\"num_hidden_layers\": 2",
        "\"num_attention_heads\": 4", "\"num_key_value_heads\": 2", "\"vocab_size\": 300",
        "\"max_position_embeddings\": 64", "\"rms_norm_eps\": 1e-06",
        "\"rope_theta\": 500000.0", "\"tie_word_embeddings\": false",
        "\"hidden_act\": \"silu\"", "\"torch_dtype\": \"float32\"", "\"rope_scaling\": null"};
    char text[2048] = "{";
    for (size_t i = 0; i < sizeof members / sizeof *members; i++) {
        char key[64];
        size_t kl = (size_t)(strchr(members[i] + 1, '"') - members[i]) + 1;
        snprintf(key, sizeof key, "%.*s", (int)kl, members[i]);
        if (omit && strstr(omit, key))
            continue;
        strcat(text, text[1] ? ",\n  " : "\n  ");
        strcat(text, members[i]);
    }
    if (extra) {
        strcat(text, ",\n  ");
        strcat(text, extra);
    }
    strcat(text, "\n}\n");
    write_text(dir, "config.json", text);
}

/* specs[i] as a tensor of type ty (BF16 and F16 copies are exact). */
static herd_st_tensor_out tensor(int i, herd_type ty)
{
    const spec *s = &specs[i];
    herd_st_tensor_out t = {s->name, ty, s->rows ? 2 : 1, {0}, s->data};
    t.shape[0] = s->rows ? s->rows : s->cols;
    t.shape[1] = s->cols;
    if (ty == HERD_TYPE_F32)
        return t;
    int n = (s->rows ? s->rows : 1) * s->cols;
    uint16_t *h = bufs[n_bufs++] = malloc((size_t)n * 2);
    for (int k = 0; k < n; k++) {
        uint32_t u;
        memcpy(&u, &s->data[k], 4);
        h[k] = ty == HERD_TYPE_BF16 ? (uint16_t)(u >> 16) : herd_f32_to_f16(s->data[k]);
        CHECK(ty == HERD_TYPE_BF16 ? (u & 0xffff) == 0 : herd_f16_to_f32(h[k]) == s->data[k]);
    }
    t.data = h;
    return t;
}

/* Tensors first..first+count-1 of type ty, but skip (may be NULL), plus
 * extra (may be NULL), into dir/file. */
static void write_weights(const char *dir, const char *file, herd_type ty, int first,
                          int count, const char *skip, const herd_st_tensor_out *extra)
{
    herd_st_tensor_out t[64];
    int n = 0, mark = n_bufs;
    for (int i = first; i < first + count; i++)
        if (!skip || strcmp(specs[i].name, skip) != 0)
            t[n++] = tensor(i, ty);
    if (extra)
        t[n++] = *extra;
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    CHECK_OK(herd_st_write(p, t, n, NULL));
    while (n_bufs > mark)
        free(bufs[--n_bufs]);
}

static const char *shard_file(int i)
{
    return i < 3 + 9 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
}

/* BF16 over two shards (the embedding, norms, lm_head and layer 0; layer 1)
 * and the index; the index puts moved in the first shard and leaves out
 * dropped. */
static void write_sharded(const char *dir, const char *moved, const char *dropped)
{
    write_weights(dir, shard_file(0), HERD_TYPE_BF16, 0, 3 + 9, NULL, NULL);
    write_weights(dir, shard_file(n_specs - 1), HERD_TYPE_BF16, 3 + 9, n_specs - 3 - 9, NULL,
                  NULL);
    char text[8192];
    int k = snprintf(text, sizeof text, "{\"metadata\": {\"total_size\": 0},\n"
                     " \"weight_map\": {");
    const char *sep = "";
    for (int i = 0; i < n_specs; i++) {
        if (dropped && strcmp(specs[i].name, dropped) == 0)
            continue;
        int m = moved && strcmp(specs[i].name, moved) == 0;
        k += snprintf(text + k, sizeof text - (size_t)k, "%s\n  \"%s\": \"%s\"", sep,
                      specs[i].name, shard_file(m ? 0 : i));
        sep = ",";
    }
    snprintf(text + k, sizeof text - (size_t)k, "}}\n");
    write_text(dir, "model.safetensors.index.json", text);
}

static void good_folder(char *dir, const char *name)
{
    folder(dir, name);
    write_config(dir, NULL, NULL);
    write_weights(dir, "model.safetensors", HERD_TYPE_F32, 0, n_specs, NULL, NULL);
}

/* ---- the tests ---- */

static const int toks[] = {1, 77, 299, 5, 150, 42, 0};
#define N_TOK ((int)(sizeof toks / sizeof *toks))

static float *logits_of(const char *dir, herd_model **keep)
{
    herd_model *m = NULL;
    CHECK_OK(herd_model_open(dir, &m));
    if (!m)
        return NULL;
    float *lg = malloc((size_t)N_TOK * VOCAB * sizeof *lg);
    CHECK_OK(herd_forward_nocache(m, toks, N_TOK, lg));
    *keep = m;
    return lg;
}

/* Every logit within tol (relative, test_close) of the reference. */
static void compare(const char *what, const float *got, const double *want, float tol)
{
    int bad = 0;
    double worst = 0;
    for (int i = 0; i < N_TOK * VOCAB; i++) {
        bad += !test_close(got[i], (float)want[i], tol);
        worst = fmax(worst, fabs(got[i] - want[i]));
    }
    CHECK_MSG(bad == 0, "%s: %d logits off, worst by %g", what, bad, worst);
}

static void test_models(void)
{
    char d32[512], dbf[512], dtied[512];
    folder(d32, "f32");
    write_config(d32, NULL, NULL);
    write_weights(d32, "model.safetensors", HERD_TYPE_F32, 0, n_specs, NULL, NULL);
    folder(dbf, "bf16");
    write_config(dbf, NULL, NULL);
    write_sharded(dbf, NULL, NULL);
    folder(dtied, "tied");
    write_config(dtied, "\"rope_theta\" \"rms_norm_eps\" \"max_position_embeddings\" "
                 "\"tie_word_embeddings\" \"model_type\"", "\"tie_word_embeddings\": true");
    write_weights(dtied, "model.safetensors", HERD_TYPE_F16, 0, n_specs, "lm_head.weight",
                  NULL);

    herd_model *m32 = NULL, *mbf = NULL, *mt = NULL;
    float *l32 = logits_of(d32, &m32), *lbf = logits_of(dbf, &mbf), *lt = logits_of(dtied, &mt);
    if (!l32 || !lbf || !lt)
        goto done;
    const herd_config *c = herd_model_config(m32);
    CHECK(c->dim == 16 && c->hidden_dim == 32 && c->n_layers == 2 && c->n_heads == 4);
    CHECK(c->n_kv_heads == 2 && c->vocab_size == 300 && c->seq_len == 64);
    CHECK(c->norm_eps == 1e-6f && c->rope_theta == 500000.0f && c->tied_embeddings == 0);
    CHECK(c->rope_layout == HERD_ROPE_HF && herd_model_tokenizer(m32) == NULL);
    CHECK(memcmp(c, herd_model_config(mbf), sizeof *c) == 0);
    c = herd_model_config(mt);
    CHECK(c->seq_len == 2048 && c->norm_eps == 1e-6f && c->rope_theta == 10000.0f);
    CHECK(c->tied_embeddings == 1 && c->rope_layout == HERD_ROPE_HF);

    double *ref = malloc((size_t)N_TOK * VOCAB * sizeof *ref);
    reference(toks, N_TOK, 1e-6, 500000.0, 0, ref);
    compare("f32 vs float64 reference", l32, ref, 1e-4f);
    compare("bf16 shards vs float64 reference", lbf, ref, 1e-4f);
    int same = 1;
    for (int i = 0; i < N_TOK * VOCAB; i++)
        same &= test_close(lbf[i], l32[i], 1e-5f);
    CHECK_MSG(same, "bf16 shards and f32 disagree");
    reference(toks, N_TOK, 1e-6, 10000.0, 1, ref);
    compare("tied f16 vs float64 reference", lt, ref, 1e-4f);
    free(ref);
done:
    free(l32);
    free(lbf);
    free(lt);
    herd_model_free(m32);
    herd_model_free(mbf);
    herd_model_free(mt);
}

/* rope_scaling: "linear" through to the logits (the reference divides
 * every frequency), "llama3" into the config (its numbers are checked
 * against PyTorch in test_golden), "default" as none. */
static void test_rope_scaling(void)
{
    char d[512];
    folder(d, "linear");
    write_config(d, "\"rope_scaling\"", "\"rope_scaling\": {\"type\": \"linear\", "
                 "\"factor\": 4.0}");
    write_weights(d, "model.safetensors", HERD_TYPE_F32, 0, n_specs, NULL, NULL);
    herd_model *m = NULL;
    float *lg = logits_of(d, &m);
    if (lg) {
        const herd_config *c = herd_model_config(m);
        CHECK(c->rope_scaling == HERD_ROPE_SCALING_LINEAR && c->rope_factor == 4.0f);
        double *ref = malloc((size_t)N_TOK * VOCAB * sizeof *ref);
        rope_div = 4;
        reference(toks, N_TOK, 1e-6, 500000.0, 0, ref);
        rope_div = 1;
        compare("linear rope scaling vs float64 reference", lg, ref, 1e-4f);
        free(ref);
    }
    free(lg);
    herd_model_free(m);
    m = NULL;
    folder(d, "llama3");
    write_config(d, "\"rope_scaling\"", "\"rope_scaling\": {\"rope_type\": \"llama3\", "
                 "\"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, "
                 "\"original_max_position_embeddings\": 32}");
    write_weights(d, "model.safetensors", HERD_TYPE_F32, 0, n_specs, NULL, NULL);
    CHECK_OK(herd_model_open(d, &m));
    if (m) {
        const herd_config *c = herd_model_config(m);
        CHECK(c->rope_scaling == HERD_ROPE_SCALING_LLAMA3 && c->rope_factor == 8.0f);
        CHECK(c->rope_low_freq_factor == 1.0f && c->rope_high_freq_factor == 4.0f);
        CHECK(c->rope_orig_ctx == 32 && c->seq_len == 64);
    }
    herd_model_free(m);
    m = NULL;
    folder(d, "default");
    write_config(d, "\"rope_scaling\"", "\"rope_scaling\": {\"rope_type\": \"default\"}");
    write_weights(d, "model.safetensors", HERD_TYPE_F32, 0, n_specs, NULL, NULL);
    CHECK_OK(herd_model_open(d, &m));
    CHECK(m && herd_model_config(m)->rope_scaling == HERD_ROPE_SCALING_NONE);
    herd_model_free(m);
}

/* Opening dir must fail with st and a message holding want and want2. */
static void check_bad(const char *dir, herd_status st, const char *want, const char *want2)
{
    herd_model *m = NULL;
    herd_status s = herd_model_open(dir, &m);
    test_checks++;
    if (s == HERD_OK || (st != HERD_OK && s != st)) {
        test_failures++;
        fprintf(stderr, "%s: gave %d, want %d (%s)\n", dir, (int)s, (int)st,
                herd_last_error());
    }
    CHECK(m == NULL);
    herd_model_free(m);
    const char *e = herd_last_error();
    CHECK_MSG(strstr(e, want) && (!want2 || strstr(e, want2)), "%s: message '%s' lacks "
              "'%s' or '%s'", dir, e, want, want2 ? want2 : "");
}

static void bad_config(const char *name, const char *omit, const char *extra,
                       herd_status st, const char *want, const char *want2)
{
    char d[512];
    folder(d, name);
    write_config(d, omit, extra);
    write_weights(d, "model.safetensors", HERD_TYPE_F32, 0, n_specs, NULL, NULL);
    check_bad(d, st, want, want2);
}

static void test_bad_configs(void)
{
    char d[512];
    folder(d, "noconfig");
    write_weights(d, "model.safetensors", HERD_TYPE_F32, 0, n_specs, NULL, NULL);
    check_bad(d, HERD_E_IO, "config.json", NULL);
    good_folder(d, "badjson");
    write_text(d, "config.json", "{\"hidden_size\": 16,");
    check_bad(d, HERD_E_FORMAT, "config.json", "JSON");
    good_folder(d, "configarray");
    write_text(d, "config.json", "[16]");
    check_bad(d, HERD_E_FORMAT, "config.json", "object");
    bad_config("nolayers", "\"num_hidden_layers\"", NULL, HERD_E_FORMAT, "config.json",
               "num_hidden_layers");
    bad_config("strdim", "\"hidden_size\"", "\"hidden_size\": \"16\"", HERD_E_FORMAT,
               "config.json", "hidden_size");
    bad_config("fracdim", "\"hidden_size\"", "\"hidden_size\": 16.5", HERD_E_FORMAT,
               "hidden_size", NULL);
    bad_config("negvocab", "\"vocab_size\"", "\"vocab_size\": -300", HERD_E_FORMAT,
               "vocab_size", NULL);
    bad_config("strtheta", "\"rope_theta\"", "\"rope_theta\": \"big\"", HERD_E_FORMAT,
               "rope_theta", NULL);
    bad_config("strtied", "\"tie_word_embeddings\"", "\"tie_word_embeddings\": 1",
               HERD_E_FORMAT, "tie_word_embeddings", NULL);
    bad_config("mistral", "\"model_type\"", "\"model_type\": \"mistral\"",
               HERD_E_UNSUPPORTED, "config.json", "\"mistral\"");
    bad_config("yarn", "\"rope_scaling\"", "\"rope_scaling\": {\"rope_type\": \"yarn\", "
               "\"factor\": 8.0}", HERD_E_UNSUPPORTED, "rope_scaling", "yarn");
    bad_config("scalingnum", "\"rope_scaling\"", "\"rope_scaling\": {\"type\": \"linear\", "
               "\"factor\": \"4\"}", HERD_E_FORMAT, "config.json", "rope_scaling.factor");
    bad_config("scalingtype", "\"rope_scaling\"", "\"rope_scaling\": {\"factor\": 4}",
               HERD_E_FORMAT, "config.json", "rope_type");
    bad_config("llama3part", "\"rope_scaling\"", "\"rope_scaling\": {\"rope_type\": "
               "\"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, "
               "\"original_max_position_embeddings\": 32}", HERD_E_FORMAT, "config.json",
               "high_freq_factor");
    bad_config("bias", NULL, "\"attention_bias\": true", HERD_E_UNSUPPORTED,
               "attention_bias", NULL);
    bad_config("gelu", "\"hidden_act\"", "\"hidden_act\": \"gelu\"", HERD_E_UNSUPPORTED,
               "hidden_act", NULL);
    bad_config("headdim", NULL, "\"head_dim\": 8", HERD_E_UNSUPPORTED, "head_dim", NULL);
    bad_config("heads3", "\"num_attention_heads\"", "\"num_attention_heads\": 3",
               HERD_E_FORMAT, "config.json", "n_heads");
}

static void test_bad_weights(void)
{
    char d[512], p[600];
    folder(d, "noweights");
    write_config(d, NULL, NULL);
    check_bad(d, HERD_E_IO, "model.safetensors", NULL);
    folder(d, "noshard");
    write_config(d, NULL, NULL);
    write_sharded(d, NULL, NULL);
    snprintf(p, sizeof p, "%s/%s", d, shard_file(n_specs - 1));
    remove(p);
    check_bad(d, HERD_E_IO, "model-00002-of-00002.safetensors", NULL);
    const char *up1 = "model.layers.1.mlp.up_proj.weight";
    folder(d, "wrongshard");
    write_config(d, NULL, NULL);
    write_sharded(d, up1, NULL);
    check_bad(d, HERD_E_FORMAT, "index.json", up1);
    folder(d, "indexlacks");
    write_config(d, NULL, NULL);
    write_sharded(d, NULL, up1);
    check_bad(d, HERD_E_FORMAT, up1, "missing");
    folder(d, "nomap");
    write_config(d, NULL, NULL);
    write_text(d, "model.safetensors.index.json", "{\"metadata\": {}}");
    check_bad(d, HERD_E_FORMAT, "index.json", "weight_map");
    folder(d, "nolmhead");
    write_config(d, NULL, NULL);
    write_weights(d, "model.safetensors", HERD_TYPE_F32, 0, n_specs, "lm_head.weight", NULL);
    check_bad(d, HERD_E_FORMAT, "lm_head.weight", "model.safetensors");
    /* Layer 0's k_proj written as [16][16] (q_proj's numbers). */
    folder(d, "shape");
    write_config(d, NULL, NULL);
    herd_st_tensor_out wk = tensor(3 + 1, HERD_TYPE_F32);
    wk.name = "model.layers.0.self_attn.k_proj.weight";
    write_weights(d, "model.safetensors", HERD_TYPE_F32, 0, n_specs, wk.name, &wk);
    check_bad(d, HERD_E_FORMAT, "layer 0 wk", "[16 x 16]");
    folder(d, "qbias");
    write_config(d, NULL, NULL);
    herd_st_tensor_out qb = tensor(1, HERD_TYPE_F32);
    qb.name = "model.layers.0.self_attn.q_proj.bias";
    write_weights(d, "model.safetensors", HERD_TYPE_F32, 0, n_specs, NULL, &qb);
    check_bad(d, HERD_E_UNSUPPORTED, "q_proj.bias", NULL);
    folder(d, "layer2");
    write_config(d, NULL, NULL);
    qb.name = "model.layers.2.input_layernorm.weight";
    write_weights(d, "model.safetensors", HERD_TYPE_F32, 0, n_specs, NULL, &qb);
    check_bad(d, HERD_E_UNSUPPORTED, "model.layers.2.input_layernorm.weight", NULL);
    good_folder(d, "cut");
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    CHECK(truncate(p, 4000) == 0);
    check_bad(d, HERD_E_FORMAT, "model.safetensors", "truncated");
}

static void test_tokenizers(void)
{
    char d[512], p[600], src[600];
    good_folder(d, "badtok");
    write_text(d, "tokenizer.model", "this is no tokenizer");
    check_bad(d, HERD_OK, "tokenizer.model", NULL);
    snprintf(src, sizeof src, "%s/tokenizers/llama2/tokenizer.model", test_shared());
    if (access(src, R_OK) != 0) {
        printf("no %s: vocabulary mismatch not checked\n", src);
        return;
    }
    good_folder(d, "vocab");
    snprintf(p, sizeof p, "%s/tokenizer.model", d);
    char *abs = realpath(src, NULL);
    CHECK(abs && symlink(abs, p) == 0);
    free(abs);
    check_bad(d, HERD_E_FORMAT, "32000", "300");
}

int main(void)
{
    if (!mkdtemp(root))
        TEST_SKIP("no temporary folder");
    make_weights();
    test_models();
    test_rope_scaling();
    test_bad_configs();
    test_bad_weights();
    test_tokenizers();
    for (int i = 0; i < n_specs; i++)
        free(specs[i].data);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    TEST_END();
}

/* Rope scaling through herd convert, in the exact forms each format keeps:
 *  - Llama 3.1's scaling from config.json to GGUF: the rope_freqs.weight
 *    divisors equal those tests/reference/make_fixtures.py wrote (llama.cpp's
 *    formula in numpy) into the llama31 fixture's model.gguf;
 *  - that fixture's GGUF to a Hugging Face folder: config.json gets back the
 *    parameters meta.json lists (factor 8, low 1, high 4, original 48);
 *  - linear scaling: llama.rope.scaling.type "linear" and its factor in GGUF,
 *    rope_type "linear" in config.json;
 *  - the divisors of Llama 3.1 8B and 3.2 1B's published configs solve back
 *    to those configs, other divisor shapes to none, linear, or a refusal. */
#include "herd.h"
#include "formats/convert.h"
#include "formats/gguf.h"
#include "base/file.h"
#include "test.h"
#include <cjson/cJSON.h>

static char tmp[64];

static int convert(const char *in, const char *out)
{
    herd_model *m;
    herd_status s = herd_model_load(in, NULL, &m);
    CHECK_MSG(s == HERD_OK, "open %s: %s", in, herd_last_error());
    if (s != HERD_OK)
        return 0;
    herd_convert_opts o = {.type = HERD_TYPE_F32};
    s = herd_convert_save(m, out, &o);
    CHECK_MSG(s == HERD_OK, "%s -> %s: %s", in, out, herd_last_error());
    herd_model_free(m);
    return s == HERD_OK;
}

/* A parsed GGUF file kept mapped. */
typedef struct {
    herd_map map;
    herd_gguf g;
} gguf_file;

static int open_gguf(const char *path, gguf_file *f)
{
    memset(f, 0, sizeof *f);
    if (herd_map_file(path, &f->map) != HERD_OK)
        return 0;
    return herd_gguf_parse(path, f->map.data, f->map.size, &f->g) == HERD_OK;
}

static void close_gguf(gguf_file *f)
{
    herd_gguf_free(&f->g);
    herd_unmap(&f->map);
}

static const cJSON *rope_scaling(const char *dir, cJSON **root)
{
    char path[512], *text;
    size_t n;
    snprintf(path, sizeof path, "%s/config.json", dir);
    *root = herd_read_file(path, &text, &n) == HERD_OK ? cJSON_Parse(text) : NULL;
    if (*root)
        free(text);
    return cJSON_GetObjectItem(*root, "rope_scaling");
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static void llama3_to_gguf(const char *fix)
{
    char src[600], ref[600], out[256];
    snprintf(src, sizeof src, "%s/hf", fix);
    snprintf(ref, sizeof ref, "%s/model.gguf", fix);
    snprintf(out, sizeof out, "%s/l31.gguf", tmp);
    gguf_file a, b;
    if (!convert(src, out) || !open_gguf(out, &a) || !open_gguf(ref, &b)) {
        CHECK_MSG(0, "%s or %s did not open", out, ref);
        return;
    }
    const herd_gguf_tensor *x = herd_gguf_find_tensor(&a.g, "rope_freqs.weight");
    const herd_gguf_tensor *y = herd_gguf_find_tensor(&b.g, "rope_freqs.weight");
    CHECK(x && y && x->type == 0 && y->type == 0 && x->ne[0] == y->ne[0] && x->ne[0] == 8);
    for (int i = 0; x && y && i < x->ne[0] && i < y->ne[0]; i++) {
        float u = ((const float *)x->data)[i], v = ((const float *)y->data)[i];
        CHECK_MSG(fabsf(u - v) <= 1e-6f * v, "rope_freqs[%d] = %g, want %g", i, (double)u,
                  (double)v);
    }
    CHECK(herd_gguf_find(&a.g, "llama.rope.scaling.type") == NULL);
    close_gguf(&a);
    close_gguf(&b);
}

static void llama3_to_hf(const char *fix)
{
    char src[600], out[256];
    snprintf(src, sizeof src, "%s/model.gguf", fix);
    snprintf(out, sizeof out, "%s/l31-hf", tmp);
    if (!convert(src, out))
        return;
    cJSON *root;
    const cJSON *rs = rope_scaling(out, &root);
    const cJSON *type = cJSON_GetObjectItem(rs, "rope_type");
    CHECK(cJSON_IsString(type) && !strcmp(type->valuestring, "llama3"));
    CHECK(num(rs, "factor") == 8 && num(rs, "low_freq_factor") == 1);
    CHECK(num(rs, "high_freq_factor") == 4);
    CHECK(num(rs, "original_max_position_embeddings") == 48);
    cJSON_Delete(root);
}

static void linear(const char *fix)
{
    char src[600], out[256], hf[256];
    snprintf(src, sizeof src, "%s/hf", fix);
    snprintf(out, sizeof out, "%s/linear.gguf", tmp);
    snprintf(hf, sizeof hf, "%s/linear-hf", tmp);
    gguf_file a;
    if (convert(src, out) && open_gguf(out, &a)) {
        herd_gguf_str type;
        double factor = 0;
        CHECK(herd_gguf_get_str(&a.g, "llama.rope.scaling.type", &type) == HERD_GGUF_FOUND &&
              herd_gguf_str_eq(type, "linear"));
        CHECK(herd_gguf_get_float(&a.g, "llama.rope.scaling.factor", &factor) ==
                  HERD_GGUF_FOUND && factor == 4);
        CHECK(herd_gguf_find_tensor(&a.g, "rope_freqs.weight") == NULL);
        close_gguf(&a);
    }
    if (!convert(out, hf))
        return;
    cJSON *root;
    const cJSON *rs = rope_scaling(hf, &root);
    const cJSON *type = cJSON_GetObjectItem(rs, "rope_type");
    CHECK(cJSON_IsString(type) && !strcmp(type->valuestring, "linear") && num(rs, "factor") == 4);
    cJSON_Delete(root);
}

/* Published configs: divisors, then back. */
static void solve(float factor, int orig)
{
    herd_config c = {.dim = 4096, .n_heads = 32, .rope_theta = 500000,
                     .rope_scaling = HERD_ROPE_SCALING_LLAMA3, .rope_factor = factor,
                     .rope_low_freq_factor = 1, .rope_high_freq_factor = 4,
                     .rope_orig_ctx = orig};
    float div[64];
    herd_llama3_rope_factors(&c, div);
    CHECK(div[0] == 1 && div[63] == factor && div[31] > 1 && div[31] < factor);
    herd_config back = c;
    back.rope_scaling = HERD_ROPE_SCALING_NONE;
    back.rope_factor = back.rope_low_freq_factor = back.rope_high_freq_factor = 0;
    back.rope_orig_ctx = 0;
    CHECK_OK(herd_llama3_scaling_from_factors(&back, div));
    CHECK(back.rope_scaling == HERD_ROPE_SCALING_LLAMA3 && back.rope_factor == factor &&
          back.rope_low_freq_factor == 1 && back.rope_high_freq_factor == 4 &&
          back.rope_orig_ctx == orig);
    for (int i = 0; i < 64; i++)
        div[i] = 1;
    CHECK_OK(herd_llama3_scaling_from_factors(&back, div));
    CHECK(back.rope_scaling == HERD_ROPE_SCALING_NONE);
    for (int i = 0; i < 64; i++)
        div[i] = 2.5f;
    CHECK_OK(herd_llama3_scaling_from_factors(&back, div));
    CHECK(back.rope_scaling == HERD_ROPE_SCALING_LINEAR && back.rope_factor == 2.5f);
    for (int i = 0; i < 64; i++)
        div[i] = 1 + i * 0.1f; /* no Llama 3.1 shape */
    CHECK_FAILS(herd_llama3_scaling_from_factors(&back, div), HERD_E_UNSUPPORTED);
}

int main(void)
{
    char fix[512];
    snprintf(tmp, sizeof tmp, "/tmp/herd-test-rope-XXXXXX");
    if (!mkdtemp(tmp))
        TEST_SKIP("no temporary folder");
    snprintf(fix, sizeof fix, "%s/tests/fixtures/models/llama31", test_source());
    llama3_to_gguf(fix);
    llama3_to_hf(fix);
    snprintf(fix, sizeof fix, "%s/tests/fixtures/models/linear", test_source());
    linear(fix);
    solve(8, 8192);   /* Llama 3.1 */
    solve(32, 8192);  /* Llama 3.2 */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    TEST_END();
}

/* llamacpp_margins.c - greedy generation from BOS over llama.cpp's API, with
 * the gap between the two largest logits at every step.
 *
 * Built by bench/greedy_llamacpp.sh against the prebuilt llama.cpp libraries
 * that shared/bench/setup-llamacpp.sh installs (and the headers of the same
 * release), as that script builds llamacpp_bench.c.
 *
 *   llamacpp_margins -m MODEL.gguf -n N [-t 2] [-fa off|on|auto] [-kv f32|f16]
 *                    [-ids FILE] [-dump FILE] [-noextra] [-tensors DIR [-tensor-step K]]
 *
 * Prints "bos=ID", then one line per step "STEP ID GAP SECOND": the chosen
 * (argmax, lowest id on ties) token, logit[ID] - logit[SECOND], and the
 * runner-up. Set PEER_LLAMACPP_BINS to the folder of the libraries (the CPU
 * backends are loaded from there at run time).
 *
 * Diagnostics: -ids FILE teacher-forces the whitespace-separated ids in FILE
 * (the first is fed at step 0, usually BOS; at most N steps) instead of
 * feeding back the argmax; -dump FILE appends every step's logits (n_vocab
 * float32) to FILE; -noextra loads the weights without extra buffer types
 * (no repacking, no AMX); -tensors DIR writes every graph tensor of step 0
 * (-tensor-step K: of step K; F32 ones) as DIR/NAME.OP.f32 raw float32, via
 * the eval callback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llama.h"
#include "ggml.h"
#include "ggml-backend.h"

static void quiet_log(enum ggml_log_level level, const char *text, void *ud)
{
    (void)ud;
    if (level >= GGML_LOG_LEVEL_WARN)
        fputs(text, stderr);
}

/* The two largest logits: *first the argmax (lowest id on ties), *second the
 * largest of the others. */
static void top2(const float *x, int n, int *first, int *second)
{
    int a = 0, b = n > 1 ? 1 : 0;
    if (n > 1 && x[1] > x[0]) {
        a = 1;
        b = 0;
    }
    for (int i = 2; i < n; i++) {
        if (x[i] > x[a]) {
            b = a;
            a = i;
        } else if (x[i] > x[b]) {
            b = i;
        }
    }
    *first = a;
    *second = b;
}

/* Eval callback for -tensors: every F32 tensor of the graph, raw. */
static const char *tensor_dir;
static int tensor_step, tensor_want;

static bool dump_tensor(struct ggml_tensor *t, bool ask, void *ud)
{
    (void)ud;
    if (ask)
        return tensor_dir && tensor_step == tensor_want;
    if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t))
        return true;
    size_t bytes = ggml_nbytes(t);
    float *buf = malloc(bytes);
    if (!buf)
        return true;
    ggml_backend_tensor_get(t, buf, 0, bytes);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s.f32", tensor_dir, t->name, ggml_op_desc(t));
    for (char *c = path + strlen(tensor_dir) + 1; *c; c++)
        if (*c == '/' || *c == ' ' || *c == '(' || *c == ')')
            *c = '_';
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, bytes, f);
        fclose(f);
    }
    fprintf(stderr, "tensor %s %s [%lld %lld %lld %lld]\n", t->name, ggml_op_desc(t),
            (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3]);
    free(buf);
    return true;
}

static int *read_ids(const char *path, int *n_out)
{
    FILE *f = fopen(path, "r");
    int cap = 256, n = 0, v;
    int *ids = f ? malloc(sizeof(int) * (size_t)cap) : NULL;
    while (ids && fscanf(f, "%d", &v) == 1) {
        if (n == cap) {
            int *more = realloc(ids, sizeof(int) * (size_t)(cap *= 2));
            if (!more) {
                free(ids);
                ids = NULL;
                break;
            }
            ids = more;
        }
        ids[n++] = v;
    }
    if (f)
        fclose(f);
    *n_out = n;
    return ids;
}

int main(int argc, char **argv)
{
    const char *ids_path = NULL, *dump_path = NULL;
    int noextra = 0;
    const char *path = NULL, *fa = "off", *kv = "f32";
    int threads = 2, n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-m") && v) path = argv[++i];
        else if (!strcmp(a, "-n") && v) n = atoi(argv[++i]);
        else if (!strcmp(a, "-t") && v) threads = atoi(argv[++i]);
        else if (!strcmp(a, "-fa") && v) fa = argv[++i];
        else if (!strcmp(a, "-kv") && v) kv = argv[++i];
        else if (!strcmp(a, "-ids") && v) ids_path = argv[++i];
        else if (!strcmp(a, "-dump") && v) dump_path = argv[++i];
        else if (!strcmp(a, "-tensors") && v) tensor_dir = argv[++i];
        else if (!strcmp(a, "-tensor-step") && v) tensor_want = atoi(argv[++i]);
        else if (!strcmp(a, "-noextra")) noextra = 1;
        else {
            fprintf(stderr, "usage: %s -m MODEL.gguf -n N [-t 2] [-fa off|on|auto] [-kv f32|f16]"
                            " [-ids FILE] [-dump FILE] [-noextra] [-tensors DIR [-tensor-step K]]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!path || n < 1) {
        fprintf(stderr, "llamacpp_margins: need -m MODEL.gguf and -n N >= 1\n");
        return 2;
    }
    llama_log_set(quiet_log, NULL);
    const char *bins = getenv("PEER_LLAMACPP_BINS");
    if (bins)
        ggml_backend_load_all_from_path(bins);
    else
        ggml_backend_load_all();
    llama_backend_init();

    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    if (noextra)
        mp.use_extra_bufts = false;
    struct llama_model *model = llama_model_load_from_file(path, mp);
    if (!model) {
        fprintf(stderr, "llamacpp_margins: failed to load %s\n", path);
        return 1;
    }
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    int n_vocab = llama_vocab_n_tokens(vocab);
    llama_token tok = llama_vocab_bos(vocab);

    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)((n + 8 + 255) / 256 * 256);
    cp.n_batch = cp.n_ubatch = 512;
    cp.n_seq_max = 1;
    cp.n_threads = cp.n_threads_batch = threads;
    cp.flash_attn_type = !strcmp(fa, "on") ? LLAMA_FLASH_ATTN_TYPE_ENABLED
                       : !strcmp(fa, "off") ? LLAMA_FLASH_ATTN_TYPE_DISABLED
                       : LLAMA_FLASH_ATTN_TYPE_AUTO;
    cp.type_k = cp.type_v = !strcmp(kv, "f16") ? GGML_TYPE_F16 : GGML_TYPE_F32;
    cp.no_perf = true;
    if (tensor_dir) {
        cp.cb_eval = dump_tensor;
        cp.cb_eval_user_data = NULL;
    }
    int n_ids = 0, *ids = NULL;
    if (ids_path) {
        ids = read_ids(ids_path, &n_ids);
        if (!ids || n_ids < 1) {
            fprintf(stderr, "llamacpp_margins: no ids in %s\n", ids_path);
            return 2;
        }
        if (n > n_ids)
            n = n_ids;
        tok = ids[0];
    }
    FILE *dump = NULL;
    if (dump_path && !(dump = fopen(dump_path, "wb"))) {
        fprintf(stderr, "llamacpp_margins: cannot write %s\n", dump_path);
        return 1;
    }
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "llamacpp_margins: failed to create a context\n");
        return 1;
    }
    printf("bos=%d\n", tok);
    for (int i = 0; i < n; i++) {
        int rc = llama_decode(ctx, llama_batch_get_one(&tok, 1));
        if (rc != 0) {
            fprintf(stderr, "llamacpp_margins: llama_decode failed: %d\n", rc);
            return 1;
        }
        tensor_step = i + 1;
        const float *logits = llama_get_logits_ith(ctx, -1);
        if (dump)
            fwrite(logits, sizeof(float), (size_t)n_vocab, dump);
        int first, second;
        top2(logits, n_vocab, &first, &second);
        printf("%d %d %.9g %d\n", i, first, (double)(logits[first] - logits[second]), second);
        tok = ids ? (i + 1 < n_ids ? ids[i + 1] : first) : first;
    }
    if (dump)
        fclose(dump);
    free(ids);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}

/* llamacpp_margins.c - greedy generation from BOS over llama.cpp's API, with
 * the gap between the two largest logits at every step.
 *
 * Built by bench/greedy_llamacpp.sh against the prebuilt llama.cpp libraries
 * that shared/bench/setup-llamacpp.sh installs (and the headers of the same
 * release), as that script builds llamacpp_bench.c.
 *
 *   llamacpp_margins -m MODEL.gguf -n N [-t 2] [-fa off|on|auto] [-kv f32|f16]
 *
 * Prints "bos=ID", then one line per step "STEP ID GAP SECOND": the chosen
 * (argmax, lowest id on ties) token, logit[ID] - logit[SECOND], and the
 * runner-up. Set PEER_LLAMACPP_BINS to the folder of the libraries (the CPU
 * backends are loaded from there at run time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llama.h"
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

int main(int argc, char **argv)
{
    const char *path = NULL, *fa = "off", *kv = "f32";
    int threads = 2, n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-m") && v) path = argv[++i];
        else if (!strcmp(a, "-n") && v) n = atoi(argv[++i]);
        else if (!strcmp(a, "-t") && v) threads = atoi(argv[++i]);
        else if (!strcmp(a, "-fa") && v) fa = argv[++i];
        else if (!strcmp(a, "-kv") && v) kv = argv[++i];
        else {
            fprintf(stderr, "usage: %s -m MODEL.gguf -n N [-t 2] [-fa off|on|auto] [-kv f32|f16]\n", argv[0]);
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
        const float *logits = llama_get_logits_ith(ctx, -1);
        int first, second;
        top2(logits, n_vocab, &first, &second);
        printf("%d %d %.9g %d\n", i, first, (double)(logits[first] - logits[second]), second);
        tok = first;
    }
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}

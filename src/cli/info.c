/* herd info: a model's or a preset's architecture and parameter count. */
#include "cli/cli.h"
#include <stdio.h>
#include <string.h>

static void info_help(FILE *f)
{
    fprintf(f,
"usage: herd info (--preset NAME | -m MODEL | --list-presets)\n"
"Prints the architecture and the parameter count.\n\n"
"  --preset NAME      a published size: llama2-7b, llama3.1-8b, llama3.2-1b, ...\n"
"  -m, --model PATH   a GGUF file, llama2.c .bin or Hugging Face folder\n"
"  --list-presets     the preset names\n"
"  -h, --help         this help\n");
}

/* 6738415616 -> "6,738,415,616" */
static void with_commas(long long v, char *out)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", v), k = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = 0;
}

static void print_config(const char *name, const herd_config *c)
{
    char params[40];
    with_commas((long long)herd_config_n_params(c), params);
    const char *kind = c->n_kv_heads == c->n_heads ? "MHA" : c->n_kv_heads == 1 ? "MQA" : "GQA";
    printf("model:         %s\n", name);
    printf("dim:           %d\n", c->dim);
    printf("hidden_dim:    %d\n", c->hidden_dim);
    printf("n_layers:      %d\n", c->n_layers);
    printf("n_heads:       %d\n", c->n_heads);
    printf("n_kv_heads:    %d (%s)\n", c->n_kv_heads, kind);
    printf("head_dim:      %d\n", c->dim / c->n_heads);
    printf("vocab_size:    %d\n", c->vocab_size);
    printf("context:       %d\n", c->seq_len);
    printf("norm_eps:      %g\n", (double)c->norm_eps);
    printf("rope_theta:    %g\n", (double)c->rope_theta);
    if (c->rope_scaling == HERD_ROPE_SCALING_LINEAR)
        printf("rope_scaling:  linear, factor %g\n", (double)c->rope_factor);
    else if (c->rope_scaling == HERD_ROPE_SCALING_LLAMA3)
        printf("rope_scaling:  llama3, factor %g, low_freq_factor %g, high_freq_factor %g, "
               "original context %d\n", (double)c->rope_factor, (double)c->rope_low_freq_factor,
               (double)c->rope_high_freq_factor, c->rope_orig_ctx);
    printf("tied:          %s\n", c->tied_embeddings ? "yes" : "no");
    printf("parameters:    %s\n", params);
}

int cli_info(int argc, char **argv)
{
    const char *preset = NULL, *model = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            info_help(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--list-presets")) {
            for (int k = 0; k < herd_preset_count(); k++)
                printf("%s\n", herd_preset_name(k));
            return 0;
        } else if (!strcmp(argv[i], "--preset")) {
            if (!(preset = cli_value(argc, argv, &i)))
                return 2;
        } else if (!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) {
            if (!(model = cli_value(argc, argv, &i)))
                return 2;
        } else {
            fprintf(stderr, "herd info: unknown option '%s' (herd info --help)\n", argv[i]);
            return 2;
        }
    }
    if (!preset == !model) {
        info_help(stderr);
        return 2;
    }
    if (preset) {
        const herd_config *c = herd_preset(preset);
        if (!c) {
            fprintf(stderr, "herd: unknown preset '%s' (herd info --list-presets)\n", preset);
            return 1;
        }
        print_config(preset, c);
        return 0;
    }
    herd_model *m;
    herd_status s = herd_model_open(model, &m);
    if (s != HERD_OK)
        return cli_fail(s, "");
    print_config(model, herd_model_config(m));
    herd_model_free(m);
    return 0;
}

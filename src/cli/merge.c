/* herd merge: LoRA adapters folded into a model, written as a new one. */
#include "cli/cli.h"
#include "formats/convert.h"
#include <stdio.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f,
"usage: herd merge -m BASE --lora ADAPTER [--lora ...] -o OUT [--type f32|f16|bf16] [-f]\n"
"Folds LoRA adapters (PEFT folders or GGUF LoRA files) into the base model's\n"
"weights, W + scale * alpha/r * B A, and writes the result as herd convert\n"
"does: OUT ending in .gguf as GGUF, else a Hugging Face folder, with the\n"
"base's tokenizer and chat template. The merged model gives the same logits as\n"
"the base with the adapters applied (herd run --lora). The base must hold\n"
"float weights (F32, F16, BF16).\n\n"
"  -m, --model BASE       the model the adapters were trained on\n"
CLI_LORA_HELP
"  -o, --output OUT       where to write the merged model\n"
"  --type T               f32 (default), f16 or bf16 for the weight matrices\n"
"  --rope-factor F        the adapters were trained past the base's context with\n"
"                         linear rope scaling F (herd finetune's rope_factor):\n"
"                         store it, and a context F times the base's, in OUT\n"
"  -f, --force            replace OUT if it exists\n"
"  -h, --help             this help\n");
}

int cli_merge(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    cli_lora lora = {0};
    float rope_factor = 0;
    herd_convert_opts co = {.type = HERD_TYPE_F32};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(in = cli_value(argc, argv, &i)))
                return 2;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(out = cli_value(argc, argv, &i)))
                return 2;
        } else if (cli_is_lora_flag(a)) {
            if (!cli_lora_flag(argc, argv, &i, &lora))
                return 2;
        } else if (!strcmp(a, "--type")) {
            if (!(v = cli_value(argc, argv, &i)))
                return 2;
            co.type = !strcmp(v, "f32") ? HERD_TYPE_F32 : !strcmp(v, "f16") ? HERD_TYPE_F16
                    : !strcmp(v, "bf16") ? HERD_TYPE_BF16 : (herd_type)-1;
            if ((int)co.type < 0) {
                fprintf(stderr, "herd merge: --type: '%s' is not f32, f16 or bf16\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--rope-factor")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_float(a, v, 1.0, 1024.0, &rope_factor))
                return 2;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            co.force = 1;
        } else {
            fprintf(stderr, "herd merge: unknown option '%s' (herd merge --help)\n", a);
            return 2;
        }
    }
    if (!in || !out || !lora.n) {
        fprintf(stderr, "herd merge: -m BASE, --lora ADAPTER and -o OUT are required\n");
        return 2;
    }
    herd_model *m;
    herd_status s = herd_model_load(in, NULL, &m);
    if (s != HERD_OK)
        return cli_fail(s, "merge");
    if (!cli_lora_apply(&lora, m)) {
        herd_model_free(m);
        return 1;
    }
    if (rope_factor > 1) {
        herd_config *c = (herd_config *)herd_model_config(m);
        c->rope_scaling = HERD_ROPE_SCALING_LINEAR;
        c->rope_factor = rope_factor;
        c->seq_len = (int)(c->seq_len * rope_factor);
    }
    s = herd_model_merge_lora(m);
    if (s == HERD_OK)
        s = herd_convert_save(m, out, &co);
    herd_model_free(m);
    if (s != HERD_OK)
        return cli_fail(s, "merge");
    fprintf(stderr, "herd merge: wrote %s (%d adapter%s merged, %s)\n", out, lora.n,
            lora.n > 1 ? "s" : "", herd_type_name(co.type));
    return 0;
}

/* herd convert: a model from any format herd reads to GGUF (for llama.cpp)
 * or to a Hugging Face folder (for transformers), weights in F32, F16 or
 * BF16, with the tokenizer and chat template. */
#include "cli/cli.h"
#include "formats/convert.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *in, *out, *tokenizer;
    herd_type type;
    int force, quiet;
    int mid_line;          /* a progress line on a terminal is open */
} convert_opts;

static void help(FILE *f)
{
    fprintf(f,
"usage: herd convert -m IN -o OUT [--type f32|f16|bf16] [-z TOKENIZER] [--force]\n"
"Writes a model in another format. IN is a GGUF file, a Hugging Face folder\n"
"or a llama2.c .bin; OUT ending in .gguf is written as GGUF v3 (llama.cpp's\n"
"llama architecture, tokenizer and chat template in the metadata, q/k rows in\n"
"Meta's order); any other OUT is written as a Hugging Face folder\n"
"(config.json, model.safetensors, tokenizer.model or tokenizer.json,\n"
"tokenizer_config.json). Norm weights are always F32.\n\n"
"  -m, --model IN         the model to convert\n"
"  -o, --output OUT       where to write it\n"
"  --type T               f32, f16 or bf16 for the weight matrices (default f32,\n"
"                         which loses nothing)\n"
"  -z, --tokenizer PATH   a tokenizer to store instead of the model's own\n"
"                         (tokenizer.model, tokenizer.bin, tokenizer.json):\n"
"                         llama2.c checkpoints carry none\n"
"  -f, --force            replace OUT if it exists (a folder only when it holds\n"
"                         a config.json)\n"
"  -q, --quiet            no progress on stderr\n"
"  -h, --help             this help\n"
"OUT is written under a temporary name and renamed when complete: a failed\n"
"conversion leaves nothing behind and never damages an existing OUT.\n");
}

static int parse_type(const char *v, herd_type *t)
{
    if (!strcmp(v, "f32") || !strcmp(v, "F32"))
        *t = HERD_TYPE_F32;
    else if (!strcmp(v, "f16") || !strcmp(v, "F16"))
        *t = HERD_TYPE_F16;
    else if (!strcmp(v, "bf16") || !strcmp(v, "BF16"))
        *t = HERD_TYPE_BF16;
    else {
        fprintf(stderr, "herd convert: --type: unknown type '%s' (f32, f16 or bf16)\n", v);
        return 0;
    }
    return 1;
}

/* Where the value of a flag that takes a path goes; NULL for other flags. */
static const char **path_flag(convert_opts *o, const char *a)
{
    if (!strcmp(a, "-m") || !strcmp(a, "--model"))
        return &o->in;
    if (!strcmp(a, "-o") || !strcmp(a, "--output"))
        return &o->out;
    if (!strcmp(a, "-z") || !strcmp(a, "--tokenizer"))
        return &o->tokenizer;
    return NULL;
}

/* 1: parsed, 0: error, -1: help printed. */
static int parse(int argc, char **argv, convert_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return -1;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            o->force = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--type")) {
            if (!(v = cli_value(argc, argv, &i)) || !parse_type(v, &o->type))
                return 0;
        } else if (path_flag(o, a)) {
            if (!(v = cli_value(argc, argv, &i)))
                return 0;
            *path_flag(o, a) = v;
        } else {
            fprintf(stderr, "herd convert: %s '%s' (herd convert --help)\n",
                    a[0] == '-' ? "unknown option" : "unexpected argument", a);
            return 0;
        }
    }
    if (!o->in || !o->out) {
        fprintf(stderr, "herd convert: %s is required (herd convert --help)\n",
                !o->in ? "-m IN" : "-o OUT");
        return 0;
    }
    return 1;
}

static void progress(void *user, int i, int n, const char *name)
{
    convert_opts *o = user;
    if (o->quiet)
        return;
    if (isatty(2))
        fprintf(stderr, "\r\033[Kherd convert: tensor %d/%d %s", i + 1, n, name);
    else
        fprintf(stderr, "herd convert: tensor %d/%d %s\n", i + 1, n, name);
    o->mid_line = isatty(2) && i + 1 < n;
    if (isatty(2) && i + 1 == n)
        fputc('\n', stderr);
}

static void warn(void *user, const char *msg)
{
    convert_opts *o = user;
    if (o->mid_line)
        fputc('\n', stderr);
    o->mid_line = 0;
    fprintf(stderr, "herd convert: warning: %s\n", msg);
}

int cli_convert(int argc, char **argv)
{
    convert_opts o = {.type = HERD_TYPE_F32};
    int r = parse(argc, argv, &o);
    if (r <= 0)
        return r < 0 ? 0 : 2;
    herd_model *m;
    herd_status s = herd_model_load(o.in, o.tokenizer, &m);
    if (s != HERD_OK)
        return cli_fail(s, "");
    herd_convert_opts co = {.type = o.type, .force = o.force, .progress = progress,
                            .warn = warn, .user = &o};
    s = herd_convert_save(m, o.out, &co);
    herd_model_free(m);
    if (o.mid_line)
        fputc('\n', stderr);
    if (s != HERD_OK)
        return cli_fail(s, "");
    if (!o.quiet)
        fprintf(stderr, "herd convert: wrote %s (%s)\n", o.out, herd_type_name(o.type));
    return 0;
}

/* herd run: generate text from a prompt. */
#include "cli/cli.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *model, *tokenizer, *prompt;
    int n_predict, n_ctx, threads, print_ids;
    herd_sampler_params sp;
    int seed_given;
    cli_lora lora;
} run_opts;

static void run_help(FILE *f)
{
    fprintf(f,
"usage: herd run [-m MODEL] [-z TOKENIZER] [-p PROMPT] [-n N] [options]\n"
"Generates text from PROMPT, streaming it as it comes, then prints prompt and\n"
"generation speed in tokens/s to stderr.\n\n"
"  -m, --model PATH       GGUF file, llama2.c .bin, or Hugging Face folder\n"
"                         (default: herd's own model, models/herd-kjv.gguf)\n"
"  -z, --tokenizer PATH   tokenizer.model (SentencePiece) or llama2.c tokenizer.bin\n"
"                         (default: the one the model carries)\n"
"  -p, --prompt TEXT      the prompt (default: empty, start from BOS)\n"
"  -n, --n-predict N      tokens to generate (default 256)\n"
"  -c, --ctx-size N       context size (default: the model's, at most 8192)\n"
"  -t, --threads N        threads (default: all cores)\n"
"  --no-mmap              read the weights into memory instead of mapping the file\n"
"  --ids                  print the generated token ids instead of text\n"
CLI_LORA_HELP
"  -h, --help             this help\n%s", CLI_SAMPLING_HELP);
}

/* 1: parsed, 0: error, -1: help printed. */
static int parse(int argc, char **argv, run_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            run_help(stdout);
            return -1;
        } else if (!strcmp(a, "--ids")) {
            o->print_ids = 1;
        } else if (!strcmp(a, "--no-mmap")) {
            herd_set_mmap(0);
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(o->model = cli_value(argc, argv, &i)))
                return 0;
        } else if (!strcmp(a, "-z") || !strcmp(a, "--tokenizer")) {
            if (!(o->tokenizer = cli_value(argc, argv, &i)))
                return 0;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!(o->prompt = cli_value(argc, argv, &i)))
                return 0;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_int(a, v, 0, INT_MAX, &o->n_predict))
                return 0;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_int(a, v, 1, 1 << 24, &o->n_ctx))
                return 0;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_int(a, v, 1, 1024, &o->threads))
                return 0;
        } else if (cli_is_lora_flag(a)) {
            if (!cli_lora_flag(argc, argv, &i, &o->lora))
                return 0;
        } else if (cli_is_sampling_flag(a)) {
            if (!cli_sampling_flag(argc, argv, &i, &o->sp, &o->seed_given))
                return 0;
        } else {
            fprintf(stderr, "herd run: unknown option '%s' (herd run --help)\n", a);
            return 0;
        }
    }
    return 1;
}

typedef struct {
    const herd_tokenizer *tok;
    int prev, print_ids;
} printer;

static int print_token(void *user, int id)
{
    printer *p = user;
    if (p->print_ids) {
        printf("%s%d", p->prev >= 0 ? " " : "", id);
    } else {
        char buf[512];
        int n = herd_token_to_bytes(p->tok, p->prev, id, buf);
        if (n > 0)
            fwrite(buf, 1, (size_t)n, stdout);
    }
    fflush(stdout);
    p->prev = id;
    return 0;
}

static int tokenize_prompt(const herd_tokenizer *tok, const char *prompt,
                           int **ids, int *n)
{
    size_t len = strlen(prompt);
    int cap = (int)len + 8;
    *ids = malloc((size_t)cap * sizeof **ids);
    if (!*ids)
        return cli_fail(HERD_E_NOMEM, "prompt");
    herd_status s = herd_tokenize(tok, prompt, len, 1, 0, *ids, cap, n);
    if (s != HERD_OK)
        return cli_fail(s, "tokenizing the prompt");
    return 0;
}

static int generate(const run_opts *o, herd_model *m, const herd_tokenizer *tok,
                    const int *ids, int n_ids)
{
    const herd_config *c = herd_model_config(m);
    int n_ctx = o->n_ctx ? o->n_ctx : (c->seq_len < 8192 ? c->seq_len : 8192);
    if (n_ids > n_ctx) {
        fprintf(stderr, "herd: the prompt is %d tokens, longer than the context of %d "
                "(-c to change it)\n", n_ids, n_ctx);
        return 1;
    }
    herd_context *ctx;
    herd_sampler *smp;
    herd_status s = herd_context_new(m, n_ctx, &ctx);
    if (s != HERD_OK)
        return cli_fail(s, "context");
    if ((s = herd_sampler_new(&o->sp, c->vocab_size, &smp)) != HERD_OK) {
        herd_context_free(ctx);
        return cli_fail(s, "sampler");
    }
    printer pr = {tok, o->print_ids ? -1 : ids[n_ids - 1], o->print_ids};
    herd_gen_stats st;
    int eos = tok ? herd_tokenizer_eos(tok) : 2;
    s = herd_generate(ctx, smp, ids, n_ids, o->n_predict, eos, print_token, &pr, &st);
    printf("\n");
    herd_sampler_free(smp);
    herd_context_free(ctx);
    if (s != HERD_OK)
        return cli_fail(s, "generation");
    fprintf(stderr, "prompt: %d tokens, %.1f tok/s; generation: %d tokens, %.1f tok/s\n",
            st.n_prompt, st.prompt_s > 0 ? st.n_prompt / st.prompt_s : 0.0, st.n_gen,
            st.gen_s > 0 ? st.n_gen / st.gen_s : 0.0);
    return 0;
}

int cli_run(int argc, char **argv)
{
    run_opts o = {.n_predict = 256, .sp = herd_sampler_defaults()};
    int r = parse(argc, argv, &o);
    if (r <= 0)
        return r < 0 ? 0 : 2;
    if (!o.seed_given)
        o.sp.seed = (unsigned long long)time(NULL);
    char buf[4096];
    if (!o.model) {
        o.model = cli_default_model(buf, sizeof buf);
        fprintf(stderr, "herd: no -m given: running %s (herd's own model, trained on the King James Bible)\n",
                o.model);
    }
    herd_set_threads(o.threads ? o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN));
    herd_model *m;
    herd_status s = herd_model_open_ex(o.model, o.tokenizer, &m);
    if (s != HERD_OK)
        return cli_fail(s, "");
    if (!cli_lora_apply(&o.lora, m)) {
        herd_model_free(m);
        return 1;
    }
    const herd_tokenizer *tok = herd_model_tokenizer(m);
    int rc = 1, n_ids = 0, bos_only = 1, *ids = NULL;
    if (!tok && ((o.prompt && *o.prompt) || !o.print_ids)) {
        fprintf(stderr, "herd: %s carries no tokenizer: give one with -z, or use --ids "
                "with an empty prompt\n", o.model);
        goto out;
    }
    if (tok && tokenize_prompt(tok, o.prompt ? o.prompt : "", &ids, &n_ids))
        goto out;
    if (!tok)
        ids = &bos_only;
    n_ids = tok ? n_ids : 1;
    if (!o.print_ids && o.prompt)
        fputs(o.prompt, stdout);
    rc = generate(&o, m, tok, ids, n_ids);
out:
    if (ids != &bos_only)
        free(ids);
    herd_model_free(m);
    return rc;
}

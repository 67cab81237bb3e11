/* herd bench: prompt-processing and generation speed, as llama.cpp's
 * llama-bench measures them: one batch of P prompt tokens, then N
 * single-token steps after it, each with a greedy argmax; R repetitions,
 * per-rep figures and medians. */
#include "cli/cli.h"
#include "base/error.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *model;
    int n_prompt, n_gen, reps, threads, json;
} bench_opts;

static void bench_help(FILE *f)
{
    fprintf(f,
"usage: herd bench -m MODEL [-p P] [-n N] [-r R] [-t THREADS] [--json]\n"
"Times one batch of P prompt tokens (pp) and N single-token steps after it,\n"
"each with a greedy argmax (tg), R times; prints tokens/s per rep, then the\n"
"medians as pp_tok_s=X and tg_tok_s=Y (as ../shared/bench/llamacpp_bench does).\n"
"Token ids are fixed pseudo-random ones, so no tokenizer is needed. Peak\n"
"resident memory (weights mapped and touched, KV cache, scratch) comes last,\n"
"then how much of the weights sits in 2 MiB pages (HERD_HUGEPAGES=off: no\n"
"2 MiB alignment, advice or re-reading).\n\n"
"  -m, --model PATH     GGUF file, llama2.c .bin, or Hugging Face folder\n"
"  -p, --n-prompt P     prompt tokens (default 128)\n"
"  -n, --n-gen N        generated tokens (default 128)\n"
"  -r, --repetitions R  repetitions (default 3)\n"
"  -t, --threads N      threads (default: all cores)\n"
"  --no-mmap            read the weights into memory instead of mapping the file\n"
"  --json               print one JSON object instead (medians, reps, peak memory)\n"
"  -h, --help           this help\n");
}

/* 1: parsed, 0: error, -1: help printed. */
static int parse(int argc, char **argv, bench_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            bench_help(stdout);
            return -1;
        }
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (!strcmp(a, "--no-mmap")) {
            herd_set_mmap(0);
            continue;
        }
        if (a[0] != '-' || !(v = cli_value(argc, argv, &i))) {
            if (a[0] != '-')
                fprintf(stderr, "herd bench: unexpected argument '%s'\n", a);
            return 0;
        }
        int ok;
        if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            o->model = v, ok = 1;
        else if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt"))
            ok = cli_int(a, v, 1, 1 << 20, &o->n_prompt);
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen"))
            ok = cli_int(a, v, 0, 1 << 20, &o->n_gen);
        else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions"))
            ok = cli_int(a, v, 1, 1000, &o->reps);
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads"))
            ok = cli_int(a, v, 1, 4096, &o->threads);
        else {
            fprintf(stderr, "herd bench: unknown option '%s' (see herd bench --help)\n", a);
            return 0;
        }
        if (!ok)
            return 0;
    }
    if (!o->model) {
        fprintf(stderr, "herd bench: -m MODEL is required\n");
        return 0;
    }
    return 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int argmax(const float *x, int n)
{
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b])
            b = i;
    return b;
}

/* One repetition: fills pp and tg with tokens/s. */
static herd_status one_rep(herd_context *ctx, const bench_opts *o, int vocab, float *logits,
                           double *pp, double *tg)
{
    int *toks = malloc(sizeof(int) * (size_t)o->n_prompt);
    if (!toks)
        return HERD_E_NOMEM;
    for (int i = 0; i < o->n_prompt; i++)
        toks[i] = (int)((i * 2654435761u + 12345u) % (unsigned)vocab);
    herd_context_reset(ctx);
    double t0 = now();
    herd_status s = herd_eval(ctx, toks, NULL, o->n_prompt, logits, 0);
    double t1 = now();
    int next = argmax(logits, vocab);
    for (int i = 0; s == HERD_OK && i < o->n_gen; i++) {
        s = herd_eval(ctx, &next, NULL, 1, logits, 0);
        next = argmax(logits, vocab);
    }
    double t2 = now();
    free(toks);
    *pp = o->n_prompt / (t1 - t0);
    *tg = o->n_gen ? o->n_gen / (t2 - t1) : 0;
    return s;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The "KEY: N kB" line of a /proc file, in MiB; -1 when unknown. */
static double proc_mib(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[256];
    size_t k = strlen(key);
    double kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, k) && line[k] == ':' && sscanf(line + k + 1, "%lf", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb < 0 ? -1 : kb / 1024;
}

static void report(const bench_opts *o, const herd_config *c, double *pp, double *tg)
{
    double mpp = median(pp, o->reps), mtg = median(tg, o->reps);
    /* Peak resident memory, and how much of the weights a decoding step
     * reads through 2 MiB TLB entries: the mapped files', or the copy's
     * (--no-mmap; herd's other memory is not advised into 2 MiB pages). */
    double rss = proc_mib("/proc/self/status", "VmHWM");
    double huge = proc_mib("/proc/self/smaps_rollup", "FilePmdMapped") +
                  proc_mib("/proc/self/smaps_rollup", "AnonHugePages");
    if (!o->json) {
        printf("pp_tok_s=%.2f\ntg_tok_s=%.2f\npeak_rss_mib=%.1f\nhuge_mapped_mib=%.1f\n", mpp,
               mtg, rss, huge);
        return;
    }
    printf("{\"model\": \"");
    for (const char *p = o->model; *p; p++)
        printf(*p == '"' || *p == '\\' ? "\\%c" : (unsigned char)*p < 0x20 ? "?" : "%c", *p);
    printf("\", \"n_params\": %lld, \"threads\": %d, \"n_prompt\": %d, \"n_gen\": %d, "
           "\"reps\": %d, \"pp_tok_s\": %.2f, \"tg_tok_s\": %.2f, \"pp_reps\": [",
           (long long)herd_config_n_params(c), o->threads, o->n_prompt, o->n_gen, o->reps,
           mpp, mtg);
    for (int r = 0; r < o->reps; r++)
        printf("%s%.2f", r ? ", " : "", pp[r]);
    printf("], \"tg_reps\": [");
    for (int r = 0; r < o->reps; r++)
        printf("%s%.2f", r ? ", " : "", tg[r]);
    printf("], \"peak_rss_mib\": %.1f, \"huge_mapped_mib\": %.1f}\n", rss, huge);
}

static int bench(herd_model *m, const bench_opts *o)
{
    int vocab = herd_model_config(m)->vocab_size;
    herd_context *ctx;
    herd_status s = herd_context_new(m, o->n_prompt + o->n_gen, &ctx);
    if (s != HERD_OK)
        return cli_fail(s, "");
    float *logits = malloc(sizeof(float) * (size_t)vocab);
    double *pp = calloc((size_t)o->reps, sizeof *pp), *tg = calloc((size_t)o->reps, sizeof *tg);
    if (!logits || !pp || !tg)
        s = herd_fail(HERD_E_NOMEM, "out of memory");
    double warm_pp, warm_tg; /* a first, untimed pass pages the weights in */
    if (s == HERD_OK)
        s = one_rep(ctx, o, vocab, logits, &warm_pp, &warm_tg);
    for (int r = 0; s == HERD_OK && r < o->reps; r++) {
        s = one_rep(ctx, o, vocab, logits, &pp[r], &tg[r]);
        if (!o->json)
            printf("rep %d: pp_tok_s %.2f tg_tok_s %.2f\n", r, pp[r], tg[r]);
    }
    int rc = s != HERD_OK ? cli_fail(s, "") : 0;
    if (!rc)
        report(o, herd_model_config(m), pp, tg);
    free(pp);
    free(tg);
    free(logits);
    herd_context_free(ctx);
    return rc;
}

int cli_bench(int argc, char **argv)
{
    bench_opts o = {NULL, 128, 128, 3, 0, 0};
    int p = parse(argc, argv, &o);
    if (p <= 0)
        return p < 0 ? 0 : 2;
    if (!o.threads)
        o.threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    herd_set_threads(o.threads);
    herd_model *m;
    herd_status s = herd_model_open(o.model, &m);
    if (s != HERD_OK)
        return cli_fail(s, "");
    int rc = bench(m, &o);
    herd_model_free(m);
    return rc;
}

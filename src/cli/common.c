/* What several subcommands share: the sampling flags and the model herd
 * ships. */
#include "cli/cli.h"
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *sampling_flags[] = {"--temp", "--top-k", "--top-p", "--min-p",
                                       "--repeat-penalty", "--repeat-last-n", "--seed"};

int cli_is_sampling_flag(const char *a)
{
    for (size_t i = 0; i < sizeof sampling_flags / sizeof *sampling_flags; i++)
        if (!strcmp(a, sampling_flags[i]))
            return 1;
    return 0;
}

int cli_sampling_flag(int argc, char **argv, int *i, herd_sampler_params *sp, int *seed_given)
{
    const char *a = argv[*i], *v = cli_value(argc, argv, i);
    if (!v)
        return 0;
    if (!strcmp(a, "--temp"))
        return cli_float(a, v, 0, 1e6, &sp->temp);
    if (!strcmp(a, "--top-k"))
        return cli_int(a, v, 0, INT_MAX, &sp->top_k);
    if (!strcmp(a, "--top-p"))
        return cli_float(a, v, 0, 1, &sp->top_p);
    if (!strcmp(a, "--min-p"))
        return cli_float(a, v, 0, 1, &sp->min_p);
    if (!strcmp(a, "--repeat-penalty"))
        return cli_float(a, v, 1e-6, 1e6, &sp->repeat_penalty);
    if (!strcmp(a, "--repeat-last-n"))
        return cli_int(a, v, 0, INT_MAX, &sp->repeat_last_n);
    unsigned long long seed;
    if (!cli_u64(a, v, &seed))
        return 0;
    sp->seed = seed;
    *seed_given = 1;
    return 1;
}

const char *cli_default_model(char *buf, size_t n)
{
    ssize_t k = readlink("/proc/self/exe", buf, n - 32);
    if (k > 0) {
        buf[k] = 0;
        char *slash = strrchr(buf, '/');
        if (slash) {
            strcpy(slash, "/models/herd-kjv.gguf");
            if (access(buf, R_OK) == 0)
                return buf;
        }
    }
    return HERD_DEFAULT_MODEL;
}

int cli_is_lora_flag(const char *a)
{
    return !strcmp(a, "--lora") || !strcmp(a, "--lora-scaled");
}

int cli_lora_flag(int argc, char **argv, int *i, cli_lora *l)
{
    const char *a = argv[*i], *path = cli_value(argc, argv, i);
    if (!path)
        return 0;
    float scale = 1.0f;
    if (!strcmp(a, "--lora-scaled")) {
        const char *v = cli_value(argc, argv, i);
        if (!v || !cli_float(a, v, -1000, 1000, &scale))
            return 0;
    }
    if (l->n == 8) {
        fprintf(stderr, "herd: at most 8 adapters\n");
        return 0;
    }
    l->path[l->n] = path;
    l->scale[l->n++] = scale;
    return 1;
}

int cli_lora_apply(const cli_lora *l, herd_model *m)
{
    for (int k = 0; k < l->n; k++)
        if (herd_model_add_lora(m, l->path[k], l->scale[k]) != HERD_OK) {
            fprintf(stderr, "herd: --lora: %s\n", herd_last_error());
            return 0;
        }
    return 1;
}

int cli_trainer_args(int argc, char **argv, const char *cmd, void (*help)(FILE *),
                     const char **config, int *threads, int *quiet)
{
    const char *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return -1;
        } else if (!strcmp(a, "--config")) {
            if (!(*config = cli_value(argc, argv, &i)))
                return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_int(a, v, 1, 1024, threads))
                return 2;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            *quiet = 1;
        } else {
            fprintf(stderr, "herd %s: unknown option '%s'\n", cmd, a);
            help(stderr);
            return 2;
        }
    }
    if (!*config) {
        fprintf(stderr, "herd %s: --config FILE is required\n", cmd);
        return 2;
    }
    return 0;
}

static volatile int stop_requested;
static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

volatile int *cli_catch_stop(void)
{
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
    signal(SIGXFSZ, SIG_IGN);   /* a file-size limit fails the write, not the run */
    return &stop_requested;
}

/* herd rejection-sample: Llama 2's rejection sampling (src/train/rejection.h):
 * K responses per prompt from a policy, scored by a reward model, the best
 * written as SFT JSONL that herd finetune trains on. */
#include "cli/cli.h"
#include "cli/progress.h"
#include "train/rejection.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CMD "herd rejection-sample"

typedef struct {
    const char *model, *reward, *file, *out, *samples, *tpl;
    int k, n_predict, n_ctx, threads, quiet, seed_given;
    herd_sampler_params sp;
} rs_opts;

static void help(FILE *f)
{
    fprintf(f,
"usage: herd rejection-sample -m POLICY --reward RM.gguf [-f PROMPTS.jsonl]\n"
"                             [-o OUT.jsonl] [-k K] [options]\n"
"Rejection sampling (Llama 2, section 3.2.3): for each prompt, draws K responses\n"
"from the policy, scores each with the reward model (prompt + response rendered\n"
"with the reward model's tokenizer and the template it was trained with) and\n"
"writes the best as SFT data for herd finetune.\n\n"
"Input, one prompt a line (blank lines skipped):\n"
"  {\"prompt\": TEXT}\n"
"  {\"messages\": [{\"role\": \"system\"|\"user\"|\"assistant\", \"content\": TEXT}, ...]}\n"
"     (ending with a user message)\n"
"Output, one line per prompt: the input object with the best response added,\n"
"\"completion\": BEST or {\"role\": \"assistant\", \"content\": BEST} appended to\n"
"\"messages\", plus \"reward\" (the best's) and \"mean_reward\" (the K's mean).\n"
"The policy sees the prompt as herd finetune renders it (chat template, or plain:\n"
"the text after BOS, \"User: ...\\nAssistant:\" for messages); a response ends at\n"
"EOS or the template's end of turn, or after -n tokens. The models meet as text:\n"
"the policy's tokens are decoded (bytes that are not valid UTF-8 become U+FFFD)\n"
"and re-tokenized by the reward model, so their tokenizers may differ; both must\n"
"carry one. A summary on stderr compares the mean reward of all samples with the\n"
"mean of the best.\n\n"
"  -m, --model PATH       the policy (GGUF, llama2.c .bin or Hugging Face folder)\n"
"  --reward PATH          the reward model (herd reward-train's reward.gguf)\n"
"  -f, --file PATH        the prompts (default: stdin)\n"
"  -o, --output PATH      the best responses (default: stdout; a file is written\n"
"                         as PATH.tmp and renamed when complete)\n"
"  --samples PATH         also write every sample as herd reward-score input:\n"
"                         {\"prompt\", \"response\", \"reward\"}\n"
"  -k N                   samples per prompt (default 4)\n"
"  -n, --n-predict N      most tokens in a response (default 256)\n"
"  -c, --ctx-size N       the policy's context (default: its own, at most 4096)\n"
"  --chat-template NAME   auto (the policy's; none for a base model), none, llama2\n"
"                         or llama3 (default auto)\n"
"  -t, --threads N        threads (default: all cores)\n"
"  -q, --quiet            no progress bar\n"
"  -h, --help             this help\n"
"Sampling (as herd run, but --temp defaults to 1.0; prompt i uses seed S + i):\n%s",
            CLI_SAMPLING_HELP);
}

/* 1: parsed, 0: error, -1: help printed. */
static int parse_flag(int argc, char **argv, int *i, rs_opts *o)
{
    const char *a = argv[*i], *v;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
        help(stdout);
        return -1;
    }
    const char **str = !strcmp(a, "-m") || !strcmp(a, "--model") ? &o->model
                     : !strcmp(a, "--reward") ? &o->reward
                     : !strcmp(a, "-f") || !strcmp(a, "--file") ? &o->file
                     : !strcmp(a, "-o") || !strcmp(a, "--output") ? &o->out
                     : !strcmp(a, "--samples") ? &o->samples
                     : !strcmp(a, "--chat-template") ? &o->tpl : NULL;
    if (str)
        return (*str = cli_value(argc, argv, i)) != NULL;
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
        return o->quiet = 1;
    int *num = !strcmp(a, "-k") ? &o->k
             : !strcmp(a, "-n") || !strcmp(a, "--n-predict") ? &o->n_predict
             : !strcmp(a, "-c") || !strcmp(a, "--ctx-size") ? &o->n_ctx
             : !strcmp(a, "-t") || !strcmp(a, "--threads") ? &o->threads : NULL;
    if (num) {
        long hi = num == &o->k ? 4096 : num == &o->threads ? 1024 : INT_MAX;
        return (v = cli_value(argc, argv, i)) && cli_int(a, v, 1, hi, num);
    }
    if (cli_is_sampling_flag(a))
        return cli_sampling_flag(argc, argv, i, &o->sp, &o->seed_given);
    fprintf(stderr, CMD ": unknown option '%s' (" CMD " --help)\n", a);
    return 0;
}

/* 1: ready, 0: error printed, -1: help printed. */
static int parse(int argc, char **argv, rs_opts *o)
{
    for (int i = 1; i < argc; i++) {
        int r = parse_flag(argc, argv, &i, o);
        if (r <= 0)
            return r;
    }
    herd_chat_template t;
    if (o->tpl && strcmp(o->tpl, "auto") && strcmp(o->tpl, "none") &&
        herd_chat_template_parse(o->tpl, &t) != HERD_OK) {
        fprintf(stderr, CMD ": --chat-template must be auto, none, llama2 or llama3\n");
        return 0;
    }
    if (!o->model || !o->reward) {
        fprintf(stderr, CMD ": %s is required (" CMD " --help)\n",
                !o->model ? "-m POLICY" : "--reward RM.gguf");
        return 0;
    }
    return 1;
}

static herd_chat_template pick_template(const rs_opts *o, herd_model *m)
{
    herd_chat_template t = HERD_CHAT_NONE;
    if (!o->tpl || !strcmp(o->tpl, "auto")) {
        const char *jinja = herd_model_chat_template(m);
        return jinja ? herd_chat_template_detect(jinja, herd_model_tokenizer(m)) : t;
    }
    if (strcmp(o->tpl, "none"))
        herd_chat_template_parse(o->tpl, &t);
    return t;
}

static const char *tpl_name(herd_chat_template t)
{
    return t == HERD_CHAT_NONE ? "none" : herd_chat_template_name(t);
}

/* ---- the run ---- */

typedef struct {
    const rs_opts *o;
    herd_rejection *rj;
    FILE *in, *out, *samples;
    const char *name;
    long long prompts, lines;
    double sum_mean, sum_best;
} run;

/* Non-blank lines of a regular file (the bar's total), 0 if unknown. */
static double count_lines(const char *path)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    double n = 0;
    while ((len = getline(&line, &cap, f)) >= 0)
        n += strspn(line, " \t\r\n") != (size_t)len;
    free(line);
    fclose(f);
    return n;
}

static int put_line(FILE *f, char *s)
{
    int ok = fputs(s, f) >= 0 && fputc('\n', f) != EOF;
    free(s);
    return ok;
}

/* One prompt line; 0 on success, else an error printed. */
static int one_line(run *r, herd_rejection_line *l, const char *text, size_t len)
{
    herd_rejection_result res;
    char *s = NULL;
    herd_status st = herd_rejection_parse(l, text, len);
    uint64_t seed = r->o->sp.seed + (uint64_t)r->prompts;
    if (st == HERD_OK && (st = herd_rejection_sample(r->rj, &l->p, seed, &res)) == HERD_OK) {
        st = herd_rejection_format(l, &res, &s);
        if (st == HERD_OK && !put_line(r->out, s))
            st = HERD_E_IO;
        for (int j = 0; st == HERD_OK && r->samples && j < res.k; j++)
            if ((st = herd_rejection_format_sample(l, &res, j, &s)) == HERD_OK &&
                !put_line(r->samples, s))
                st = HERD_E_IO;
        r->sum_mean += res.mean;
        r->sum_best += res.reward[res.best];
        herd_rejection_result_free(&res);
    }
    if (st == HERD_E_IO) {
        fprintf(stderr, CMD ": writing the output: %s\n", strerror(errno));
        return 1;
    }
    if (st != HERD_OK) {
        fprintf(stderr, CMD ": %s:%lld: %s\n", r->name, r->lines, herd_last_error());
        return 1;
    }
    r->prompts++;
    return 0;
}

static int run_file(run *r)
{
    herd_rejection_line l = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    cli_progress bar;
    progress_start(&bar, "rejection-sample", "prompts", count_lines(r->o->file), 1,
                   r->o->quiet);
    while (!rc && (len = getline(&line, &cap, r->in)) >= 0) {
        r->lines++;
        if (strspn(line, " \t\r\n") == (size_t)len)
            continue;
        rc = one_line(r, &l, line, (size_t)len);
        progress_update(&bar, (double)r->prompts);
    }
    if (!rc && ferror(r->in)) {
        fprintf(stderr, CMD ": %s: read error: %s\n", r->name, strerror(errno));
        rc = 1;
    }
    if (!rc)
        progress_done(&bar, (double)r->prompts);
    free(line);
    herd_rejection_line_free(&l);
    return rc;
}

static void summary(const run *r)
{
    if (!r->prompts) {
        fprintf(stderr, CMD ": no prompts\n");
        return;
    }
    double all = r->sum_mean / r->prompts, best = r->sum_best / r->prompts;
    fprintf(stderr, CMD ": %lld prompts, K=%d: mean reward of all samples %.4f, of the best "
            "%.4f (rise %+.4f)\n", r->prompts, r->o->k, all, best, best - all);
}

/* ---- files ---- */

/* Opens path (NULL or "-": stdout) as PATH.tmp into *f and its name into tmp. */
static int open_out(const char *path, char *tmp, size_t n, FILE **f)
{
    tmp[0] = 0;
    if (!path || !strcmp(path, "-")) {
        *f = stdout;
        return 1;
    }
    if (snprintf(tmp, n, "%s.tmp", path) >= (int)n || !(*f = fopen(tmp, "wb"))) {
        fprintf(stderr, CMD ": %s.tmp: %s\n", path, strerror(errno));
        tmp[0] = 0;
        return 0;
    }
    return 1;
}

/* Closes f; renames its tmp over path when ok, else removes it. */
static int close_out(FILE *f, const char *tmp, const char *path, int ok)
{
    if (f == stdout)
        return fflush(f) == 0 && ok;
    if (!f)
        return ok;
    ok = fclose(f) == 0 && ok;
    if (ok && rename(tmp, path) != 0) {
        fprintf(stderr, CMD ": %s: %s\n", path, strerror(errno));
        ok = 0;
    }
    if (!ok)
        remove(tmp);
    return ok;
}

static int with_models(const rs_opts *o, herd_model *m, herd_reward_model *rm)
{
    herd_rejection_opts ro = {.k = o->k, .n_predict = o->n_predict, .n_ctx = o->n_ctx,
                              .tpl = pick_template(o, m), .sp = o->sp};
    herd_rejection *rj;
    if (herd_rejection_new(m, rm, &ro, &rj) != HERD_OK) {
        fprintf(stderr, CMD ": %s\n", herd_last_error());
        return 1;
    }
    if (!o->quiet)
        fprintf(stderr, CMD ": policy template %s, reward model's %s, K=%d, seed %llu\n",
                tpl_name(ro.tpl), tpl_name(herd_reward_template(rm)), o->k,
                (unsigned long long)o->sp.seed);
    run r = {.o = o, .rj = rj, .name = o->file ? o->file : "stdin"};
    char tmp[4096], stmp[4096];
    int ok = 0;
    r.in = o->file && strcmp(o->file, "-") ? fopen(o->file, "rb") : stdin;
    if (!r.in)
        fprintf(stderr, CMD ": %s: %s\n", o->file, strerror(errno));
    else if (open_out(o->out, tmp, sizeof tmp, &r.out) &&
             (!o->samples || open_out(o->samples, stmp, sizeof stmp, &r.samples)))
        ok = !run_file(&r);
    ok = close_out(r.out, tmp, o->out, ok);
    ok = close_out(r.samples, stmp, o->samples, ok);
    if (ok)
        summary(&r);
    if (r.in && r.in != stdin)
        fclose(r.in);
    herd_rejection_free(rj);
    return ok ? 0 : 1;
}

int cli_rejection_sample(int argc, char **argv)
{
    rs_opts o = {.k = 4, .n_predict = 256, .sp = herd_sampler_defaults()};
    o.sp.temp = 1.0f;
    int r = parse(argc, argv, &o);
    if (r <= 0)
        return r < 0 ? 0 : 2;
    if (!o.seed_given)
        o.sp.seed = (unsigned long long)time(NULL);
    herd_set_threads(o.threads ? o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN));
    herd_model *m;
    herd_reward_model *rm;
    if (herd_model_open(o.model, &m) != HERD_OK) {
        fprintf(stderr, CMD ": %s\n", herd_last_error());
        return 1;
    }
    if (herd_reward_open(o.reward, &rm) != HERD_OK) {
        fprintf(stderr, CMD ": %s\n", herd_last_error());
        herd_model_free(m);
        return 1;
    }
    int rc = with_models(&o, m, rm);
    herd_reward_free(rm);
    herd_model_free(m);
    return rc;
}

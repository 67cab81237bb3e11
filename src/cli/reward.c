/* herd reward-train and herd reward-score: training a reward model on
 * preference pairs from a JSON config (src/train/reward.h), and scoring
 * JSONL responses or pairs with one. */
#include "cli/cli.h"
#include "cli/progress.h"
#include "train/reward.h"
#include "base/error.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void train_help(FILE *f)
{
    fprintf(f,
"usage: herd reward-train --config FILE [-t N] [-q]\n"
"Trains a reward model (Llama 2, section 3.2.2) on preference pairs: the model\n"
"in \"init\" (every weight trained) with a scalar head on the final hidden state\n"
"of each sequence's last token, r = w . h + b (w and b start at 0), and the\n"
"ranking loss -log sigmoid(r_chosen - r_rejected - margin). AdamW on backbone\n"
"and head, linear warmup then cosine decay to min_lr_ratio x lr, clipping by\n"
"the global gradient norm. Prints step, loss, batch accuracy, held-out loss\n"
"and accuracy (r_chosen > r_rejected) every eval_every steps and at the end,\n"
"tokens/s and ETA; writes OUT/loss.csv and OUT/reward.gguf (the backbone plus\n"
"cls.output.weight/bias: herd reward-score reads it, herd run takes it as the\n"
"plain model).\n\n"
"Data: JSONL, one pair a line: {\"prompt\": TEXT or [{\"role\", \"content\"}...],\n"
"\"chosen\": TEXT, \"rejected\": TEXT} and optionally \"margin\": NUMBER >= 0 or\n"
"\"strength\": Llama 2's label, whose margin is (Table 28, margin small)\n"
"\"significantly better\" 1, \"better\" 2/3, \"slightly better\" 1/3,\n"
"\"negligibly better\" (or \"unsure\") 0. Rendered with the chat template\n"
"(prompt as user message, response as assistant message) or, for base models,\n"
"plain: \"{prompt}{response}\" EOS.\n\n"
"  --config FILE    the run's JSON config (below)\n"
"  -t, --threads N  threads (overrides the config)\n"
"  -q, --quiet      only evaluations and the summary\n"
"  -h, --help       this help\n"
"Ctrl-C evaluates, saves and stops.\n\n"
"Config keys (defaults in brackets):\n"
"  init             the model to start from (required)\n"
"  tokenizer        a tokenizer file in place of the model's\n"
"  train_data       preference JSONL (required)\n"
"  val_data         held-out preference JSONL: loss and accuracy\n"
"  out_dir [out]    chat_template [auto: the model's, none for a base model;\n"
"                   none; llama2; llama3], batch_size [8 pairs], seq_len [the\n"
"                   model's context: longer pairs are dropped and counted],\n"
"  steps [1000], warmup [3%% of steps], lr [1e-5], min_lr_ratio [0.1],\n"
"  weight_decay [0.1], beta1 [0.9], beta2 [0.95], eps [1e-5], grad_clip [1.0],\n"
"  eval_every [100; 0: only at the end], eval_pairs [0: all], skip_bad [false],\n"
"  seed [1337], threads [all]\n");
}

static void score_help(FILE *f)
{
    fprintf(f,
"usage: herd reward-score -m REWARD.gguf [-f FILE] [-t N]\n"
"Scores JSONL lines with a reward model from herd reward-train, rendered as\n"
"its training pairs were (the template is stored in the model). Prints one\n"
"JSON line per input line (blank lines skipped):\n"
"  {\"prompt\": P, \"response\": TEXT}                  -> {\"reward\": R}\n"
"  {\"prompt\": P, \"chosen\": TEXT, \"rejected\": TEXT} -> {\"chosen\": R1, \"rejected\": R2}\n"
"P is a text or chat messages [{\"role\", \"content\"}...].\n\n"
"  -m, --model PATH   the reward model (required)\n"
"  -f, --file PATH    the JSONL input (default: stdin)\n"
"  -t, --threads N    threads\n"
"  -h, --help         this help\n");
}

/* ---- reward-train ---- */

typedef struct {
    int quiet;
    volatile int *stop;
} ui;

static void on_step(void *user, const herd_reward_record *r)
{
    ui *u = user;
    int evald = isfinite(r->val_accuracy);
    if (u->quiet && !evald && r->step != r->steps)
        return;
    char eta[16], val[64] = "";
    if (evald)
        snprintf(val, sizeof val, " | val loss %.4f acc %.3f", r->val_loss, r->val_accuracy);
    double left = r->step ? r->elapsed_s / r->step * (r->steps - r->step) : 0;
    fprintf(stderr, "step %lld/%lld | loss %.4f | acc %.3f%s | lr %.2e | norm %.3f | "
            "%.0f tok/s | ETA %s\n", (long long)r->step, (long long)r->steps, r->loss,
            r->accuracy, val, r->lr, r->grad_norm, r->tokens_per_s, progress_hms(left, eta));
    if (evald && (r->step == r->steps || *u->stop))
        fprintf(stderr, "herd reward-train: held-out accuracy %.4f (%lld pairs), loss %.4f\n",
                r->val_accuracy, (long long)r->val_pairs, r->val_loss);
}

static void on_note(void *user, const char *msg)
{
    (void)user;
    fprintf(stderr, "herd reward-train: %s\n", msg);
}

int cli_reward_train(int argc, char **argv)
{
    const char *config = NULL;
    int threads = 0, quiet = 0;
    int rc = cli_trainer_args(argc, argv, "reward-train", train_help, &config, &threads, &quiet);
    if (rc)
        return rc < 0 ? 0 : rc;
    herd_reward_opts o;
    herd_reward_opts_defaults(&o);
    if (herd_reward_opts_load(config, &o) != HERD_OK) {
        fprintf(stderr, "herd reward-train: %s\n", herd_last_error());
        return 2;
    }
    if (threads)
        o.threads = threads;
    volatile int *stop = cli_catch_stop();
    ui u = {quiet, stop};
    herd_reward_callbacks cb = {on_step, on_note, &u, stop};
    if (herd_reward_train(&o, &cb) != HERD_OK) {
        fprintf(stderr, "herd reward-train: %s\n", herd_last_error());
        return 1;
    }
    return 0;
}

/* ---- reward-score ---- */

/* The reward of prompt + response. */
static herd_status score(herd_reward_model *rm, const herd_pref_line *l, const char *response,
                         herd_sft_tokens *tk, float *r)
{
    HERD_TRY(herd_pref_render(herd_reward_tokenizer(rm), herd_reward_template(rm), l,
                              response, tk));
    const int *ids = tk->ids;
    return herd_reward_score(rm, &ids, &tk->n, 1, r);
}

static herd_status score_line(herd_reward_model *rm, herd_pref_line *l, const char *text,
                              size_t len, herd_sft_tokens *tk)
{
    HERD_TRY(herd_pref_parse(l, text, len, 1));
    float a, b;
    if (l->response) {
        HERD_TRY(score(rm, l, l->response, tk, &a));
        printf("{\"reward\": %.7g}\n", a);
    } else {
        HERD_TRY(score(rm, l, l->chosen, tk, &a));
        HERD_TRY(score(rm, l, l->rejected, tk, &b));
        printf("{\"chosen\": %.7g, \"rejected\": %.7g}\n", a, b);
    }
    fflush(stdout);
    return HERD_OK;
}

static int score_file(herd_reward_model *rm, FILE *f, const char *name)
{
    herd_pref_line l = {0};
    herd_sft_tokens tk = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long long lineno = 0;
    int rc = 0;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)len)
            continue;
        if (score_line(rm, &l, line, (size_t)len, &tk) != HERD_OK) {
            fprintf(stderr, "herd reward-score: %s:%lld: %s\n", name, lineno, herd_last_error());
            rc = 1;
        }
    }
    if (!rc && ferror(f)) {
        fprintf(stderr, "herd reward-score: %s: read error: %s\n", name, strerror(errno));
        rc = 1;
    }
    free(line);
    herd_pref_line_free(&l);
    herd_sft_tokens_free(&tk);
    return rc;
}

int cli_reward_score(int argc, char **argv)
{
    const char *model = NULL, *file = NULL, *v;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            score_help(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(model = cli_value(argc, argv, &i)))
                return 2;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!(file = cli_value(argc, argv, &i)))
                return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_int(a, v, 1, 1024, &threads))
                return 2;
        } else {
            fprintf(stderr, "herd reward-score: unknown option '%s' (herd reward-score "
                    "--help)\n", a);
            return 2;
        }
    }
    if (!model) {
        fprintf(stderr, "herd reward-score: -m REWARD.gguf is required\n");
        return 2;
    }
    if (threads)
        herd_set_threads(threads);
    FILE *f = file && strcmp(file, "-") ? fopen(file, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "herd reward-score: %s: %s\n", file, strerror(errno));
        return 1;
    }
    herd_reward_model *rm;
    int rc = 1;
    if (herd_reward_open(model, &rm) != HERD_OK) {
        fprintf(stderr, "herd reward-score: %s\n", herd_last_error());
    } else if (!herd_reward_tokenizer(rm)) {
        fprintf(stderr, "herd reward-score: %s carries no tokenizer\n", model);
        herd_reward_free(rm);
    } else {
        rc = score_file(rm, f, file ? file : "stdin");
        herd_reward_free(rm);
    }
    if (f != stdin)
        fclose(f);
    return rc;
}

/* herd train and herd finetune: training from a JSON config
 * (src/train/trainer.h); finetune is train with a model to start from, SFT
 * data and a method (full, lora, qlora). */
#include "cli/cli.h"
#include "cli/progress.h"
#include "train/trainer.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f,
"usage: herd train --config FILE [--resume] [--stop-at N] [-t N] [-q]\n"
"Trains a Llama from scratch (or from the model in \"init\") on token shards\n"
"written by herd prepare: AdamW with decoupled weight decay, linear warmup then\n"
"cosine decay to min_lr_ratio x lr, gradient clipping by global norm, gradient\n"
"accumulation, packed documents that never attend across a boundary.\n"
"Prints step, loss, learning rate, gradient norm, tokens/s and ETA; writes\n"
"OUT/checkpoint.bin (atomically, with optimizer and data state), OUT/loss.csv,\n"
"OUT/loss.svg, and OUT/model.gguf at the end.\n\n"
"  --config FILE    the run's JSON config (below)\n"
"  --resume         continue from OUT/checkpoint.bin exactly where it stopped\n"
"  --stop-at N      stop (and save) after step N, as if interrupted\n"
"  --eval           no training: the loss over the whole val_data of the model\n"
"                   the config starts from (init; with --resume, the checkpoint)\n"
"  -t, --threads N  threads (overrides the config)\n"
"  -q, --quiet      only the summary\n"
"  -h, --help       this help\n"
"Ctrl-C saves a checkpoint and stops; --resume goes on from it.\n\n"
"Config keys (defaults in brackets):\n"
"  model            {\"preset\": NAME} and/or dim, hidden_dim, n_layers, n_heads,\n"
"                   n_kv_heads, vocab_size [tokenizer's], seq_len, norm_eps [1e-5],\n"
"                   rope_theta [10000], tied [true]\n"
"  init             a model file to start from instead of random weights\n"
"  tokenizer        tokenizer file, stored in the exported model\n"
"  train_data       PREFIX.train.bin from herd prepare (required)\n"
"  val_data         PREFIX.val.bin: validation loss every eval_every steps\n"
"  out_dir [out]    batch_size [8], seq_len [model's], grad_accum [1],\n"
"  steps [1000], warmup [100], lr [3e-4], min_lr_ratio [0.1], weight_decay [0.1],\n"
"  beta1 [0.9], beta2 [0.95], eps [1e-5], grad_clip [1.0], eval_every [100],\n"
"  eval_batches [8], save_every [500], seed [1337], threads [all], recompute [false]\n");
}

static void help_finetune(FILE *f)
{
    fprintf(f,
"usage: herd finetune --config FILE [--method full|lora|qlora] [--resume] [--stop-at N]\n"
"                     [-t N] [-q]\n"
"Finetunes the model in \"init\" on supervised examples (train_data ending in\n"
".jsonl) or token shards, as herd train does (same loop, checkpoints, resume,\n"
"loss.csv, loss.svg). Examples are Alpaca {\"instruction\", \"input\", \"output\"},\n"
"chat {\"messages\": [{\"role\", \"content\"}...]} (or ShareGPT\n"
"{\"conversations\": [{\"from\", \"value\"}...]}) or {\"prompt\", \"completion\"},\n"
"rendered with the chat template; the loss is on the answers only, and\n"
"examples are packed into rows without attending across each other.\n\n"
"Methods:\n"
"  full    every weight trained; OUT/model.gguf at the end\n"
"  lora    the base frozen where it is (mapped, any type), rank-r adapters on\n"
"          lora_targets; OUT/adapter/ (PEFT: adapter_config.json +\n"
"          adapter_model.safetensors) and OUT/adapter.gguf (llama.cpp --lora)\n"
"  qlora   lora over the base's layer matrices held in NF4 (4-bit, double-\n"
"          quantized scales)\n\n"
"  --config FILE    the run's JSON config: herd train's keys (herd train --help)\n"
"                   and init (required), method [full], lora_r [8],\n"
"                   lora_alpha [16], lora_dropout [0.05], lora_targets [\"q,v\"]\n"
"                   (q, k, v, o, gate, up, down, all), chat_template [auto:\n"
"                   the model's; none: a plain template for base models;\n"
"                   llama2; llama3], truncate [false: examples longer than\n"
"                   seq_len + 1 are dropped; true: cut], skip_bad [false: a bad\n"
"                   JSONL line stops with file:line; true: skipped, counted],\n"
"                   rope_scaling [none; linear], rope_factor (train past the\n"
"                   model's context with positions interpolated)\n"
"  --method M       overrides the config's method\n"
"  --resume, --stop-at N, -t N, -q   as herd train\n"
"  -h, --help       this help\n");
}

typedef struct {
    int quiet;
    double t0;
    const char *cmd;
} ui;

static void on_step(void *user, const herd_ckpt_record *r, int64_t total)
{
    ui *u = user;
    char eta[16], val[32] = "";
    if (isfinite(r->val_loss))
        snprintf(val, sizeof val, " | val %.4f", r->val_loss);
    int show = !u->quiet || r->step == total || isfinite(r->val_loss);
    if (!show)
        return;
    double el = progress_now() - u->t0;
    fprintf(stderr, "step %lld/%lld | loss %.4f%s | lr %.2e | norm %.3f | %.0f tok/s | ETA %s\n",
            (long long)r->step, (long long)total, r->loss, val, r->lr, r->grad_norm,
            r->tokens_per_s, progress_hms(r->step ? el / r->step * (total - r->step) : 0, eta));
}

static void on_note(void *user, const char *msg)
{
    ui *u = user;
    if (!u->quiet || strncmp(msg, "saved", 5))
        fprintf(stderr, "herd %s: %s\n", u->cmd, msg);
}

static int run_cmd(int argc, char **argv, int finetune)
{
    const char *config = NULL, *method = NULL, *cmd = finetune ? "finetune" : "train";
    int resume = 0, threads = 0, quiet = 0, eval = 0;
    long long stop_at = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            (finetune ? help_finetune : help)(stdout);
            return 0;
        } else if (!strcmp(a, "--config")) {
            if (!(config = cli_value(argc, argv, &i)))
                return 2;
        } else if (finetune && !strcmp(a, "--method")) {
            if (!(method = cli_value(argc, argv, &i)))
                return 2;
            if (strcmp(method, "full") && strcmp(method, "lora") && strcmp(method, "qlora")) {
                fprintf(stderr, "herd finetune: --method: '%s' is not full, lora or qlora\n",
                        method);
                return 2;
            }
        } else if (!strcmp(a, "--resume")) {
            resume = 1;
        } else if (!strcmp(a, "--eval")) {
            eval = 1;
        } else if (!strcmp(a, "--stop-at")) {
            int n;
            if (!(v = cli_value(argc, argv, &i)) || !cli_int(a, v, 1, 2147483647, &n))
                return 2;
            stop_at = n;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_int(a, v, 1, 1024, &threads))
                return 2;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else {
            fprintf(stderr, "herd %s: unknown option '%s'\n", cmd, a);
            (finetune ? help_finetune : help)(stderr);
            return 2;
        }
    }
    if (!config) {
        fprintf(stderr, "herd %s: --config FILE is required\n", cmd);
        return 2;
    }
    herd_train_opts o;
    herd_train_opts_defaults(&o);
    if (herd_train_opts_load(config, &o) != HERD_OK) {
        fprintf(stderr, "herd %s: %s\n", cmd, herd_last_error());
        return 2;
    }
    if (method)
        snprintf(o.method, sizeof o.method, "%s", method);
    if (finetune && !o.init[0]) {
        fprintf(stderr, "herd finetune: the config needs \"init\": the model to finetune\n");
        return 2;
    }
    if (threads)
        o.threads = threads;
    if (o.threads)
        herd_set_threads(o.threads);
    volatile int *stop = cli_catch_stop();
    if (eval) {
        double loss;
        int64_t n;
        herd_status st = herd_train_evaluate(&o, resume, &loss, &n);
        if (st != HERD_OK)
            return cli_fail(st, cmd);
        printf("val_loss %.4f perplexity %.3f tokens %lld\n", loss, exp(loss), (long long)n);
        return 0;
    }
    ui u = {quiet, progress_now(), cmd};
    herd_train_callbacks cb = {on_step, on_note, &u, stop};
    herd_status st = herd_train_run(&o, resume, stop_at, &cb);
    if (st != HERD_OK)
        return cli_fail(st, cmd);
    return 0;
}

int cli_train(int argc, char **argv)
{
    return run_cmd(argc, argv, 0);
}

int cli_finetune(int argc, char **argv)
{
    return run_cmd(argc, argv, 1);
}

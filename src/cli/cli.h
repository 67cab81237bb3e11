/* The herd command line: thin subcommands over the library. Only cli/
 * prints to the user and decides the exit status. */
#ifndef HERD_CLI_CLI_H
#define HERD_CLI_CLI_H
#include "herd.h"
#include <stdio.h>

int cli_run(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_chat(int argc, char **argv);
int cli_tokenize(int argc, char **argv);
int cli_detokenize(int argc, char **argv);
int cli_perplexity(int argc, char **argv);
int cli_convert(int argc, char **argv);
int cli_quantize(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_finetune(int argc, char **argv);
int cli_merge(int argc, char **argv);
int cli_train_tokenizer(int argc, char **argv);
int cli_prepare(int argc, char **argv);
int cli_extend_vocab(int argc, char **argv);
int cli_reward_train(int argc, char **argv);
int cli_reward_score(int argc, char **argv);
int cli_dpo(int argc, char **argv);
int cli_ppo(int argc, char **argv);
int cli_gatt(int argc, char **argv);
int cli_rejection_sample(int argc, char **argv);
int cli_serve(int argc, char **argv);

/* Parses a flag's value; on failure prints "herd: FLAG: ..." and returns 0. */
int cli_int(const char *flag, const char *val, long lo, long hi, int *out);
int cli_u64(const char *flag, const char *val, unsigned long long *out);
int cli_float(const char *flag, const char *val, double lo, double hi, float *out);
/* The value after argv[*i]; prints an error and returns NULL when missing. */
const char *cli_value(int argc, char **argv, int *i);
/* The sampling flags (--temp, --top-k, --top-p, --min-p, --repeat-penalty,
 * --repeat-last-n, --seed), their help text, and their parser (1: parsed,
 * 0: error printed). */
int cli_is_sampling_flag(const char *a);
int cli_sampling_flag(int argc, char **argv, int *i, herd_sampler_params *sp, int *seed_given);
#define CLI_SAMPLING_HELP \
"  --temp T               temperature, 0 = greedy (default 0.8)\n" \
"  --top-k K              keep the K most likely tokens, 0 = off (default 40)\n" \
"  --top-p P              nucleus sampling, 1 = off (default 0.95)\n" \
"  --min-p P              drop tokens below P x the top one's probability (default 0.05)\n" \
"  --repeat-penalty R     penalise recent tokens, 1 = off (default 1.0)\n" \
"  --repeat-last-n N      how many recent tokens the penalty sees (default 64)\n" \
"  --seed S               random seed (default: from the clock)\n"
/* The flags of herd dpo, ppo and reward-train: --config FILE (required),
 * -t N, -q, -h. 0: parsed; -1: help printed; 2: an error printed. */
int cli_trainer_args(int argc, char **argv, const char *cmd, void (*help)(FILE *),
                     const char **config, int *threads, int *quiet);
/* Ctrl-C and SIGTERM set the returned flag (a trainer saves and stops at
 * the next step); a file-size limit fails writes instead of killing. */
volatile int *cli_catch_stop(void);
/* --lora PATH and --lora-scaled PATH SCALE (as llama.cpp), up to 8. */
typedef struct {
    const char *path[8];
    float scale[8];
    int n;
} cli_lora;
int cli_is_lora_flag(const char *a);
int cli_lora_flag(int argc, char **argv, int *i, cli_lora *l);
/* Adds them to m; 0 (message printed) on failure. */
int cli_lora_apply(const cli_lora *l, herd_model *m);
#define CLI_LORA_HELP \
"  --lora PATH            apply a LoRA adapter (PEFT folder or GGUF LoRA) without\n" \
"                         merging; repeat for more\n" \
"  --lora-scaled PATH S   the same with the adapter scaled by S\n"
/* herd's own model (models/herd-kjv.gguf): next to the executable, or in
 * the source tree herd was built from. */
const char *cli_default_model(char *buf, size_t n);

/* Prints "herd: MSG" (and the library's last error when status != OK). */
int cli_fail(herd_status s, const char *what);

#endif

/* herd gatt: Ghost Attention data (Llama 2, section 3.3) from JSONL chats:
 * the prompts view to sample answers with, the train view to finetune on
 * (train/gatt.h). */
#include "cli/cli.h"
#include "train/gatt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void help(FILE *f)
{
    fprintf(f,
"usage: herd gatt prompts|train INPUT.jsonl [-o OUT.jsonl]\n"
"                 [--instruction TEXT | --instructions FILE [--combine K] [--seed S]]\n"
"                 [--in-user] [-q]\n"
"Ghost Attention data (Llama 2, section 3.3): multi-turn chats where an\n"
"instruction must hold for the whole dialogue (\"Always answer as Napoleon\").\n"
"INPUT holds one chat per line, {\"messages\": [{\"role\", \"content\"}, ...]} or\n"
"ShareGPT {\"conversations\": [{\"from\", \"value\"}, ...]}, with an optional\n"
"\"instruction\" string that wins over the flags.\n\n"
"  prompts  the sampling view: the instruction joined to EVERY user message as\n"
"           INSTRUCTION + \"\\n\\n\" + TEXT; all messages kept, so a policy can\n"
"           regenerate each assistant turn from the messages before it\n"
"  train    the training view: the instruction only at the start, as the system\n"
"           prompt (joined before the text of a first system message, else a new\n"
"           system message), or with --in-user joined to the first user message;\n"
"           every assistant message but the last gets \"train\": false, so only\n"
"           the last answer is trained (herd finetune reads the flag); messages\n"
"           after the last answer are left out\n"
"A user message that already starts with INSTRUCTION + \"\\n\\n\" has it taken\n"
"off first: the prompts output with its answers sampled is valid train input.\n"
"Each output line is {\"messages\": [...], \"instruction\": ..., the input's other\n"
"keys}.\n\n"
"  -o, --output FILE      write here (default: standard output)\n"
"  --instruction TEXT     the instruction for every line without its own\n"
"  --instructions FILE    instructions, one per line, drawn per line of INPUT\n"
"  --combine K            draw K different instructions, joined by a space\n"
"                         (default 1, at most %d)\n"
"  --seed S               seed of the draws (default 0); a line's draw depends\n"
"                         only on the seed and its line number\n"
"  --in-user              train view: the instruction on the first user message\n"
"                         instead of the system prompt\n"
"  -q, --quiet            no summary on stderr\n", HERD_GATT_MAX_COMBINE);
}

typedef struct {
    herd_gatt_opts g;
    const char *input, *output, *pool_path;
    int quiet;
} gatt_args;

/* 0 parsed, 2 bad flags (printed), -1 --help printed. */
static int parse(int argc, char **argv, gatt_args *a)
{
    const char *v;
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "-h") || !strcmp(s, "--help"))
            return help(stdout), -1;
        else if (!strcmp(s, "-o") || !strcmp(s, "--output")) {
            if (!(a->output = cli_value(argc, argv, &i)))
                return 2;
        } else if (!strcmp(s, "--instruction")) {
            if (!(a->g.instruction = cli_value(argc, argv, &i)))
                return 2;
        } else if (!strcmp(s, "--instructions")) {
            if (!(a->pool_path = cli_value(argc, argv, &i)))
                return 2;
        } else if (!strcmp(s, "--combine")) {
            if (!(v = cli_value(argc, argv, &i)) ||
                !cli_int(s, v, 1, HERD_GATT_MAX_COMBINE, &a->g.combine))
                return 2;
        } else if (!strcmp(s, "--seed")) {
            unsigned long long seed;
            if (!(v = cli_value(argc, argv, &i)) || !cli_u64(s, v, &seed))
                return 2;
            a->g.seed = seed;
        } else if (!strcmp(s, "--in-user")) {
            a->g.in_user = 1;
        } else if (!strcmp(s, "-q") || !strcmp(s, "--quiet")) {
            a->quiet = 1;
        } else if (s[0] == '-' && s[1]) {
            fprintf(stderr, "herd gatt: unknown option '%s' (see herd gatt --help)\n", s);
            return 2;
        } else if (a->input) {
            fprintf(stderr, "herd gatt: one INPUT file only ('%s' and '%s')\n", a->input, s);
            return 2;
        } else {
            a->input = s;
        }
    }
    return 0;
}

static int check_args(const gatt_args *a)
{
    const char *why = NULL;
    if (!a->input)
        why = "no INPUT file";
    else if (a->g.instruction && a->pool_path)
        why = "--instruction and --instructions do not go together";
    else if (a->g.instruction && !a->g.instruction[strspn(a->g.instruction, " \t\r\n")])
        why = "--instruction is empty";
    else if (a->g.combine && !a->pool_path)
        why = "--combine needs --instructions";
    if (why)
        fprintf(stderr, "herd gatt: %s (see herd gatt --help)\n", why);
    return why ? 2 : 0;
}

static int run(gatt_args *a)
{
    char **pool = NULL;
    if (a->pool_path && herd_gatt_read_pool(a->pool_path, &pool, &a->g.n_pool) != HERD_OK) {
        fprintf(stderr, "herd gatt: %s\n", herd_last_error());
        return 1;
    }
    a->g.pool = pool;
    if (a->g.n_pool && a->g.combine > a->g.n_pool) {
        fprintf(stderr, "herd gatt: --combine %d but %s holds %d instruction%s\n", a->g.combine,
                a->pool_path, a->g.n_pool, a->g.n_pool > 1 ? "s" : "");
        herd_gatt_pool_free(pool, a->g.n_pool);
        return 2;
    }
    FILE *out = a->output ? fopen(a->output, "wb") : stdout;
    herd_gatt_stats st;
    herd_status s = out ? herd_gatt_file(a->input, out, &a->g, &st) : HERD_E_IO;
    if (!out)
        fprintf(stderr, "herd gatt: %s: cannot write\n", a->output);
    else if (s != HERD_OK)
        fprintf(stderr, "herd gatt: %s\n", herd_last_error());
    int close_bad = !out ? 0 : a->output ? fclose(out) != 0 : fflush(out) || ferror(out);
    if (close_bad && s == HERD_OK) {
        fprintf(stderr, "herd gatt: %s: write error\n", a->output ? a->output : "stdout");
        s = HERD_E_IO;
    }
    if (s != HERD_OK && out && a->output)
        unlink(a->output);
    if (s == HERD_OK && !a->quiet) {
        fprintf(stderr, "herd gatt: %lld dialogues in the %s view", (long long)st.written,
                a->g.view == HERD_GATT_TRAIN ? "train" : "prompts");
        if (a->g.n_pool)
            fprintf(stderr, ", %lld with instructions drawn from %d", (long long)st.drawn,
                    a->g.n_pool);
        fputc('\n', stderr);
    }
    herd_gatt_pool_free(pool, a->g.n_pool);
    return s == HERD_OK ? 0 : 1;
}

int cli_gatt(int argc, char **argv)
{
    gatt_args a = {0};
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "prompts"))
        a.g.view = HERD_GATT_PROMPTS;
    else if (!strcmp(argv[1], "train"))
        a.g.view = HERD_GATT_TRAIN;
    else {
        fprintf(stderr, "herd gatt: unknown view '%s' (want prompts or train)\n", argv[1]);
        return 2;
    }
    int rc = parse(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = check_args(&a)))
        return rc;
    return run(&a);
}

/* herd chat: an interactive conversation in the terminal. Each turn sends
 * only the new tokens through the model: the KV cache keeps the earlier
 * turns, with the replies as the model generated them. Ctrl-C during a reply
 * stops that reply; at the prompt it (or end of input) quits. When the
 * conversation outgrows the context, the oldest turns (not the system
 * prompt) are dropped and the rest is processed again. */
#include "cli/chat.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void chat_help(FILE *f)
{
    fprintf(f,
"usage: herd chat [-m MODEL] [--system TEXT] [options]\n"
"Talks with a chat model: type a message, the reply streams back. Turns are\n"
"kept in the KV cache, so earlier ones are not processed again. Ctrl-C stops\n"
"a reply; Ctrl-C or Ctrl-D at the prompt quits; /clear starts over.\n\n"
"  -m, --model PATH         GGUF file, llama2.c .bin, or Hugging Face folder\n"
"  -z, --tokenizer PATH     tokenizer file (default: the model's)\n"
"  --system TEXT            system prompt\n"
"  --chat-template NAME     llama2 or llama3 (default: from the model's metadata)\n"
"  -n, --n-predict N        most tokens in one reply (default 1024)\n"
"  -c, --ctx-size N         context size (default: the model's, at most 8192)\n"
"  -t, --threads N          threads (default: all cores)\n"
"  --no-mmap                read the weights into memory instead of mapping the file\n"
"  -v, --verbose            print each turn's token counts and speed to stderr\n"
"  -h, --help               this help\n%s", CLI_SAMPLING_HELP);
}

static int parse_one(int argc, char **argv, int *i, chat_opts *o)
{
    const char *a = argv[*i], *v;
    if (cli_is_sampling_flag(a))
        return cli_sampling_flag(argc, argv, i, &o->sp, &o->seed_given);
    if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
        return o->verbose = 1;
    if (!strcmp(a, "--no-mmap")) {
        herd_set_mmap(0);
        return 1;
    }
    if (!(v = cli_value(argc, argv, i)))
        return 0;
    if (!strcmp(a, "-m") || !strcmp(a, "--model"))
        return o->model = v, 1;
    if (!strcmp(a, "-z") || !strcmp(a, "--tokenizer"))
        return o->tokenizer = v, 1;
    if (!strcmp(a, "--system"))
        return o->system = v, 1;
    if (!strcmp(a, "--chat-template")) {
        herd_status s = herd_chat_template_parse(v, &o->tpl);
        return s == HERD_OK ? 1 : !cli_fail(s, "--chat-template");
    }
    if (!strcmp(a, "-n") || !strcmp(a, "--n-predict"))
        return cli_int(a, v, 1, 1 << 24, &o->n_predict);
    if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size"))
        return cli_int(a, v, 16, 1 << 24, &o->n_ctx);
    if (!strcmp(a, "-t") || !strcmp(a, "--threads"))
        return cli_int(a, v, 1, 1024, &o->threads);
    fprintf(stderr, "herd chat: unknown option '%s' (herd chat --help)\n", a);
    return 0;
}

/* 1: parsed, 0: error, -1: help printed. */
static int parse(int argc, char **argv, chat_opts *o)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            chat_help(stdout);
            return -1;
        }
        if (argv[i][0] != '-') {
            fprintf(stderr, "herd chat: unexpected argument '%s'\n", argv[i]);
            return 0;
        }
        if (!parse_one(argc, argv, &i, o))
            return 0;
    }
    return 1;
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* No SA_RESTART: Ctrl-C at the prompt makes the read return. */
static void catch_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

/* A line from stdin without its newline; NULL at end of input or Ctrl-C. */
static char *read_line(void)
{
    size_t cap = 0;
    char *line = NULL;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0 || interrupted) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n')
        line[--n] = 0;
    return line;
}

static int chat_loop(chat_session *cs)
{
    int is_tty = isatty(0);
    for (;;) {
        if (is_tty) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        interrupted = 0;
        char *line = read_line();
        if (!line)
            return 0;
        if (!strcmp(line, "/clear")) {
            chat_session_clear(cs);
            free(line);
            continue;
        }
        if (!*line) {
            free(line);
            continue;
        }
        herd_status s = chat_turn(cs, line, &interrupted);
        free(line);
        if (s == HERD_E_RANGE) /* a message too long for the context: say so, go on */
            cli_fail(s, "");
        else if (s != HERD_OK)
            return cli_fail(s, "");
    }
}

int cli_chat(int argc, char **argv)
{
    chat_opts o = {.n_predict = 1024, .sp = herd_sampler_defaults()};
    int r = parse(argc, argv, &o);
    if (r <= 0)
        return r < 0 ? 0 : 2;
    if (!o.seed_given)
        o.sp.seed = (unsigned long long)time(NULL);
    char buf[4096];
    if (!o.model) {
        o.model = cli_default_model(buf, sizeof buf);
        fprintf(stderr, "herd: no -m given: chatting with %s (herd's own model, a base model "
                "trained on the King James Bible, not a chat model)\n", o.model);
    }
    herd_set_threads(o.threads ? o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN));
    herd_model *m;
    herd_status s = herd_model_open_ex(o.model, o.tokenizer, &m);
    if (s != HERD_OK)
        return cli_fail(s, "");
    const herd_tokenizer *tok = herd_model_tokenizer(m);
    int rc = 0;
    if (!tok) {
        fprintf(stderr, "herd: %s carries no tokenizer: give one with -z\n", o.model);
        rc = 1;
    }
    chat_session *cs = NULL;
    if (!rc && (s = chat_session_new(&o, m, tok, &cs)) != HERD_OK)
        rc = cli_fail(s, "");
    if (!rc) {
        catch_sigint();
        rc = chat_loop(cs);
    }
    chat_session_free(cs);
    herd_model_free(m);
    return rc;
}

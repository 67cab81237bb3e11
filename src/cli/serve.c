/* herd serve: the OpenAI-compatible HTTP server (src/serve/) from the
 * command line. Runs until SIGINT or SIGTERM, then lets the running
 * requests finish and exits 0. */
#include "cli/cli.h"
#include "serve/server.h"
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void serve_help(FILE *f)
{
    fprintf(f,
"usage: herd serve [-m MODEL] [--host HOST] [--port PORT] [-c N] [-np N] [-t N]\n"
"                  [--api-key KEY] [--kv-blocks N] [--block-size N] [-b N]\n"
"Serves a model over HTTP with OpenAI's API to many clients at once:\n"
"  POST /v1/completions, POST /v1/chat/completions (\"stream\": true for\n"
"  Server-Sent Events), GET /v1/models, GET /health, GET /metrics (Prometheus),\n"
"  POST /tokenize, POST /detokenize (as llama-server).\n"
"Continuous batching: up to --parallel sequences are decoded together, one\n"
"batched forward pass per step, requests joining and leaving at every step.\n"
"Their K and V live in a paged cache of fixed-size blocks; sequences with the\n"
"same prompt start share its blocks; a request waits in a queue while the\n"
"batch or the pool is full.\n"
"SIGINT or SIGTERM stops it after the running requests.\n\n"
"  -m, --model PATH       GGUF file, llama2.c .bin, or Hugging Face folder\n"
"                         (default: herd's own model, models/herd-kjv.gguf)\n"
"  --host HOST            address to listen on (default 127.0.0.1)\n"
"  --port PORT            port to listen on (default 8080)\n"
"  -c, --ctx-size N       most positions of one sequence, prompt and answer\n"
"                         (default: the model's, at most 8192)\n"
"  -np, --parallel N      most sequences decoded together (default 4)\n"
"  --kv-blocks N          blocks in the KV pool (default: room for --parallel\n"
"                         sequences of --ctx-size)\n"
"  --block-size N         positions per KV block (default 16)\n"
"  -b, --batch-size N     most tokens in one forward pass, prompt chunks\n"
"                         included (default 512)\n"
"  -t, --threads N        threads (default: all cores)\n"
"  --no-mmap              read the weights into memory instead of mapping the file\n"
"  --api-key KEY          require \"Authorization: Bearer KEY\" (not on /health\n"
"                         and /v1/models)\n"
"  -h, --help             this help\n");
}

/* 1: parsed, 0: error printed, -1: help printed. */
static int parse(int argc, char **argv, herd_serve_opts *o, int *threads)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            serve_help(stdout);
            return -1;
        } else if (!strcmp(a, "--no-mmap")) {
            herd_set_mmap(0);
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(o->model = cli_value(argc, argv, &i)))
                return 0;
        } else if (!strcmp(a, "--host")) {
            if (!(o->host = cli_value(argc, argv, &i)))
                return 0;
        } else if (!strcmp(a, "--port")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_int(a, v, 0, 65535, &o->port))
                return 0;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_int(a, v, 2, 1 << 24, &o->eng.n_ctx))
                return 0;
        } else if (!strcmp(a, "-np") || !strcmp(a, "--parallel")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_int(a, v, 1, 256, &o->eng.parallel))
                return 0;
        } else if (!strcmp(a, "--kv-blocks")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_int(a, v, 1, 1 << 24, &o->eng.n_blocks))
                return 0;
        } else if (!strcmp(a, "--block-size")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_int(a, v, 1, 4096, &o->eng.block))
                return 0;
        } else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_int(a, v, 1, 1 << 16, &o->eng.batch))
                return 0;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_int(a, v, 1, 1024, threads))
                return 0;
        } else if (!strcmp(a, "--api-key")) {
            if (!(o->api_key = cli_value(argc, argv, &i)))
                return 0;
            if (!*o->api_key) {
                fprintf(stderr, "herd serve: --api-key: empty key\n");
                return 0;
            }
        } else {
            fprintf(stderr, "herd serve: unknown option '%s' (herd serve --help)\n", a);
            return 0;
        }
    }
    return 1;
}

int cli_serve(int argc, char **argv)
{
    herd_serve_opts o = {.host = "127.0.0.1", .port = 8080};
    int threads = 0;
    int r = parse(argc, argv, &o, &threads);
    if (r <= 0)
        return r < 0 ? 0 : 2;
    char buf[4096];
    if (!o.model)
        o.model = cli_default_model(buf, sizeof buf);
    herd_set_threads(threads ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN));
    /* The server's threads inherit a mask with the stop signals blocked:
     * only sigwait below sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    herd_server *s;
    herd_status st = herd_server_start(&o, &s);
    if (st != HERD_OK) {
        fprintf(stderr, "herd serve: %s\n", herd_last_error());
        return 1;
    }
    fprintf(stderr, "herd serve: %s on http://%s:%d\n", o.model, o.host, herd_server_port(s));
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "herd serve: %s: finishing the running requests\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    herd_server_stop(s);
    return 0;
}

/* herd perplexity: a model's perplexity over a text file, computed as
 * llama.cpp's llama-perplexity computes it (see herd_perplexity): the running
 * estimate after each chunk ("[1]4.1234,[2]...") and the final
 * "Final estimate: PPL = X +/- Y" on stdout, progress and speed on stderr. */
#include "cli/cli.h"
#include "base/file.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *model, *file, *tokenizer;
    int n_ctx, n_batch, threads, n_chunks, ids;
} ppl_opts;

static void ppl_help(FILE *f)
{
    fprintf(f,
"usage: herd perplexity -m MODEL -f FILE [-c CTX] [-b BATCH] [-t N] [--chunks N]\n"
"                       [-z TOKENIZER] [--ids]\n"
"Measures the model's perplexity on FILE as llama.cpp's llama-perplexity does:\n"
"the text is tokenized whole (BOS first) and cut into chunks of CTX tokens (a\n"
"shorter remainder is left out); each chunk starts from an empty cache with\n"
"BOS in place of its first token, and only its second half is scored.\n"
"Prints the running estimate after each chunk ([1]X,[2]Y,...), then\n"
"\"Final estimate: PPL = X +/- Y\" (Y: one standard error). The file must hold\n"
"at least 2 x CTX tokens.\n\n"
"  -m, --model PATH       GGUF file, llama2.c .bin, or Hugging Face folder\n"
"  -f, --file PATH        the text\n"
"  -z, --tokenizer PATH   tokenizer file (default: the one the model carries)\n"
"  --ids                  FILE holds whitespace-separated token ids, used as\n"
"                         they are (no BOS added); chunks still start with BOS\n"
"                         (the tokenizer's, else id 1 as in llama2.c)\n"
"  -c, --ctx-size N       tokens per chunk (default 512)\n"
"  -b, --batch-size N     most tokens per forward pass (default 2048)\n"
"  --chunks N             score at most N chunks (default: all)\n"
"  -t, --threads N        threads (default: all cores)\n"
"  --no-mmap              read the weights into memory instead of mapping the file\n"
"  -h, --help             this help\n");
}

/* Where the value of a flag that takes one goes: a string (*str) or an int
 * (*num, with its lowest value in *lo); 0 for other flags. */
static int value_flag(ppl_opts *o, const char *a, const char ***str, int **num, long *lo)
{
    *str = NULL, *num = NULL, *lo = 1;
    if (!strcmp(a, "-m") || !strcmp(a, "--model"))
        *str = &o->model;
    else if (!strcmp(a, "-f") || !strcmp(a, "--file"))
        *str = &o->file;
    else if (!strcmp(a, "-z") || !strcmp(a, "--tokenizer"))
        *str = &o->tokenizer;
    else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size"))
        *num = &o->n_ctx, *lo = 3;
    else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size"))
        *num = &o->n_batch;
    else if (!strcmp(a, "--chunks"))
        *num = &o->n_chunks;
    else if (!strcmp(a, "-t") || !strcmp(a, "--threads"))
        *num = &o->threads;
    return *str || *num;
}

/* 1: parsed, 0: error, -1: help printed. */
static int parse(int argc, char **argv, ppl_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v, **str;
        int *num;
        long lo;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            ppl_help(stdout);
            return -1;
        } else if (!strcmp(a, "--ids")) {
            o->ids = 1;
        } else if (!strcmp(a, "--no-mmap")) {
            herd_set_mmap(0);
        } else if (value_flag(o, a, &str, &num, &lo)) {
            if (!(v = cli_value(argc, argv, &i)))
                return 0;
            if (str)
                *str = v;
            else if (!cli_int(a, v, lo, 1 << 24, num))
                return 0;
        } else {
            fprintf(stderr, "herd perplexity: %s '%s' (herd perplexity --help)\n",
                    a[0] == '-' ? "unknown option" : "unexpected argument", a);
            return 0;
        }
    }
    if (!o->model || !o->file) {
        fprintf(stderr, "herd perplexity: -m MODEL and -f FILE are required\n");
        return 0;
    }
    return 1;
}

/* Whitespace-separated ids; 0 or prints an error and returns 1. */
static int parse_ids(const char *path, const char *text, int **ids, int *n)
{
    size_t cap = 0;
    *n = 0;
    for (const char *p = text;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            return 0;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT_MAX ||
            (*end && !strchr(" \t\n\r", *end))) {
            size_t len = strcspn(p, " \t\n\r");
            fprintf(stderr, "herd: %s: id %d ('%.*s') is not a token id (a whole number "
                    ">= 0)\n", path, *n + 1, len > 40 ? 40 : (int)len, p);
            return 1;
        }
        if ((size_t)*n == cap) {
            cap = cap ? 2 * cap : 4096;
            int *q = realloc(*ids, cap * sizeof *q);
            if (!q)
                return cli_fail(HERD_E_NOMEM, "ids");
            *ids = q;
        }
        (*ids)[(*n)++] = (int)v;
        p = end;
    }
}

/* The text as ids, BOS first; 0 or prints an error and returns 1. */
static int encode(const herd_tokenizer *tok, const char *text, size_t len, int **ids, int *n)
{
    int cap = len + 16 < INT_MAX ? (int)len + 16 : INT_MAX;
    for (;;) {
        if (!(*ids = malloc((size_t)cap * sizeof **ids)))
            return cli_fail(HERD_E_NOMEM, "tokens");
        herd_status s = herd_tokenize(tok, text, len, 1, 0, *ids, cap, n);
        if (s != HERD_OK)
            return cli_fail(s, "tokenizing");
        if (*n <= cap)
            return 0;
        free(*ids);
        cap = *n;
    }
}

static int print_chunk(void *user, const herd_ppl_stats *st)
{
    (void)user;
    if (st->chunk == 1) {
        double eta = st->seconds * (st->n_chunks - 1);
        fprintf(stderr, "perplexity: %.2f seconds per pass - ETA %.2f minutes\n",
                st->seconds, eta / 60);
    }
    printf("[%d]%.4f,", st->chunk, herd_ppl_estimate(st, NULL));
    fflush(stdout);
    return 0;
}

/* The tokens of the file; 0 or prints an error and returns 1. */
static int load_tokens(const ppl_opts *o, const herd_tokenizer *tok, int **ids, int *n)
{
    char *text;
    size_t len;
    herd_status s = herd_read_file(o->file, &text, &len);
    if (s != HERD_OK)
        return cli_fail(s, "");
    int rc = o->ids ? parse_ids(o->file, text, ids, n) : encode(tok, text, len, ids, n);
    free(text);
    if (!rc && *n == 0) {
        fprintf(stderr, "herd: %s is empty: no tokens to score\n", o->file);
        rc = 1;
    }
    return rc;
}

static int score(const ppl_opts *o, herd_model *m, const int *ids, int n, int bos)
{
    int n_ctx = o->n_ctx ? o->n_ctx : 512;
    int seq = herd_model_config(m)->seq_len;
    if (n < 2 * n_ctx) {
        fprintf(stderr, "herd: %s gives only %d tokens: a context of %d needs at least %d "
                "(2 x %d; -c to change it)\n", o->file, n, n_ctx, 2 * n_ctx, n_ctx);
        return 1;
    }
    if (seq > 0 && n_ctx > seq)
        fprintf(stderr, "herd: warning: the model was trained on only %d context tokens "
                "(%d given)\n", seq, n_ctx);
    herd_context *ctx;
    herd_status s = herd_context_new(m, n_ctx, &ctx);
    if (s != HERD_OK)
        return cli_fail(s, "context");
    herd_ppl_params p = {n_ctx, o->n_batch ? o->n_batch : 2048, o->n_chunks, bos};
    int n_chunks = o->n_chunks && o->n_chunks < n / n_ctx ? o->n_chunks : n / n_ctx;
    fprintf(stderr, "perplexity: %d tokens, %d chunks of %d, batch %d\n", n, n_chunks,
            n_ctx, p.n_batch < n_ctx ? p.n_batch : n_ctx);
    herd_ppl_stats st;
    s = herd_perplexity(ctx, ids, n, &p, print_chunk, NULL, &st);
    printf("\n");
    herd_context_free(ctx);
    if (s != HERD_OK)
        return cli_fail(s, "perplexity");
    double err, ppl = herd_ppl_estimate(&st, &err);
    printf("Final estimate: PPL = %.4f +/- %.5f\n", ppl, err);
    fprintf(stderr, "perplexity: %d chunks, %lld tokens evaluated in %.2f s, %.1f tok/s\n",
            st.chunk, (long long)st.chunk * (n_ctx - 1), st.seconds,
            st.seconds > 0 ? st.chunk * (n_ctx - 1.0) / st.seconds : 0.0);
    return 0;
}

int cli_perplexity(int argc, char **argv)
{
    ppl_opts o = {0};
    int r = parse(argc, argv, &o);
    if (r <= 0)
        return r < 0 ? 0 : 2;
    herd_set_threads(o.threads ? o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN));
    herd_model *m;
    herd_status s = herd_model_open_ex(o.model, o.tokenizer, &m);
    if (s != HERD_OK)
        return cli_fail(s, "");
    const herd_tokenizer *tok = herd_model_tokenizer(m);
    int rc = 1, n = 0, *ids = NULL, V = herd_model_config(m)->vocab_size;
    if (!tok && !o.ids) {
        fprintf(stderr, "herd: %s carries no tokenizer: give one with -z, or token ids "
                "with --ids\n", o.model);
        goto out;
    }
    if (load_tokens(&o, tok, &ids, &n))
        goto out;
    for (int i = 0; i < n; i++)
        if (ids[i] >= V) {
            fprintf(stderr, "herd: %s: id %d (%d) is outside the vocabulary of %d\n", o.file,
                    i + 1, ids[i], V);
            goto out;
        }
    rc = score(&o, m, ids, n, tok ? herd_tokenizer_bos(tok) : 1);
out:
    free(ids);
    herd_model_free(m);
    return rc;
}

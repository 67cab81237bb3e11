/* herd_argmax.c - herd's greedy choice at every position of a given sequence
 * (teacher forcing), over the public API.
 *
 * Built by bench/greedy_llamacpp.sh against libherd.a and include/herd.h.
 *
 *   herd_argmax -m MODEL [-t THREADS] [--batch] [-dump FILE] < IDS
 *
 * IDS: whitespace-separated token ids t0 t1 ... t(n-1) (t0 is usually BOS).
 * For each position i, prints "i ARGMAX GAP": herd's argmax (lowest id on
 * ties, as its greedy sampler) of the logits after t0..ti, and the gap
 * between its two largest logits. By default the tokens go in one at a time
 * through the KV cache, as herd decodes; --batch evaluates them in one
 * herd_eval with all_logits = 1, as a prompt. -dump FILE writes every
 * position's logits (vocab_size float32 each) to FILE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "herd.h"

static int fail(const char *what)
{
    fprintf(stderr, "herd_argmax: %s: %s\n", what, herd_last_error());
    return 1;
}

/* Reads whitespace-separated ids from f into a growing array. */
static int *read_ids(FILE *f, int *n_out)
{
    int cap = 256, n = 0, v;
    int *ids = malloc(sizeof(int) * (size_t)cap);
    while (ids && fscanf(f, "%d", &v) == 1) {
        if (n == cap) {
            int *more = realloc(ids, sizeof(int) * (size_t)(cap *= 2));
            if (!more) {
                free(ids);
                return NULL;
            }
            ids = more;
        }
        ids[n++] = v;
    }
    *n_out = n;
    return ids;
}

static void print_top2(int i, const float *x, int n)
{
    int a = 0;
    for (int j = 1; j < n; j++)
        if (x[j] > x[a])
            a = j;
    int b = a == 0 && n > 1 ? 1 : 0;
    for (int j = 0; j < n; j++)
        if (j != a && x[j] > x[b])
            b = j;
    printf("%d %d %.9g\n", i, a, (double)(x[a] - x[b]));
}

int main(int argc, char **argv)
{
    const char *path = NULL, *dump_path = NULL;
    int threads = 0, batch = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch")) batch = 1;
        else if (!strcmp(argv[i], "-dump") && i + 1 < argc) dump_path = argv[++i];
        else {
            fprintf(stderr, "usage: herd_argmax -m MODEL [-t THREADS] [--batch] [-dump FILE] < IDS\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "herd_argmax: need -m MODEL\n");
        return 2;
    }
    int n;
    int *ids = read_ids(stdin, &n);
    if (!ids || n < 1) {
        fprintf(stderr, "herd_argmax: no token ids on stdin\n");
        return 2;
    }
    if (threads > 0)
        herd_set_threads(threads);
    herd_model *m;
    herd_context *ctx;
    if (herd_model_open(path, &m) != HERD_OK)
        return fail("open");
    if (herd_context_new(m, n, &ctx) != HERD_OK)
        return fail("context");
    int V = herd_model_config(m)->vocab_size;
    float *logits = malloc(sizeof(float) * (size_t)V * (size_t)(batch ? n : 1));
    if (!logits) {
        fprintf(stderr, "herd_argmax: out of memory\n");
        return 1;
    }
    FILE *dump = NULL;
    if (dump_path && !(dump = fopen(dump_path, "wb"))) {
        fprintf(stderr, "herd_argmax: cannot write %s\n", dump_path);
        return 1;
    }
    if (batch) {
        if (herd_eval(ctx, ids, NULL, n, logits, 1) != HERD_OK)
            return fail("eval");
        if (dump)
            fwrite(logits, sizeof(float), (size_t)V * (size_t)n, dump);
        for (int i = 0; i < n; i++)
            print_top2(i, logits + (size_t)i * V, V);
    } else {
        for (int i = 0; i < n; i++) {
            if (herd_eval(ctx, &ids[i], NULL, 1, logits, 0) != HERD_OK)
                return fail("eval");
            if (dump)
                fwrite(logits, sizeof(float), (size_t)V, dump);
            print_top2(i, logits, V);
        }
    }
    if (dump)
        fclose(dump);
    free(logits);
    free(ids);
    herd_context_free(ctx);
    herd_model_free(m);
    return 0;
}

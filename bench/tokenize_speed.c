/* Tokenizer throughput, in process: tokenize_speed TOKENIZER TEXT [REPS]
 * loads a tokenizer (any file herd_tokenizer_open reads), encodes the whole
 * of TEXT once to warm up, then REPS more times (default 5), and prints one
 * line: "herd <kind> <MB/s> MB/s <tokens/s> tokens/s <n> tokens" with the
 * best of the timed runs. Built by bench/tokenizer.sh against libherd.a. */
#define _POSIX_C_SOURCE 200809L
#include "herd.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = malloc((size_t)size + 1);
    *n = d ? fread(d, 1, (size_t)size, f) : 0;
    fclose(f);
    return d;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s TOKENIZER TEXT [REPS]\n", argv[0]);
        return 2;
    }
    int reps = argc > 3 ? atoi(argv[3]) : 5;
    herd_tokenizer *t;
    if (herd_tokenizer_open(argv[1], &t) != HERD_OK) {
        fprintf(stderr, "%s\n", herd_last_error());
        return 1;
    }
    size_t n;
    char *text = read_all(argv[2], &n);
    int cap = (int)n + 16, got = 0, *ids = malloc((size_t)cap * sizeof *ids);
    if (!text || !ids) {
        fprintf(stderr, "%s: cannot read\n", argv[2]);
        return 1;
    }
    double best = 1e30;
    for (int r = 0; r <= reps; r++) {
        double t0 = now();
        if (herd_tokenize(t, text, n, 0, 0, ids, cap, &got) != HERD_OK) {
            fprintf(stderr, "%s\n", herd_last_error());
            return 1;
        }
        double dt = now() - t0;
        if (r > 0 && dt < best)
            best = dt;
    }
    printf("herd %s %.2f MB/s %.0f tokens/s %d tokens\n",
           herd_tokenizer_kind(t) == HERD_TOK_BYTE_BPE ? "byte-bpe" : "spm",
           (double)n / best / 1e6, got / best, got);
    free(ids);
    free(text);
    herd_tokenizer_free(t);
    return 0;
}

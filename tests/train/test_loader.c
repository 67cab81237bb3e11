/* The batch loader against an independent reading of the format: each row
 * is some window k of the token stream (tokens [k*T, k*T+T] as the test
 * wrote them), doc_start marks the documents the test wrote, every window
 * comes once per epoch, shuffled orders are uniform over permutations, and
 * a loader resumed from a saved position gives the same batches as one
 * that never stopped. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"
#include "train/data.h"
#include "base/error.h"
#include <stdint.h>
#include <unistd.h>

static char dir[64];

enum { MAXTOK = 20000 };
static int stream[MAXTOK];          /* the tokens as written */
static uint8_t starts[MAXTOK];      /* 1 where a document begins */
static int n_stream;

static uint64_t rng = 12345;
static uint32_t rnd(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng >> 33);
}

/* A shard of about n tokens in documents of 1..maxlen tokens; token at
 * position i is (i * 7919 + 13) % vocab, so every window is told apart by
 * its first token (n < vocab). */
static void make_shard(const char *path, int n, int maxlen, int vocab, herd_shard *s)
{
    herd_shard_writer *w;
    CHECK_OK(herd_shard_writer_new(path, vocab, &w));
    n_stream = 0;
    while (n_stream < n) {
        int len = 1 + (int)(rnd() % (uint32_t)maxlen), ids[64];
        if (len > n - n_stream)
            len = n - n_stream;
        for (int i = 0; i < len; i++) {
            int pos = n_stream + i;
            ids[i] = stream[pos] = (int)(((int64_t)pos * 7919 + 13) % vocab);
            starts[pos] = i == 0;
        }
        CHECK_OK(herd_shard_writer_add(w, ids, (size_t)len));
        n_stream += len;
    }
    CHECK_OK(herd_shard_writer_finish(w));
    CHECK_OK(herd_shard_open(path, s));
}

/* The window a row holds, checked against the stream; -1 if none fits. */
static long which_window(const int *tok, const int *tgt, const uint8_t *ds, int T)
{
    long W = (n_stream - 1) / T;
    for (long k = 0; k < W; k++) {
        if (stream[k * T] != tok[0])
            continue;
        for (int t = 0; t < T; t++) {
            if (tok[t] != stream[k * T + t] || tgt[t] != stream[k * T + t + 1])
                return -1;
            if (ds && ds[t] != (t == 0 || starts[k * T + t]))
                return -1;
        }
        return k;
    }
    return -1;
}

/* n batches' windows in stream order into out; 0 if a row matched none. */
static int take(herd_loader *l, int B, int T, int n, long *out)
{
    int *tok = malloc(sizeof(int) * (size_t)(B * T)), *tgt = malloc(sizeof(int) * (size_t)(B * T));
    uint8_t *ds = malloc((size_t)(B * T));
    int ok = 1;
    for (int i = 0; i < n; i++) {
        herd_loader_next(l, tok, tgt, ds);
        for (int b = 0; b < B; b++) {
            long k = which_window(tok + b * T, tgt + b * T, ds + b * T, T);
            ok &= k >= 0;
            out[i * B + b] = k;
        }
    }
    free(tok);
    free(tgt);
    free(ds);
    return ok;
}

/* Each run of W windows is a permutation of 0..W-1. */
static int epochs_ok(const long *seq, long n, long W)
{
    char *seen = calloc((size_t)W, 1);
    int ok = 1;
    for (long e = 0; (e + 1) * W <= n; e++) {
        memset(seen, 0, (size_t)W);
        for (long i = 0; i < W; i++) {
            long k = seq[e * W + i];
            ok &= k >= 0 && k < W && !seen[k];
            if (k >= 0 && k < W)
                seen[k] = 1;
        }
    }
    free(seen);
    return ok;
}

static void windows_and_epochs(const herd_shard *s, int B, int T, int width)
{
    herd_loader *l;
    CHECK(s->width == width);
    CHECK_OK(herd_loader_new(s, B, T, 7, 1, &l));
    long W = (n_stream - 1) / T;
    CHECK(herd_loader_windows(l) == (uint64_t)W);
    int nb = (int)(3 * W / B) + 1;
    long *seq = malloc(sizeof(long) * (size_t)(nb * B));
    CHECK(take(l, B, T, nb, seq));
    CHECK(epochs_ok(seq, (long)nb * B, W));
    long same = 0, ident = 0;
    for (long i = 0; i < W; i++) {
        same += seq[i] == seq[W + i];
        ident += seq[i] == i;
    }
    CHECK_MSG(same < W / 4 && ident < W / 4, "epochs 0 and 1 share %ld of %ld places, "
              "%ld in order", same, W, ident);
    herd_loader_pos p = herd_loader_state(l);
    CHECK(p.epoch * (uint64_t)W + p.index == (uint64_t)nb * (uint64_t)B);
    herd_loader_free(l);

    /* The same seed gives the same order; another seed another. */
    herd_loader *a, *b;
    long *s2 = malloc(sizeof(long) * (size_t)(nb * B)), *s3 = malloc(sizeof(long) * (size_t)(nb * B));
    CHECK_OK(herd_loader_new(s, B, T, 7, 1, &a));
    CHECK_OK(herd_loader_new(s, B, T, 8, 1, &b));
    take(a, B, T, nb, s2);
    take(b, B, T, nb, s3);
    CHECK(!memcmp(seq, s2, sizeof(long) * (size_t)(nb * B)));
    CHECK(memcmp(seq, s3, sizeof(long) * (size_t)(nb * B)) != 0);
    herd_loader_free(a);
    herd_loader_free(b);

    /* Without shuffling: 0, 1, 2, ... and round again. */
    CHECK_OK(herd_loader_new(s, B, T, 7, 0, &l));
    CHECK(take(l, B, T, nb, seq));
    int inorder = 1;
    for (long i = 0; i < (long)nb * B; i++)
        inorder &= seq[i] == i % W;
    CHECK(inorder);
    herd_loader_free(l);
    free(seq);
    free(s2);
    free(s3);
}

/* Stop after n1 batches, resume a fresh loader from the saved position,
 * and compare n2 more batches with a loader that never stopped. */
static void resume(const herd_shard *s, int B, int T, int shuffle, int n1, int n2)
{
    herd_loader *a, *b;
    CHECK_OK(herd_loader_new(s, B, T, 99, shuffle, &a));
    CHECK_OK(herd_loader_new(s, B, T, 99, shuffle, &b));
    size_t n = (size_t)(B * T);
    int *ta = malloc(n * sizeof(int)), *ga = malloc(n * sizeof(int));
    int *tb = malloc(n * sizeof(int)), *gb = malloc(n * sizeof(int));
    uint8_t *da = malloc(n), *db = malloc(n);
    for (int i = 0; i < n1; i++)
        herd_loader_next(a, ta, ga, da);
    herd_loader_pos p = herd_loader_state(a);
    herd_loader_free(a);
    CHECK_OK(herd_loader_new(s, B, T, 99, shuffle, &a)); /* as after a restart */
    CHECK_OK(herd_loader_set_state(a, p));
    for (int i = 0; i < n1; i++)
        herd_loader_next(b, tb, gb, db);
    int same = 1;
    for (int i = 0; i < n2; i++) {
        herd_batch bb;
        herd_loader_next(a, ta, ga, da);
        herd_loader_batch(b, &bb);
        same &= bb.B == B && bb.T == T && !memcmp(ta, bb.tokens, n * sizeof(int)) &&
                !memcmp(ga, bb.targets, n * sizeof(int)) && !memcmp(da, bb.doc_start, n);
    }
    CHECK_MSG(same, "resume after %d batches (shuffle %d)", n1, shuffle);
    herd_loader_pos pa = herd_loader_state(a), pb = herd_loader_state(b);
    CHECK(pa.epoch == pb.epoch && pa.index == pb.index);
    p.index = herd_loader_windows(a);
    CHECK_FAILS(herd_loader_set_state(a, p), HERD_E_ARG);
    herd_loader_free(a);
    herd_loader_free(b);
    free(ta), free(ga), free(tb), free(gb), free(da), free(db);
}

/* 3 windows, one row a batch: the 6 orders come about equally often. */
static void uniform(void)
{
    herd_shard s;
    char path[128];
    snprintf(path, sizeof path, "%s/three.bin", dir);
    make_shard(path, 3 * 4 + 1, 5, 1000, &s);
    herd_loader *l;
    CHECK_OK(herd_loader_new(&s, 1, 4, 3, 1, &l));
    CHECK(herd_loader_windows(l) == 3);
    int count[6] = {0}, tok[4], tgt[4], ok = 1;
    for (int e = 0; e < 6000; e++) {
        int o[3];
        for (int i = 0; i < 3; i++) {
            herd_loader_next(l, tok, tgt, NULL);
            o[i] = (int)which_window(tok, tgt, NULL, 4);
            ok &= o[i] >= 0;
        }
        ok &= o[0] != o[1] && o[1] != o[2] && o[0] != o[2];
        count[o[0] * 2 + (o[1] > o[2])]++;
    }
    CHECK(ok);
    for (int i = 0; i < 6; i++) /* 1000 each, sd about 29 */
        CHECK_MSG(count[i] > 870 && count[i] < 1130, "order %d came %d times of 6000", i,
                  count[i]);
    herd_loader_free(l);
    herd_shard_close(&s);
}

static void too_small(void)
{
    herd_shard s;
    char path[128];
    snprintf(path, sizeof path, "%s/small.bin", dir);
    make_shard(path, 16, 5, 1000, &s);
    herd_loader *l;
    CHECK_FAILS(herd_loader_new(&s, 1, 16, 0, 1, &l), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "dataset too small: 16 tokens, need at least 17"));
    CHECK(strstr(herd_last_error(), "small.bin"));
    CHECK_OK(herd_loader_new(&s, 1, 15, 0, 1, &l)); /* 16 tokens: one window of 15 */
    CHECK(herd_loader_windows(l) == 1);
    herd_loader_free(l);
    CHECK_OK(herd_loader_new(&s, 2, 7, 0, 1, &l)); /* (16 - 1) / 7 = 2 windows */
    herd_loader_free(l);
    CHECK_FAILS(herd_loader_new(&s, 2, 8, 0, 1, &l), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "dataset too small: 16 tokens, need at least 17"));
    CHECK_FAILS(herd_loader_new(&s, 0, 5, 0, 1, &l), HERD_E_ARG);
    herd_shard_close(&s);
}

int main(void)
{
    strcpy(dir, "/tmp/herd_loader_XXXXXX");
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary folder");
    char path[128];
    herd_shard s;
    snprintf(path, sizeof path, "%s/a.bin", dir);
    make_shard(path, 5000, 40, 30011, &s); /* uint16 */
    windows_and_epochs(&s, 4, 32, 2);
    windows_and_epochs(&s, 1, 7, 2);
    resume(&s, 4, 32, 1, 0, 50);
    resume(&s, 4, 32, 1, 17, 80);   /* 156 windows: the resumed run spans epochs */
    resume(&s, 3, 32, 1, 52, 60);   /* 156 = 52 * 3: resume on an epoch's end */
    resume(&s, 4, 32, 0, 39, 20);
    herd_shard_close(&s);
    snprintf(path, sizeof path, "%s/b.bin", dir);
    make_shard(path, 12000, 60, 100003, &s); /* uint32 */
    windows_and_epochs(&s, 8, 64, 4);
    resume(&s, 8, 64, 1, 11, 40);
    herd_shard_close(&s);
    uniform();
    too_small();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    TEST_END();
}

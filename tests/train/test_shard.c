/* Token shards: the writer's bytes against a file laid out here by hand
 * from the format in train/data.h, round trips in both widths, and every
 * kind of damage (truncation at every length, bad magic, version, width,
 * offsets, ids, sizes) failing with a message that names the file. A full
 * disk (RLIMIT_FSIZE) leaves no file behind. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"
#include "train/data.h"
#include "base/error.h"
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static const char *at(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void le(uint8_t *p, uint64_t v, int n)
{
    for (int k = 0; k < n; k++)
        p[k] = (uint8_t)(v >> 8 * k);
}

/* The file the format describes for these documents, built byte by byte. */
static size_t reference(uint8_t *out, int width, uint32_t vocab, int **docs, const int *lens,
                        int n_docs)
{
    uint64_t n_tokens = 0;
    for (int d = 0; d < n_docs; d++)
        n_tokens += (uint64_t)lens[d];
    memset(out, 0, 1 << 16);
    memcpy(out, "HERDTOK1", 8);
    le(out + 8, 1, 4);
    le(out + 12, (uint64_t)width, 4);
    le(out + 16, vocab, 4);
    le(out + 24, n_tokens, 8);
    le(out + 32, (uint64_t)n_docs, 8);
    size_t p = 40, off = 0;
    for (int d = 0; d < n_docs; d++)
        for (int i = 0; i < lens[d]; i++, p += (size_t)width)
            le(out + p, (uint64_t)docs[d][i], width);
    p = (p + 7) & ~(size_t)7;
    for (int d = 0; d <= n_docs; d++) {
        le(out + p, off, 8);
        p += 8;
        off += d < n_docs ? (size_t)lens[d] : 0;
    }
    return p;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(1 << 16);
    *n = f ? fread(buf, 1, 1 << 16, f) : 0;
    if (f)
        fclose(f);
    return buf;
}

static void spill(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

static herd_status write_docs(const char *path, int vocab, int **docs, const int *lens, int n)
{
    herd_shard_writer *w;
    HERD_TRY(herd_shard_writer_new(path, vocab, &w));
    for (int d = 0; d < n; d++) {
        herd_status s = herd_shard_writer_add(w, docs[d], (size_t)lens[d]);
        if (s != HERD_OK) {
            herd_shard_writer_abort(w);
            return s;
        }
    }
    return herd_shard_writer_finish(w);
}

static void round_trip(int vocab, int width)
{
    int a[] = {1, 5, 7, 2}, b[] = {1, vocab - 1}, c[] = {1, 0, 3, vocab / 2, 9}, e[] = {4};
    int *docs[] = {a, b, c, e}, lens[] = {4, 2, 5, 1};
    const char *path = at("rt.bin");
    CHECK_OK(write_docs(path, vocab, docs, lens, 4));
    CHECK(!exists(at("rt.bin.tmp")));
    uint8_t *want = malloc(1 << 16);
    size_t n_want = reference(want, width, (uint32_t)vocab, docs, lens, 4), n_got;
    uint8_t *got = slurp(path, &n_got);
    CHECK_MSG(n_got == n_want && !memcmp(got, want, n_want), "vocab %d: %zu bytes, want %zu",
              vocab, n_got, n_want);
    herd_shard s;
    CHECK_OK(herd_shard_open(path, &s));
    CHECK(s.width == width && s.vocab == (uint32_t)vocab && s.n_tokens == 12 && s.n_docs == 4);
    uint64_t i = 0;
    for (int d = 0; d < 4; d++) {
        CHECK(herd_shard_doc_offset(&s, (uint64_t)d) == i);
        for (int k = 0; k < lens[d]; k++, i++) {
            CHECK(herd_shard_token(&s, i) == docs[d][k]);
            CHECK(herd_shard_doc_of(&s, i) == (uint64_t)d);
        }
    }
    CHECK(herd_shard_doc_offset(&s, 4) == 12);
    herd_shard_close(&s);
    free(want);
    free(got);
}

/* The file with bytes [pos, pos + n) set to v (little-endian) must fail. */
static void damaged(const uint8_t *good, size_t size, size_t pos, uint64_t v, int n,
                    const char *what)
{
    uint8_t *bad = malloc(size);
    memcpy(bad, good, size);
    le(bad + pos, v, n);
    const char *path = at("bad.bin");
    spill(path, bad, size);
    herd_shard s;
    herd_status st = herd_shard_open(path, &s);
    CHECK_MSG(st == HERD_E_FORMAT && strstr(herd_last_error(), path), "%s: status %d (%s)",
              what, (int)st, herd_last_error());
    free(bad);
}

static void corruption(void)
{
    int a[] = {1, 2, 3}, b[] = {1, 4, 5, 6, 7}, c[] = {1, 8};
    int *docs[] = {a, b, c}, lens[] = {3, 5, 2};
    char path[256];
    snprintf(path, sizeof path, "%s", at("good.bin"));
    CHECK_OK(write_docs(path, 10, docs, lens, 3));
    size_t size;
    uint8_t *good = slurp(path, &size);
    CHECK(size == 40 + 24 + 32); /* 10 uint16 ids padded to 24 bytes, 4 offsets */
    herd_shard s;
    int nfail = 0;
    for (size_t n = 0; n < size; n++) { /* every truncation */
        spill(at("cut.bin"), good, n);
        herd_status st = herd_shard_open(at("cut.bin"), &s);
        nfail += st == HERD_E_FORMAT && strstr(herd_last_error(), "cut.bin");
    }
    CHECK_MSG(nfail == (int)size, "%d of %zu truncations failed cleanly", nfail, size);
    uint8_t *longer = calloc(1, size + 8);
    memcpy(longer, good, size);
    spill(at("long.bin"), longer, size + 8);
    CHECK_FAILS(herd_shard_open(at("long.bin"), &s), HERD_E_FORMAT);
    free(longer);
    size_t offs = 64; /* the offsets start after 40 + 20 + 4 bytes */
    damaged(good, size, 0, 'X', 1, "magic");
    damaged(good, size, 8, 2, 4, "version");
    damaged(good, size, 12, 3, 4, "width 3");
    damaged(good, size, 12, 4, 4, "width 4 (sizes then wrong)");
    damaged(good, size, 16, 70000, 4, "vocab past uint16");
    damaged(good, size, 16, 0, 4, "vocab 0");
    damaged(good, size, 16, 8, 4, "an id past the vocabulary");
    damaged(good, size, 20, 1, 4, "reserved");
    damaged(good, size, 24, 11, 8, "n_tokens + 1");
    damaged(good, size, 24, UINT64_MAX / 2, 8, "huge n_tokens");
    damaged(good, size, 32, 4, 8, "n_docs + 1");
    damaged(good, size, 32, UINT64_MAX, 8, "huge n_docs");
    damaged(good, size, 60, 1, 1, "padding");
    damaged(good, size, offs, 1, 8, "offset 0 not 0");
    damaged(good, size, offs + 8, 0, 8, "empty document");
    damaged(good, size, offs + 8, 9, 8, "offsets decreasing");
    damaged(good, size, offs + 16, 11, 8, "offset past the end");
    damaged(good, size, offs + 24, 9, 8, "last offset short of n_tokens");
    damaged(good, size, offs + 24, UINT64_MAX, 8, "last offset huge");
    damaged(good, size, 40 + 2 * 4, 10, 2, "token id = vocab");
    CHECK_FAILS(herd_shard_open(at("missing.bin"), &s), HERD_E_IO);
    CHECK_OK(herd_shard_open(path, &s)); /* the good one still reads */
    herd_shard_close(&s);
    free(good);
}

static void writer_errors(void)
{
    herd_shard_writer *w;
    int ok[] = {1, 2}, bad[] = {1, 50}, neg[] = {-1};
    CHECK_FAILS(herd_shard_writer_new(at("w.bin"), 0, &w), HERD_E_ARG);
    CHECK_FAILS(herd_shard_writer_new(at("nodir/w.bin"), 10, &w), HERD_E_IO);
    CHECK_OK(herd_shard_writer_new(at("w.bin"), 50, &w));
    CHECK(exists(at("w.bin.tmp")) && !exists(at("w.bin")));
    CHECK_OK(herd_shard_writer_add(w, ok, 2));
    CHECK_FAILS(herd_shard_writer_add(w, bad, 2), HERD_E_RANGE);
    CHECK_FAILS(herd_shard_writer_add(w, neg, 1), HERD_E_RANGE);
    CHECK_FAILS(herd_shard_writer_add(w, ok, 0), HERD_E_ARG);
    CHECK(herd_shard_writer_docs(w) == 1 && herd_shard_writer_tokens(w) == 2);
    herd_shard_writer_abort(w);
    CHECK(!exists(at("w.bin.tmp")) && !exists(at("w.bin")));
    /* An empty shard is a valid file. */
    CHECK_OK(herd_shard_writer_new(at("empty.bin"), 50, &w));
    CHECK_OK(herd_shard_writer_finish(w));
    herd_shard s;
    CHECK_OK(herd_shard_open(at("empty.bin"), &s));
    CHECK(s.n_tokens == 0 && s.n_docs == 0);
    herd_shard_close(&s);
}

/* A disk that fills up (a file size limit in a child): the write fails,
 * nothing is left under the new name and an old file is untouched. */
static void full_disk(void)
{
    int a[] = {1, 2, 3}, *docs[] = {a}, lens[] = {3};
    const char *path = at("full.bin");
    CHECK_OK(write_docs(path, 100, docs, lens, 1));
    size_t n_old;
    uint8_t *old = slurp(path, &n_old);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {20000, 20000};
        setrlimit(RLIMIT_FSIZE, &rl);
        herd_shard_writer *w;
        int ids[1000];
        for (int i = 0; i < 1000; i++)
            ids[i] = i % 100;
        if (herd_shard_writer_new(path, 100, &w) != HERD_OK)
            _exit(3);
        for (int d = 0; d < 100; d++)
            if (herd_shard_writer_add(w, ids, 1000) != HERD_OK) {
                herd_shard_writer_abort(w);
                _exit(0);
            }
        _exit(herd_shard_writer_finish(w) == HERD_E_IO ? 0 : 4);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    CHECK(!exists(at("full.bin.tmp")));
    size_t n_now;
    uint8_t *now = slurp(path, &n_now);
    CHECK(n_now == n_old && !memcmp(now, old, n_old));
    free(old);
    free(now);
}

/* A long shard: doc_of against a linear scan, with uint32 ids. */
static void many_docs(void)
{
    enum { N = 3000 };
    static int lens[N], *docs[N], pool[N * 8];
    uint64_t x = 1;
    int k = 0;
    for (int d = 0; d < N; d++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        lens[d] = 1 + (int)(x >> 61);
        docs[d] = pool + k;
        for (int i = 0; i < lens[d]; i++)
            pool[k++] = (int)((x >> 20) % 100000);
    }
    CHECK_OK(write_docs(at("many.bin"), 100000, docs, lens, N));
    herd_shard s;
    CHECK_OK(herd_shard_open(at("many.bin"), &s));
    CHECK(s.width == 4 && s.n_docs == N && s.n_tokens == (uint64_t)k);
    int bad = 0;
    for (int d = 0, i = 0; d < N; d++)
        for (int j = 0; j < lens[d]; j++, i++)
            bad += herd_shard_doc_of(&s, (uint64_t)i) != (uint64_t)d ||
                   herd_shard_token(&s, (uint64_t)i) != pool[i];
    CHECK(bad == 0);
    herd_shard_close(&s);
}

int main(void)
{
    strcpy(dir, "/tmp/herd_shard_XXXXXX");
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary folder");
    round_trip(1000, 2);
    round_trip(65536, 2);
    round_trip(65537, 4);
    round_trip(128256, 4);
    corruption();
    writer_errors();
    full_disk();
    many_docs();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    TEST_END();
}

/* herd train-tokenizer: learns a SentencePiece BPE vocabulary (Llama's
 * settings) from text files and writes it as a tokenizer.model that herd,
 * SentencePiece and transformers load. Files are read one at a time, a
 * chunk of whole lines at a time, into the word counts; then the merges
 * run; the model is written under a temporary name and renamed. */
#include "cli/cli.h"
#include "cli/progress.h"
#include "base/file.h"
#include "formats/convert.h"
#include "tokenizer/bpe_train.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_INPUTS 4096
#define CHUNK (4u << 20)

typedef struct {
    const char *in[MAX_INPUTS];
    int n_in;
    const char *out;
    int vocab, jsonl, force, quiet;
    float coverage;
    cli_progress bar;
    int merging;           /* the merge bar has started */
} tt_opts;

static void help(FILE *f)
{
    fprintf(f,
"usage: herd train-tokenizer -i FILE [-i FILE ...] -o OUT [--vocab-size N]\n"
"                            [--jsonl] [--character-coverage C] [-f] [-q]\n"
"Learns a SentencePiece BPE vocabulary from text, with Llama's settings:\n"
"<unk> <s> </s>, 256 byte-fallback pieces <0x00>..<0xFF>, then merged pieces\n"
"and characters; a space in front of each line, spaces as U+2581; digits are\n"
"never merged; pieces never cross the start of a word nor mix scripts, and\n"
"hold at most 16 characters. Each line is a sentence: a newline is never part\n"
"of a piece. Characters rarer than the coverage get no piece and encode as\n"
"their bytes. The same text always gives the same vocabulary. OUT is a\n"
"tokenizer.model that herd (-z), SentencePiece and transformers load.\n\n"
"  -i, --input FILE        a text file (UTF-8); repeat for more\n"
"  -o, --output OUT        where to write the tokenizer.model\n"
"  --vocab-size N          pieces in all, specials and bytes included\n"
"                          (default 32000, Llama's)\n"
"  --jsonl                 the inputs hold one JSON object a line; its \"text\"\n"
"                          string is the text\n"
"  --character-coverage C  the fraction of the text's characters that get a\n"
"                          piece (default 0.9995, SentencePiece's)\n"
"  -f, --force             replace OUT if it exists\n"
"  -q, --quiet             no progress or summary on stderr\n"
"  -h, --help              this help\n");
}

/* 1: parsed, 0: error (printed), -1: help printed. */
static int parse_flag(int argc, char **argv, int *i, tt_opts *o)
{
    const char *a = argv[*i], *v;
    if (!strcmp(a, "-f") || !strcmp(a, "--force"))
        return o->force = 1;
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
        return o->quiet = 1;
    if (!strcmp(a, "--jsonl"))
        return o->jsonl = 1;
    int in = !strcmp(a, "-i") || !strcmp(a, "--input");
    int out = !strcmp(a, "-o") || !strcmp(a, "--output");
    int vs = !strcmp(a, "--vocab-size"), cc = !strcmp(a, "--character-coverage");
    if (!in && !out && !vs && !cc) {
        fprintf(stderr, "herd train-tokenizer: %s '%s' (herd train-tokenizer --help)\n",
                a[0] == '-' ? "unknown option" : "unexpected argument", a);
        return 0;
    }
    if (!(v = cli_value(argc, argv, i)))
        return 0;
    if (vs)
        return cli_int(a, v, 260, 1 << 20, &o->vocab);
    if (cc) {
        if (!cli_float(a, v, 0, 1, &o->coverage))
            return 0;
        if (o->coverage > 0)
            return 1;
        fprintf(stderr, "herd train-tokenizer: --character-coverage must be above 0\n");
        return 0;
    }
    if (out) {
        o->out = v;
        return 1;
    }
    if (o->n_in == MAX_INPUTS) {
        fprintf(stderr, "herd train-tokenizer: more than %d inputs\n", MAX_INPUTS);
        return 0;
    }
    o->in[o->n_in++] = v;
    return 1;
}

static int parse(int argc, char **argv, tt_opts *o)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            help(stdout);
            return -1;
        }
        if (!parse_flag(argc, argv, &i, o))
            return 0;
    }
    if (!o->n_in || !o->out) {
        fprintf(stderr, "herd train-tokenizer: %s is required (herd train-tokenizer --help)\n",
                !o->n_in ? "-i FILE" : "-o OUT");
        return 0;
    }
    return 1;
}

/* Ends a progress line left open on a terminal. */
static void bar_break(cli_progress *b)
{
    if (!b)
        return;
    if (b->drawn && b->tty && !b->quiet)
        fputc('\n', stderr);
    b->drawn = 0;
}

/* Prints the library's message as "herd train-tokenizer: ..."; returns 1. */
static int fail(cli_progress *b)
{
    bar_break(b);
    const char *m = herd_last_error(), *p = "train-tokenizer: ";
    if (!strncmp(m, p, strlen(p)))
        m += strlen(p);
    fprintf(stderr, "herd train-tokenizer: %s\n", m);
    return 1;
}

/* The length of the next chunk of whole lines at s (n bytes left). */
static size_t chunk(const char *s, size_t n)
{
    if (n <= CHUNK)
        return n;
    const char *nl = memrchr(s, '\n', CHUNK);
    if (!nl)
        nl = memchr(s + CHUNK, '\n', n - CHUNK);
    return nl ? (size_t)(nl - s) + 1 : n;
}

static int add_text(herd_bpe_counter *c, tt_opts *o, const char *s, size_t n, double done)
{
    for (size_t at = 0, k; at < n; at += k) {
        k = chunk(s + at, n - at);
        if (herd_bpe_counter_add(c, s + at, k) != HERD_OK)
            return fail(&o->bar);
        progress_update(&o->bar, done + (double)(at + k));
    }
    return 0;
}

/* One {"text": ...} object a line; blank lines are skipped. */
static int add_jsonl(herd_bpe_counter *c, tt_opts *o, const char *path, const char *s,
                     size_t n, double done)
{
    long line = 0;
    for (size_t at = 0, k; at < n; at += k) {
        const char *nl = memchr(s + at, '\n', n - at);
        k = nl ? (size_t)(nl - (s + at)) + 1 : n - at;
        line++;
        size_t b = at;
        while (b < at + k && strchr(" \t\r\n", s[b]))
            b++;
        if (b == at + k)
            continue;
        cJSON *j = cJSON_ParseWithLength(s + at, k);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "text");
        int ok = cJSON_IsObject(j) && cJSON_IsString(t);
        if (ok && herd_bpe_counter_add(c, t->valuestring, strlen(t->valuestring)) != HERD_OK) {
            cJSON_Delete(j);
            return fail(&o->bar);
        }
        cJSON_Delete(j);
        if (!ok) {
            bar_break(&o->bar);
            fprintf(stderr, "herd train-tokenizer: %s:%ld: not a JSON object with a \"text\" "
                    "string\n", path, line);
            return 1;
        }
        progress_update(&o->bar, done + (double)(at + k));
    }
    return 0;
}

/* Counts the words of every input; *bytes: how much was read. */
static int read_inputs(herd_bpe_counter *c, tt_opts *o, double *bytes)
{
    double done = 0;
    progress_start(&o->bar, "herd train-tokenizer: reading", "MB", 0, 1e6, o->quiet);
    for (int i = 0; i < o->n_in; i++) {
        herd_map m;
        if (herd_map_file(o->in[i], &m) != HERD_OK)
            return fail(&o->bar);
        if (m.size == 0) {
            fprintf(stderr, "herd train-tokenizer: %s is empty\n", o->in[i]);
            return 1;
        }
        int r = o->jsonl ? add_jsonl(c, o, o->in[i], m.data, m.size, done)
                         : add_text(c, o, m.data, m.size, done);
        done += (double)m.size;
        herd_unmap(&m);
        if (r)
            return r;
    }
    progress_done(&o->bar, done);
    o->bar.drawn = 0;
    *bytes = done;
    return 0;
}

static void on_merge(void *user, int done, int total)
{
    tt_opts *o = user;
    if (!o->merging) {
        progress_start(&o->bar, "herd train-tokenizer: merging", "merges", total, 1, o->quiet);
        o->merging = 1;
    }
    progress_update(&o->bar, done);
    if (done == total) {
        progress_done(&o->bar, done);
        o->bar.drawn = 0;
    }
}

/* A temporary folder beside OUT (made before the work, so that an output
 * that cannot be written fails at once). */
static int make_tmp(const tt_opts *o, char *dir, size_t n)
{
    if (snprintf(dir, n, "%s.tmpXXXXXX", o->out) >= (int)n) {
        fprintf(stderr, "herd train-tokenizer: %s: path too long\n", o->out);
        return 1;
    }
    if (!mkdtemp(dir)) {
        fprintf(stderr, "herd train-tokenizer: cannot write beside %s: %s\n", o->out,
                strerror(errno));
        return 1;
    }
    return 0;
}

/* Writes the model into the temporary folder, then renames it to OUT. */
static int write_model(const herd_tokenizer *t, const tt_opts *o, const char *dir)
{
    char file[PATH_MAX + 32];
    snprintf(file, sizeof file, "%s/tokenizer.model", dir);
    int r = herd_hf_write_spm(t, dir) != HERD_OK ? fail(NULL) : 0;
    if (!r && rename(file, o->out) != 0) {
        fprintf(stderr, "herd train-tokenizer: %s: %s\n", o->out, strerror(errno));
        r = 1;
    }
    unlink(file);
    return r;
}

static int check_output(const tt_opts *o)
{
    if (herd_is_dir(o->out)) {
        fprintf(stderr, "herd train-tokenizer: %s is a folder: give a file name\n", o->out);
        return 1;
    }
    if (!o->force && access(o->out, F_OK) == 0) {
        fprintf(stderr, "herd train-tokenizer: %s exists (--force to replace it)\n", o->out);
        return 1;
    }
    return 0;
}

static void summary(const tt_opts *o, const herd_bpe_train_stats *st, double bytes, double s)
{
    fprintf(stderr, "herd train-tokenizer: wrote %s: %d pieces = 259 special and byte + %d "
            "characters + %d merges (%d rare characters left to bytes); %.2f MB, %zu distinct "
            "words, %.1f s (%.2f MB/s)\n", o->out, o->vocab, st->n_alphabet, st->n_merges,
            st->n_rare, bytes / 1e6, st->n_words, s, s > 0 ? bytes / 1e6 / s : 0);
}

int cli_train_tokenizer(int argc, char **argv)
{
    tt_opts o = {.vocab = 32000};
    int r = parse(argc, argv, &o);
    if (r <= 0)
        return r < 0 ? 0 : 2;
    char dir[PATH_MAX];
    if (check_output(&o) || make_tmp(&o, dir, sizeof dir))
        return 1;
    double t0 = progress_now(), bytes = 0;
    herd_bpe_counter *c;
    if (herd_bpe_counter_new(&c) != HERD_OK) {
        rmdir(dir);
        return fail(NULL);
    }
    herd_bpe_train_stats st = {0};
    herd_tokenizer *t = NULL;
    r = read_inputs(c, &o, &bytes);
    if (!r) {
        herd_bpe_train_params p = {.vocab_size = o.vocab, .character_coverage = o.coverage,
                                   .progress = on_merge, .user = &o, .stats = &st};
        r = herd_bpe_train_counted(c, &p, &t) != HERD_OK ? fail(&o.bar) : 0;
    }
    herd_bpe_counter_free(c);
    if (!r)
        r = write_model(t, &o, dir);
    rmdir(dir);
    herd_tokenizer_free(t);
    if (!r && !o.quiet)
        summary(&o, &st, bytes, progress_now() - t0);
    return r;
}

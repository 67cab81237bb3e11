/* herd prepare: text files or JSONL ({"text": ...} per line) to the token
 * shards herd train reads (format in train/data.h). Each document becomes
 * BOS + text + EOS; documents are tokenized a batch at a time on all cores
 * and written in input order, each to the training or the validation shard
 * by a hash of (seed, document index). */
#include "cli/cli.h"
#include "cli/progress.h"
#include "train/data.h"
#include "base/error.h"
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { SEP_FILE, SEP_LINE, SEP_BLANK };
enum { BATCH_DOCS = 256, BATCH_BYTES = 4 << 20 };
#define MAX_DOC_BYTES ((size_t)1 << 30)

typedef struct {
    const char *tokenizer, *model, *prefix;
    const char **inputs;
    int n_inputs, sep, quiet, skip_bad, threads;
    float val_fraction;
    unsigned long long seed;
} prep_opts;

/* Documents waiting to be tokenized together; texts point into the mapped
 * input or into a parsed JSON line (json, freed after the batch). */
typedef struct {
    const char *text[BATCH_DOCS];
    size_t len[BATCH_DOCS];
    cJSON *json[BATCH_DOCS];
    int *ids[BATCH_DOCS];
    int cap[BATCH_DOCS], n_ids[BATCH_DOCS];
    herd_status st[BATCH_DOCS];
    int n;
    size_t bytes;
} doc_batch;

typedef struct {
    const prep_opts *o;
    const herd_tokenizer *tok;
    herd_shard_writer *w[2];           /* 0: train, 1: validation */
    char *path[2];
    uint64_t n_docs, docs[2], tokens[2], bad_lines;
    int *held;                         /* document 0, placed last (see place) */
    int n_held, holding;
    doc_batch b;
    cli_progress prog;
    double done;                       /* input bytes read */
} prep;

static void help(FILE *f)
{
    fprintf(f,
"usage: herd prepare (-z TOKENIZER | -m MODEL) -i FILE [-i FILE ...] -o PREFIX\n"
"                    [--val-fraction F] [--doc-sep file|line|blank] [--seed S]\n"
"                    [--skip-bad] [-t N] [-q]\n"
"Tokenizes a corpus for pretraining into PREFIX.train.bin and PREFIX.val.bin:\n"
"token shards (uint16 ids when the vocabulary has at most 65536, else uint32)\n"
"that keep where each document starts. Each document is BOS + text + EOS (EOS\n"
"when the tokenizer has one); special tokens written in the text stay text.\n"
"Files ending in .jsonl hold one JSON object per line whose \"text\" string is\n"
"a document; other files are plain text cut by --doc-sep. Empty and\n"
"whitespace-only documents are left out. Each document goes to validation\n"
"with probability F, by a hash of the seed and its index (the same inputs\n"
"and seed always give the same split), and each side gets at least one.\n\n"
"  -z, --tokenizer PATH   tokenizer file (see herd tokenize --help)\n"
"  -m, --model PATH       use the tokenizer a model carries\n"
"  -i, --input FILE       an input file (repeat for more; read in order)\n"
"  -o, --output PREFIX    write PREFIX.train.bin and PREFIX.val.bin\n"
"  --val-fraction F       share of documents for validation (default 0.05)\n"
"  --doc-sep MODE         plain text documents: file (a whole file), line\n"
"                         (each line) or blank (each paragraph between blank\n"
"                         lines; the default)\n"
"  --seed S               seed of the split (default 0)\n"
"  --skip-bad             skip and count JSONL lines that are not an object\n"
"                         with a \"text\" string (default: stop at the first)\n"
"  -t, --threads N        tokenizer threads (default: all cores)\n"
"  -q, --quiet            no progress bar\n"
"  -h, --help             this help\n"
"Each shard is written as PATH.tmp and renamed when complete: a failure\n"
"leaves no partial file.\n");
}

/* Where the value of a flag that takes a string goes; NULL for others. */
static const char **str_flag(prep_opts *o, const char *a)
{
    if (!strcmp(a, "-z") || !strcmp(a, "--tokenizer"))
        return &o->tokenizer;
    if (!strcmp(a, "-m") || !strcmp(a, "--model"))
        return &o->model;
    if (!strcmp(a, "-o") || !strcmp(a, "--output"))
        return &o->prefix;
    return NULL;
}

/* A flag with a value other than a plain string: 1 parsed, 0 error, -1 not one. */
static int value_flag(prep_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i], *v;
    int input = !strcmp(a, "-i") || !strcmp(a, "--input");
    int val = !strcmp(a, "--val-fraction"), sep = !strcmp(a, "--doc-sep");
    int seed = !strcmp(a, "--seed"), thr = !strcmp(a, "-t") || !strcmp(a, "--threads");
    if (!input && !val && !sep && !seed && !thr)
        return -1;
    if (!(v = cli_value(argc, argv, i)))
        return 0;
    if (input) {
        o->inputs[o->n_inputs++] = v;
        return 1;
    }
    if (val)
        return cli_float(a, v, 0, 1, &o->val_fraction);
    if (seed)
        return cli_u64(a, v, &o->seed);
    if (thr)
        return cli_int(a, v, 1, 4096, &o->threads);
    o->sep = !strcmp(v, "file") ? SEP_FILE : !strcmp(v, "line") ? SEP_LINE
             : !strcmp(v, "blank") ? SEP_BLANK : -1;
    if (o->sep < 0)
        fprintf(stderr, "herd prepare: --doc-sep: '%s' is not file, line or blank\n", v);
    return o->sep >= 0;
}

/* 1: parsed, 0: error, -1: help printed. */
static int parse(int argc, char **argv, prep_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return -1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--skip-bad")) {
            o->skip_bad = 1;
        } else if (str_flag(o, a)) {
            const char *v = cli_value(argc, argv, &i);
            if (!v)
                return 0;
            *str_flag(o, a) = v;
        } else if ((r = value_flag(o, argc, argv, &i)) >= 0) {
            if (!r)
                return 0;
        } else {
            fprintf(stderr, "herd prepare: %s '%s' (herd prepare --help)\n",
                    a[0] == '-' ? "unknown option" : "unexpected argument", a);
            return 0;
        }
    }
    const char *miss = !o->tokenizer && !o->model ? "-z TOKENIZER or -m MODEL"
                       : !o->n_inputs ? "-i FILE" : !o->prefix ? "-o PREFIX" : NULL;
    if (miss || (o->tokenizer && o->model)) {
        fprintf(stderr, "herd prepare: %s%s (herd prepare --help)\n",
                miss ? miss : "give -z or -m, not both", miss ? " is required" : "");
        return 0;
    }
    return 1;
}

/* ---- the split ---- */

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* 1 when document index goes to validation. */
static int hashed_side(const prep *p, uint64_t index)
{
    uint64_t h = mix64(mix64(p->o->seed) ^ mix64(index));
    return (double)(h >> 11) * 0x1p-53 < p->o->val_fraction;
}

static int write_doc(prep *p, int side, const int *ids, int n)
{
    herd_status s = herd_shard_writer_add(p->w[side], ids, (size_t)n);
    if (s != HERD_OK)
        return cli_fail(s, "");
    p->docs[side]++;
    p->tokens[side] += (uint64_t)n;
    return 0;
}

/* Document 0 waits until both sides have a document from the others (then
 * it goes where its hash says) or the input ends (then it goes to a side
 * that has none): so each side gets one whenever there are two. */
static int release_held(prep *p, int side)
{
    p->holding = 0;
    return write_doc(p, side, p->held, p->n_held);
}

static int place(prep *p, const int *ids, int n)
{
    uint64_t index = p->n_docs++;
    if (index == 0) {
        if (!(p->held = malloc((size_t)n * sizeof *ids)))
            return cli_fail(HERD_OK, "out of memory");
        memcpy(p->held, ids, (size_t)n * sizeof *ids);
        p->n_held = n;
        p->holding = 1;
        return 0;
    }
    if (write_doc(p, hashed_side(p, index), ids, n))
        return 1;
    if (p->holding && p->docs[0] && p->docs[1])
        return release_held(p, hashed_side(p, 0));
    return 0;
}

/* ---- tokenizing a batch ---- */

static herd_status encode(const herd_tokenizer *t, const char *text, size_t len, int **ids,
                          int *cap, int *n)
{
    for (;;) {
        herd_status s = herd_tokenize(t, text, len, 1, 1, *ids, *cap, n);
        if (s != HERD_OK || *n <= *cap)
            return s;
        int *q = realloc(*ids, (size_t)*n * sizeof *q);
        if (!q)
            return herd_fail(HERD_E_NOMEM, "out of memory for %d tokens", *n);
        *ids = q, *cap = *n;
    }
}

static void progress_break(prep *p)
{
    if (p->prog.drawn && p->prog.tty && !p->prog.quiet)
        fputc('\n', stderr);
}

/* Drops the queued documents (after an error). */
static void discard(prep *p)
{
    for (int i = 0; i < p->b.n; i++) {
        cJSON_Delete(p->b.json[i]);
        p->b.json[i] = NULL;
    }
    p->b.n = 0;
    p->b.bytes = 0;
}

static int flush(prep *p)
{
    doc_batch *b = &p->b;
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < b->n; i++)
        b->st[i] = encode(p->tok, b->text[i], b->len[i], &b->ids[i], &b->cap[i], &b->n_ids[i]);
    int rc = 0;
    for (int i = 0; i < b->n && !rc; i++) {
        herd_status s = b->st[i];
        if (s != HERD_OK) /* again on this thread, for the message */
            s = encode(p->tok, b->text[i], b->len[i], &b->ids[i], &b->cap[i], &b->n_ids[i]);
        if (s != HERD_OK) {
            progress_break(p);
            rc = cli_fail(s, "tokenize");
        } else {
            rc = place(p, b->ids[i], b->n_ids[i]);
        }
    }
    discard(p);
    progress_update(&p->prog, p->done);
    return rc;
}

/* Queues one document (json: freed with the batch). done: input bytes read
 * once it is. */
static int add_doc(prep *p, const char *text, size_t len, cJSON *json, double done)
{
    doc_batch *b = &p->b;
    if (len > MAX_DOC_BYTES) {
        cJSON_Delete(json);
        progress_break(p);
        fprintf(stderr, "herd prepare: a document of %zu bytes (at most %zu; try --doc-sep "
                "line or blank)\n", len, MAX_DOC_BYTES);
        return 1;
    }
    b->text[b->n] = text;
    b->len[b->n] = len;
    b->json[b->n++] = json;
    b->bytes += len;
    p->done = done;
    return b->n == BATCH_DOCS || b->bytes >= BATCH_BYTES ? flush(p) : 0;
}

/* ---- reading the inputs ---- */

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v')
            return 0;
    return 1;
}

/* Line [*at, end of line) of d (n bytes): its length without "\n" or
 * "\r\n" in *len; moves *at past it. */
static const char *next_line(const char *d, size_t n, size_t *at, size_t *len)
{
    const char *s = d + *at, *nl = memchr(s, '\n', n - *at);
    size_t e = nl ? (size_t)(nl - d) : n;
    *len = e - *at;
    if (*len && s[*len - 1] == '\r')
        --*len;
    *at = nl ? e + 1 : n;
    return s;
}

static int read_text(prep *p, const char *d, size_t n, double base)
{
    if (p->o->sep == SEP_FILE)
        return is_blank(d, n) ? 0 : add_doc(p, d, n, NULL, base + (double)n);
    size_t at = 0, len, start = 0, end = 0;
    int in_par = 0;
    while (at < n) {
        const char *s = next_line(d, n, &at, &len);
        int blank = is_blank(s, len);
        size_t off = (size_t)(s - d);
        if (p->o->sep == SEP_LINE) {
            if (!blank && add_doc(p, s, len, NULL, base + (double)at))
                return 1;
        } else if (blank) {
            if (in_par && add_doc(p, d + start, end - start, NULL, base + (double)at))
                return 1;
            in_par = 0;
        } else {
            start = in_par ? start : off;
            end = off + len;
            in_par = 1;
        }
    }
    return in_par ? add_doc(p, d + start, end - start, NULL, base + (double)n) : 0;
}

/* A \u0000 escape (not itself escaped) in raw JSON. */
static int has_nul_escape(const char *s, size_t n)
{
    for (size_t i = 0; i + 6 <= n; i++) {
        if (memcmp(s + i, "\\u0000", 6) != 0)
            continue;
        size_t bs = 0;
        while (bs < i && s[i - bs - 1] == '\\')
            bs++;
        if (bs % 2 == 0)
            return 1;
    }
    return 0;
}

/* The text of one JSONL line, or NULL with the reason in *why. */
static cJSON *json_doc(const char *line, size_t len, const char **text, const char **why)
{
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    cJSON *t = doc ? cJSON_GetObjectItemCaseSensitive(doc, "text") : NULL;
    *why = !doc || !end || !is_blank(end, len - (size_t)(end - line)) ? "not valid JSON"
           : !cJSON_IsObject(doc) ? "not a JSON object"
           : !cJSON_IsString(t) ? "no \"text\" string" : NULL;
    if (!*why && has_nul_escape(line, len)) /* cJSON would cut the text there */
        *why = "\\u0000 (NUL) in a JSON string is not supported";
    if (*why) {
        cJSON_Delete(doc);
        return NULL;
    }
    *text = t->valuestring;
    return doc;
}

static int read_jsonl(prep *p, const char *path, const char *d, size_t n, double base)
{
    size_t at = 0, len;
    for (long lineno = 1; at < n; lineno++) {
        const char *s = next_line(d, n, &at, &len), *text, *why;
        if (is_blank(s, len))
            continue;
        cJSON *doc = json_doc(s, len, &text, &why);
        if (!doc && !p->o->skip_bad) {
            progress_break(p);
            fprintf(stderr, "herd prepare: %s:%ld: %s (--skip-bad skips such lines)\n", path,
                    lineno, why);
            return 1;
        }
        if (!doc)
            p->bad_lines++;
        else if (is_blank(text, strlen(text)))
            cJSON_Delete(doc);
        else if (add_doc(p, text, strlen(text), doc, base + (double)at))
            return 1;
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* One input file, whose first byte is input byte base. */
static int read_file(prep *p, const char *path, double base)
{
    herd_map m;
    herd_status s = herd_map_file(path, &m);
    if (s != HERD_OK)
        return cli_fail(s, "");
    const char *d = m.data ? (const char *)m.data : "";
    int rc = ends_with(path, ".jsonl") ? read_jsonl(p, path, d, m.size, base)
                                       : read_text(p, d, m.size, base);
    if (!rc)
        rc = flush(p); /* the batch points into the map */
    discard(p);
    herd_unmap(&m);
    return rc;
}

/* ---- the command ---- */

static int open_tokenizer(const prep_opts *o, herd_model **m, herd_tokenizer **own,
                          const herd_tokenizer **tok)
{
    herd_status s;
    if (o->tokenizer) {
        if ((s = herd_tokenizer_open(o->tokenizer, own)) != HERD_OK)
            return cli_fail(s, "");
        *tok = *own;
        return 0;
    }
    if ((s = herd_model_open(o->model, m)) != HERD_OK)
        return cli_fail(s, "");
    if (!(*tok = herd_model_tokenizer(*m))) {
        fprintf(stderr, "herd prepare: %s carries no tokenizer: give one with -z\n", o->model);
        return 1;
    }
    return 0;
}

/* The total size of the inputs, checking that each is a readable file. */
static int input_bytes(const prep_opts *o, double *total)
{
    *total = 0;
    for (int i = 0; i < o->n_inputs; i++) {
        struct stat st;
        if (stat(o->inputs[i], &st) != 0 || !S_ISREG(st.st_mode)) {
            fprintf(stderr, "herd prepare: %s: no such file\n", o->inputs[i]);
            return 1;
        }
        *total += (double)st.st_size;
    }
    return 0;
}

static int open_writers(prep *p, int vocab)
{
    static const char *ext[2] = {".train.bin", ".val.bin"};
    for (int k = 0; k < 2; k++) {
        size_t n = strlen(p->o->prefix) + strlen(ext[k]) + 1;
        if (!(p->path[k] = malloc(n)))
            return cli_fail(HERD_OK, "out of memory");
        snprintf(p->path[k], n, "%s%s", p->o->prefix, ext[k]);
        herd_status s = herd_shard_writer_new(p->path[k], vocab, &p->w[k]);
        if (s != HERD_OK)
            return cli_fail(s, "");
    }
    return 0;
}

/* Places the held document, checks both sides have one, completes both
 * shards (or neither). */
static int finish(prep *p)
{
    if (p->holding && release_held(p, !p->docs[1] ? 1 : !p->docs[0] ? 0 : hashed_side(p, 0)))
        return 1;
    herd_status s = herd_shard_writer_finish(p->w[0]);
    p->w[0] = NULL;
    if (s == HERD_OK) {
        s = herd_shard_writer_finish(p->w[1]);
        p->w[1] = NULL;
        if (s != HERD_OK)
            remove(p->path[0]);
    }
    return s != HERD_OK ? cli_fail(s, "") : 0;
}

static void summary(const prep *p, double seconds)
{
    uint64_t tokens = p->tokens[0] + p->tokens[1];
    printf("herd prepare: %llu documents, %.1f MB in %.1f s, %.0f tokens/s",
           (unsigned long long)p->n_docs, p->done / 1e6, seconds,
           seconds > 0 ? (double)tokens / seconds : 0.0);
    if (p->bad_lines)
        printf(", %llu bad lines skipped", (unsigned long long)p->bad_lines);
    printf("\n  train:      %llu documents, %llu tokens -> %s\n"
           "  validation: %llu documents, %llu tokens -> %s\n",
           (unsigned long long)p->docs[0], (unsigned long long)p->tokens[0], p->path[0],
           (unsigned long long)p->docs[1], (unsigned long long)p->tokens[1], p->path[1]);
}

static int run(prep *p, double total)
{
    if (open_writers(p, herd_tokenizer_n_vocab(p->tok)))
        return 1;
    progress_start(&p->prog, "prepare", "MB", total, 1e6, p->o->quiet);
    double base = 0, t0 = progress_now();
    for (int i = 0; i < p->o->n_inputs; i++) {
        struct stat st;
        if (read_file(p, p->o->inputs[i], base))
            return 1;
        base += stat(p->o->inputs[i], &st) == 0 ? (double)st.st_size : 0;
        p->done = base;
    }
    if (p->n_docs < 2) {
        progress_break(p);
        fprintf(stderr, "herd prepare: %s: need at least 2 documents (one for training, "
                "one for validation)\n", p->n_docs ? "only 1 document" : "no documents in the "
                "input");
        return 1;
    }
    progress_done(&p->prog, p->done);
    if (finish(p))
        return 1;
    summary(p, progress_now() - t0);
    return 0;
}

int cli_prepare(int argc, char **argv)
{
    double total = 0;
    const char **inputs = calloc((size_t)(argc > 0 ? argc : 1), sizeof *inputs);
    prep_opts o = {.inputs = inputs, .sep = SEP_BLANK, .val_fraction = 0.05f};
    int r = inputs ? parse(argc, argv, &o) : 0;
    if (r <= 0 || input_bytes(&o, &total)) {
        free(inputs);
        return r < 0 ? 0 : r == 0 ? 2 : 1;
    }
    if (o.threads)
        herd_set_threads(o.threads);
    herd_model *m = NULL;
    herd_tokenizer *own = NULL;
    prep *p = calloc(1, sizeof *p);
    if (!p)
        return cli_fail(HERD_OK, "out of memory");
    p->o = &o;
    int rc = open_tokenizer(&o, &m, &own, &p->tok) || run(p, total);
    for (int k = 0; k < 2; k++) {
        herd_shard_writer_abort(p->w[k]);
        free(p->path[k]);
    }
    for (int i = 0; i < BATCH_DOCS; i++)
        free(p->b.ids[i]);
    free(p->held);
    free(p);
    herd_tokenizer_free(own);
    herd_model_free(m);
    free(inputs);
    return rc;
}

/* herd quantize: a GGUF model rewritten in Q8_0, Q4_0, Q4_K_M or Q6_K (or
 * F16/BF16/F32), with llama.cpp's llama-quantize arguments and its choice
 * of a type for each tensor. One line per tensor on stderr, then the
 * totals. */
#include "cli/cli.h"
#include "formats/quantize.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *pos[4];   /* IN OUT TYPE [NTHREADS] */
    int n_pos, threads, force, quiet;
} quantize_opts;

static void help(FILE *f)
{
    fprintf(f,
"usage: herd quantize [options] IN.gguf OUT.gguf TYPE [NTHREADS]\n"
"Writes the GGUF model IN to OUT with its weight matrices quantized, as\n"
"llama.cpp's llama-quantize does (same argument order, same choice of a type\n"
"for each tensor, same reference quantizers bit for bit). Every metadata pair\n"
"(tokenizer, chat template, rope settings, ...) is carried over;\n"
"general.file_type says TYPE. Norm weights stay F32.\n\n"
"TYPE (any case, or llama.cpp's number):\n"
"  Q8_0    (7)  8.5 bits per weight\n"
"  Q4_0    (2)  4.5 bits; output.weight Q6_K\n"
"  Q4_K_M  (15) Q4_K, with Q6_K for output.weight and for attn_v and ffn_down\n"
"               in the first and last eighth of the layers and every third\n"
"               one between\n"
"  Q6_K    (18) 6.56 bits\n"
"  F16 (1), BF16 (32), F32 (0): every matrix in that type\n"
"A matrix whose rows are no whole number of its type's blocks (256 values for\n"
"Q4_K/Q6_K, 32 for Q4_0/Q8_0) falls back as in llama.cpp: Q6_K to Q8_0, Q4_K\n"
"to Q8_0 (llama.cpp: Q5_0, which herd lacks), and to F16 when rows are not a\n"
"multiple of 32. Each fallback is reported.\n\n"
"  -t, --threads N        threads (default: all cores; NTHREADS says the same)\n"
"  -f, --force            replace OUT if it exists\n"
"  -q, --quiet            no per-tensor lines\n"
"  -h, --help             this help\n"
"OUT is written as OUT.tmp and renamed when complete: a failure leaves nothing\n"
"behind and never damages an existing OUT. An already quantized IN is\n"
"dequantized first (with a warning: quantize the original if you have it).\n");
}

/* 1: parsed, 0: error, -1: help printed. */
static int parse(int argc, char **argv, quantize_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            return -1;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            o->force = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_int(a, v, 1, 4096, &o->threads))
                return 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "herd quantize: unknown option '%s' (herd quantize --help)\n", a);
            return 0;
        } else if (o->n_pos < 4) {
            o->pos[o->n_pos++] = a;
        } else {
            fprintf(stderr, "herd quantize: unexpected argument '%s' (herd quantize --help)\n",
                    a);
            return 0;
        }
    }
    if (o->n_pos < 3) {
        fprintf(stderr, "herd quantize: IN.gguf OUT.gguf TYPE are required (herd quantize "
                "--help)\n");
        return 0;
    }
    if (o->n_pos == 4 && !cli_int("NTHREADS", o->pos[3], 1, 4096, &o->threads))
        return 0;
    return 1;
}

static double mib(uint64_t b)
{
    return (double)b / (1024.0 * 1024.0);
}

static void done(void *user, const herd_gguf_tensor_report *r)
{
    const quantize_opts *o = user;
    if (o->quiet)
        return;
    char shape[48];
    if (r->rows == 1)
        snprintf(shape, sizeof shape, "[%lld]", (long long)r->cols);
    else
        snprintf(shape, sizeof shape, "[%lld, %lld]", (long long)r->cols, (long long)r->rows);
    fprintf(stderr, "[%3d/%3d] %-28s %-14s %-4s -> %-4s %9.3f MiB -> %9.3f MiB\n",
            r->index + 1, r->count, r->name, shape, herd_type_name(r->from),
            herd_type_name(r->to), mib(r->in_bytes), mib(r->out_bytes));
}

static void warn(void *user, const char *msg)
{
    (void)user;
    fprintf(stderr, "herd quantize: warning: %s\n", msg);
}

int cli_quantize(int argc, char **argv)
{
    quantize_opts o = {0};
    int r = parse(argc, argv, &o);
    if (r <= 0)
        return r < 0 ? 0 : 2;
    herd_ftype ft;
    if (herd_ftype_parse(o.pos[2], &ft) != HERD_OK) {
        fprintf(stderr, "herd quantize: %s\n", herd_last_error());
        return 2;
    }
    herd_set_threads(o.threads ? o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN));
    herd_quantize_opts qo = {.ftype = ft, .force = o.force, .done = done, .warn = warn,
                             .user = &o};
    herd_quantize_stats st;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    herd_status s = herd_quantize_gguf(o.pos[0], o.pos[1], &qo, &st);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (s != HERD_OK)
        return cli_fail(s, "");
    double n = st.n_elements > 0 ? (double)st.n_elements : 1;
    fprintf(stderr, "herd quantize: model size %.3f MiB (%.2f bits per weight) -> %.3f MiB "
            "(%.2f bits per weight)\n", mib(st.in_bytes), 8.0 * (double)st.in_bytes / n,
            mib(st.out_bytes), 8.0 * (double)st.out_bytes / n);
    if (st.n_fallback)
        fprintf(stderr, "herd quantize: %d of %d tensors fell back to another type (see the "
                "warnings above)\n", st.n_fallback, st.n_tensors);
    fprintf(stderr, "herd quantize: wrote %s (%s) in %.2f s\n", o.pos[1], herd_ftype_name(ft),
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return 0;
}

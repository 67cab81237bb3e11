/* herd extend-vocab: new pieces appended to a SentencePiece tokenizer (from
 * a list or from another tokenizer.model), and a model's token_embd and
 * output grown to match, as Chinese LLaMA extended Llama's vocabulary. */
#include "cli/cli.h"
#include "formats/vocab_grow.h"
#include "base/error.h"
#include "tokenizer/spm_extend.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *model, *tokenizer, *out, *pieces, *from;
    herd_grow_init init;
    int force, quiet;
} xv_opts;

static void help(FILE *f)
{
    fprintf(f,
"usage: herd extend-vocab -m MODEL -o OUT.gguf (--pieces FILE | --from TOKENIZER.model)\n"
"                         [-z TOKENIZER] [--init mean|zero] [-f]\n"
"       herd extend-vocab -z TOKENIZER.model -o OUT.model (--pieces FILE | --from T.model)\n"
"Appends new pieces to a SentencePiece tokenizer (Llama 1/2; byte-level BPE\n"
"tokenizers are refused) after its vocabulary: every old id stays what it\n"
"was. With -m, the model (GGUF, Hugging Face folder, llama2.c .bin with -z)\n"
"is written as GGUF with vocab_size grown, one new row per new piece in\n"
"token_embd (and in output when it is not tied), the extended tokenizer in\n"
"its metadata, and every other tensor exactly as it was (a quantized\n"
"token_embd or output is stored as F32). Without -m, the tokenizer -z is\n"
"written alone as a tokenizer.model that python3-sentencepiece loads.\n\n"
"  -m, --model PATH       the model to grow\n"
"  -z, --tokenizer PATH   the tokenizer to extend (default: the model's own)\n"
"  -o, --output PATH      where to write the model (GGUF) or the tokenizer\n"
"  --pieces FILE          one piece per line, UTF-8; every space in a line is\n"
"                         SentencePiece's word start \"\xE2\x96\x81\", so the line\n"
"                         \" hello\" is the piece \"\xE2\x96\x81hello\"; empty lines are skipped\n"
"  --from T.model         the NORMAL pieces of another SentencePiece model, in\n"
"                         its order (one trained on new text with herd\n"
"                         train-tokenizer: the Chinese LLaMA recipe)\n"
"  --init mean|zero       new embedding rows: the mean of the old rows\n"
"                         (default) or zero\n"
"  -f, --force            replace OUT if it exists\n"
"  -q, --quiet            no progress on stderr\n"
"  -h, --help             this help\n\n"
"Pieces already in the vocabulary are skipped. For --pieces, a piece's\n"
"missing single characters and its missing prefixes (c1c2, c1c2c3, ...) are\n"
"added before it, so that BPE, which merges two adjacent symbols whose\n"
"concatenation is a piece, can reach it left to right. Every appended piece\n"
"scores below every existing one and below the pieces appended before it.\n"
"What that guarantees, for SentencePiece and herd alike: all old merges\n"
"happen before any new one, so the new encoding of a text continues from\n"
"its old encoding. A text in whose normalized form (spaces as \"\xE2\x96\x81\", one in\n"
"front) no appended piece occurs, added characters and prefixes included,\n"
"encodes exactly as before. A text that holds one may change even if all\n"
"its characters were old pieces: where two adjacent old tokens concatenate\n"
"to a new piece (\"\xE2\x96\x81hello\" \"\xE2\x96\x81world\" with \"\xE2\x96\x81hello\xE2\x96\x81world\" added)\n"
"they merge, and a new character's piece replaces its byte-fallback\n"
"tokens. A new piece is not formed where the old encoding splits it\n"
"across other tokens (\"\xE2\x96\x81" "ab\" \"c\" leaves a new \"bc\" alone).\n");
}

static const char **flag_slot(xv_opts *o, const char *a)
{
    if (!strcmp(a, "-m") || !strcmp(a, "--model"))
        return &o->model;
    if (!strcmp(a, "-z") || !strcmp(a, "--tokenizer"))
        return &o->tokenizer;
    if (!strcmp(a, "-o") || !strcmp(a, "--output"))
        return &o->out;
    if (!strcmp(a, "--pieces"))
        return &o->pieces;
    if (!strcmp(a, "--from"))
        return &o->from;
    return NULL;
}

static int bad_flags(const char *msg)
{
    fprintf(stderr, "herd extend-vocab: %s (herd extend-vocab --help)\n", msg);
    return 0;
}

/* 1: parsed, 0: error printed, -1: help printed. */
static int parse(int argc, char **argv, xv_opts *o)
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
        } else if (!strcmp(a, "--init")) {
            if (!(v = cli_value(argc, argv, &i)))
                return 0;
            if (strcmp(v, "mean") && strcmp(v, "zero"))
                return bad_flags("--init: mean or zero");
            o->init = strcmp(v, "zero") ? HERD_GROW_MEAN : HERD_GROW_ZERO;
        } else if (flag_slot(o, a)) {
            if (!(v = cli_value(argc, argv, &i)))
                return 0;
            *flag_slot(o, a) = v;
        } else {
            fprintf(stderr, "herd extend-vocab: %s '%s' (herd extend-vocab --help)\n",
                    a[0] == '-' ? "unknown option" : "unexpected argument", a);
            return 0;
        }
    }
    if (!o->model && !o->tokenizer)
        return bad_flags("-m MODEL or -z TOKENIZER is required");
    if (!o->out)
        return bad_flags("-o OUT is required");
    if (!o->pieces == !o->from)
        return bad_flags("give exactly one of --pieces FILE and --from TOKENIZER.model");
    return 1;
}

static int fail(const char *what)
{
    fprintf(stderr, "herd extend-vocab: %s%s%s\n", what ? what : "", what ? ": " : "",
            herd_last_error());
    return 1;
}

/* The new pieces (from the file or the other tokenizer), appended to t. */
static herd_status extend(const xv_opts *o, const herd_tokenizer *t, herd_tokenizer **out,
                          herd_spm_extend_stats *st)
{
    const char **pieces = NULL;
    size_t *lens = NULL;
    char *buf = NULL;
    herd_tokenizer *from = NULL;
    int n = 0, n_other = 0;
    herd_status s;
    if (o->pieces) {
        s = herd_spm_read_pieces(o->pieces, &buf, &pieces, &lens, &n);
    } else {
        s = herd_tokenizer_open(o->from, &from);
        if (s == HERD_OK)
            s = herd_spm_normal_pieces(from, &pieces, &lens, &n, &n_other);
    }
    if (s == HERD_OK)
        s = herd_spm_extend(t, pieces, lens, n, o->pieces != NULL, out, st);
    if (s == HERD_OK && st->added == 0) {
        herd_tokenizer_free(*out);
        *out = NULL;
        s = herd_fail(HERD_E_ARG, "all %d pieces are already in the vocabulary: nothing "
                      "to add", n);
    }
    free(buf);
    free((void *)pieces);
    free(lens);
    herd_tokenizer_free(from);
    return s;
}

static void report(const xv_opts *o, const herd_spm_extend_stats *st, int before)
{
    if (o->quiet)
        return;
    fprintf(stderr, "herd extend-vocab: %d pieces added (%d given, %d characters, %d "
            "prefixes), %d skipped as already present; vocabulary %d -> %d\n",
            st->added, st->added_given, st->added_chars, st->added_prefixes, st->skipped,
            before, before + st->added);
}

static int tokenizer_only(const xv_opts *o)
{
    herd_tokenizer *t, *x;
    herd_spm_extend_stats st;
    if (herd_tokenizer_open(o->tokenizer, &t) != HERD_OK)
        return fail(NULL);
    herd_status s = extend(o, t, &x, &st);
    if (s == HERD_OK) {
        report(o, &st, herd_tokenizer_n_vocab(t));
        s = herd_spm_save(x, o->out, o->force);
        herd_tokenizer_free(x);
    }
    herd_tokenizer_free(t);
    if (s != HERD_OK)
        return fail(NULL);
    if (!o->quiet)
        fprintf(stderr, "herd extend-vocab: wrote %s\n", o->out);
    return 0;
}

static void progress(void *user, int i, int n, const char *name)
{
    const xv_opts *o = user;
    if (o->quiet)
        return;
    if (isatty(2))
        fprintf(stderr, "\r\033[Kherd extend-vocab: tensor %d/%d %s%s", i + 1, n, name,
                i + 1 == n ? "\n" : "");
}

int cli_extend_vocab(int argc, char **argv)
{
    xv_opts o = {.init = HERD_GROW_MEAN};
    int r = parse(argc, argv, &o);
    if (r <= 0)
        return r < 0 ? 0 : 2;
    if (!o.force && access(o.out, F_OK) == 0) {
        fprintf(stderr, "herd extend-vocab: %s already exists (-f replaces it)\n", o.out);
        return 1;
    }
    if (!o.model)
        return tokenizer_only(&o);
    herd_model *m;
    if (herd_model_load(o.model, o.tokenizer, &m) != HERD_OK)
        return fail(NULL);
    herd_tokenizer *x = NULL;
    herd_spm_extend_stats st;
    int before = m->cfg.vocab_size;
    herd_status s = m->tok ? extend(&o, m->tok, &x, &st)
                           : herd_fail(HERD_E_ARG, "%s carries no tokenizer (give its "
                                       "tokenizer.model with -z)", o.model);
    if (s == HERD_OK)
        report(&o, &st, before);
    if (s == HERD_OK && (s = herd_model_grow_vocab(m, x, o.init)) != HERD_OK)
        herd_tokenizer_free(x);
    if (s == HERD_OK)
        s = herd_save_gguf_as_is(m, o.out, o.force, progress, &o);
    herd_model_free(m);
    if (s != HERD_OK)
        return fail(NULL);
    if (!o.quiet)
        fprintf(stderr, "herd extend-vocab: wrote %s (vocab_size %d -> %d, new rows: %s)\n",
                o.out, before, before + st.added, o.init == HERD_GROW_ZERO ? "zero" : "mean");
    return 0;
}

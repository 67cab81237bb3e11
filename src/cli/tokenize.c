/* herd tokenize and herd detokenize: text to token ids and back, with the
 * tokenizer a model carries (-m) or a tokenizer file (-z). Plain mode reads
 * the whole input as one text (bytes exact); --jsonl reads and writes one
 * JSON value per line: a string on the text side, an array of ids on the
 * other. */
#include "cli/tokenize.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tokenize_help(FILE *f)
{
    fprintf(f,
"usage: herd tokenize [-m MODEL | -z TOKENIZER] [--ids | --pieces] [-p TEXT]\n"
"                     [--jsonl] [--bos] [--eos] [--special]\n"
"Splits text into token ids. The text is -p or all of stdin, bytes as they\n"
"are (a final newline is part of the text). Prints the ids on one line,\n"
"space-separated, or with --pieces one token per line as a quoted, escaped\n"
"string (\\n, \\t, \\r, \\\", \\\\, \\xNN for other control bytes and bytes that\n"
"are not UTF-8): SentencePiece pieces as the vocabulary spells them\n"
"(\"\xE2\x96\x81the\", \"<0x0A>\"), byte BPE tokens as their bytes.\n\n"
"  -m, --model PATH       take the tokenizer a model carries (GGUF, HF folder)\n"
"  -z, --tokenizer PATH   tokenizer.model (SentencePiece or Llama 3's), llama2.c\n"
"                         tokenizer.bin, or tokenizer.json\n"
"                         (neither: herd's own model, models/herd-kjv.gguf)\n"
"  -p, --prompt TEXT      the text (default: stdin)\n"
"  --ids                  print ids (the default)\n"
"  --pieces               print pieces, one per line\n"
"  --jsonl                each input line is a JSON string; each output line\n"
"                         the JSON array of its ids\n"
"  --bos, --eos           add BOS first, EOS last (default: neither)\n"
"  --special              special tokens written in the text (\"<|eot_id|>\")\n"
"                         become their ids (default: plain text; byte BPE only)\n"
"  -h, --help             this help\n");
}

static void detokenize_help(FILE *f)
{
    fprintf(f,
"usage: herd detokenize [-m MODEL | -z TOKENIZER] [-p IDS] [--jsonl]\n"
"Turns token ids back into text. Reads whitespace-separated ids from -p or\n"
"stdin and writes the exact bytes they stand for (SentencePiece: as its\n"
"decoder does, without the space the encoder put first; control tokens\n"
"such as <s> give nothing; byte BPE special tokens give their text).\n\n"
"  -m, --model PATH       take the tokenizer a model carries\n"
"  -z, --tokenizer PATH   tokenizer file (see herd tokenize --help)\n"
"  -p, --prompt IDS       the ids (default: stdin)\n"
"  --jsonl                each input line is a JSON array of ids; each output\n"
"                         line the JSON string of its text. Bytes that are not\n"
"                         valid UTF-8 (a multi-byte character cut between\n"
"                         tokens) cannot be written in JSON: each maximal\n"
"                         invalid sequence becomes U+FFFD, as Hugging Face's\n"
"                         decode and Python's errors='replace' do, with a\n"
"                         warning on stderr\n"
"  -h, --help             this help\n");
}

/* Where the value of a flag that takes one goes; NULL for other flags. */
static const char **value_flag(tok_opts *o, const char *a)
{
    if (!strcmp(a, "-m") || !strcmp(a, "--model"))
        return &o->model;
    if (!strcmp(a, "-z") || !strcmp(a, "--tokenizer"))
        return &o->tokenizer;
    if (!strcmp(a, "-p") || !strcmp(a, "--prompt"))
        return &o->prompt;
    return NULL;
}

/* 1: parsed, 0: error, -1: help printed. */
static int parse(int argc, char **argv, int detok, tok_opts *o)
{
    const char *cmd = detok ? "detokenize" : "tokenize";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            (detok ? detokenize_help : tokenize_help)(stdout);
            return -1;
        }
        if (!strcmp(a, "--jsonl")) {
            o->jsonl = 1;
        } else if (!detok && !strcmp(a, "--ids")) {
            o->pieces = 0;
        } else if (!detok && !strcmp(a, "--pieces")) {
            o->pieces = 1;
        } else if (!detok && !strcmp(a, "--bos")) {
            o->flags |= HERD_TOKENIZE_BOS;
        } else if (!detok && !strcmp(a, "--eos")) {
            o->flags |= HERD_TOKENIZE_EOS;
        } else if (!detok && !strcmp(a, "--special")) {
            o->flags |= HERD_TOKENIZE_SPECIAL;
        } else if (value_flag(o, a)) {
            const char *v = cli_value(argc, argv, &i);
            if (!v)
                return 0;
            *value_flag(o, a) = v;
        } else {
            fprintf(stderr, "herd %s: %s '%s' (herd %s --help)\n", cmd,
                    a[0] == '-' ? "unknown option" : "unexpected argument", a, cmd);
            return 0;
        }
    }
    if (o->model && o->tokenizer) {
        fprintf(stderr, "herd %s: give -m or -z, not both\n", cmd);
        return 0;
    }
    if (o->pieces && o->jsonl) {
        fprintf(stderr, "herd tokenize: --pieces and --jsonl do not go together\n");
        return 0;
    }
    return 1;
}

/* The tokenizer: from -z, or the one the model (-m, else herd's own)
 * carries. Returns 0 or prints an error and returns 1. */
static int open_tokenizer(const tok_opts *o, herd_model **m, herd_tokenizer **own,
                          const herd_tokenizer **tok)
{
    herd_status s;
    if (o->tokenizer) {
        if ((s = herd_tokenizer_open(o->tokenizer, own)) != HERD_OK)
            return cli_fail(s, "");
        *tok = *own;
        return 0;
    }
    char buf[4096];
    const char *path = o->model ? o->model : cli_default_model(buf, sizeof buf);
    if ((s = herd_model_open(path, m)) != HERD_OK)
        return cli_fail(s, "");
    if (!(*tok = herd_model_tokenizer(*m))) {
        fprintf(stderr, "herd: %s carries no tokenizer: give one with -z\n", path);
        return 1;
    }
    return 0;
}

/* All of stdin (or -p) as one buffer, NUL-terminated; NULL on error. */
char *read_input(const char *prompt, size_t *len)
{
    if (prompt) {
        *len = strlen(prompt);
        char *p = malloc(*len + 1);
        if (p)
            memcpy(p, prompt, *len + 1);
        return p;
    }
    size_t cap = 1 << 16, n = 0, k;
    char *buf = malloc(cap);
    while (buf && (k = fread(buf + n, 1, cap - n - 1, stdin)) > 0) {
        n += k;
        if (cap - n - 1 == 0) {
            char *b = cap < SIZE_MAX / 2 ? realloc(buf, cap *= 2) : NULL;
            if (!b)
                free(buf);
            buf = b;
        }
    }
    if (!buf || ferror(stdin)) {
        fprintf(stderr, "herd: cannot read stdin: %s\n", buf ? strerror(errno) : "out of memory");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* The next line of buf (without its newline); NULL at the end. */
char *next_line(char **cur, char *end, size_t *len)
{
    if (*cur >= end)
        return NULL;
    char *line = *cur, *nl = memchr(line, '\n', (size_t)(end - line));
    *len = (size_t)((nl ? nl : end) - line);
    *cur = nl ? nl + 1 : end;
    line[*len] = 0;
    return line;
}

/* Length of the well-formed UTF-8 character at p (n bytes left), or 0; in
 * *bad the length of its maximal invalid prefix (Unicode's "maximal subpart"
 * that one U+FFFD replaces). */
int utf8_char(const unsigned char *p, size_t n, int *bad)
{
    unsigned c = p[0];
    int k = c < 0x80 ? 1 : c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3
            : c >= 0xF0 && c < 0xF5 ? 4 : 0;
    unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    *bad = 1;
    for (int j = 1; j < k; j++) {
        if ((size_t)j >= n || p[j] < (j == 1 ? lo : 0x80) || p[j] > (j == 1 ? hi : 0xBF))
            return 0;
        *bad = j + 1;
    }
    return k;
}

/* ---- tokenize ---- */

/* Encodes text into *ids (grown as needed); 0 or prints and returns 1. */
static int encode(const herd_tokenizer *t, const char *text, size_t len, unsigned flags,
                  int **ids, int *cap, int *n)
{
    for (;;) {
        herd_status s = herd_tokenize_ex(t, text, len, flags, *ids, *cap, n);
        if (s != HERD_OK)
            return cli_fail(s, "tokenize");
        if (*n <= *cap)
            return 0;
        int *p = realloc(*ids, (size_t)*n * sizeof *p);
        if (!p)
            return cli_fail(HERD_OK, "out of memory");
        *ids = p, *cap = *n;
    }
}

/* Writes bytes between quotes, escaped so every byte is visible. */
static void print_escaped(const unsigned char *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned c = p[i];
        int k, bad;
        const char *e = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r"
                        : c == '"' ? "\\\"" : c == '\\' ? "\\\\" : NULL;
        if (e)
            fputs(e, stdout);
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02X", c);
        else if (c < 0x80)
            putchar((int)c);
        else if ((k = utf8_char(p + i, n - i, &bad)) > 0) /* a whole character */
            fwrite(p + i, 1, (size_t)k, stdout), i += (size_t)k - 1;
        else /* a byte that is not part of one */
            printf("\\x%02X", c);
    }
    putchar('"');
}

static void print_ids(const herd_tokenizer *t, const int *ids, int n, const tok_opts *o)
{
    if (o->pieces) {
        for (int i = 0; i < n; i++) {
            char buf[512];
            int k = herd_tokenizer_kind(t) == HERD_TOK_BYTE_BPE
                        ? herd_token_to_bytes(t, -1, ids[i], buf) : -1;
            const char *p = k >= 0 ? buf : herd_token_piece(t, ids[i]);
            print_escaped((const unsigned char *)p, k >= 0 ? (size_t)k : strlen(p));
            putchar('\n');
        }
        return;
    }
    if (o->jsonl)
        putchar('[');
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? (o->jsonl ? "," : " ") : "", ids[i]);
    fputs(o->jsonl ? "]\n" : "\n", stdout);
}

/* The text of one --jsonl line; 0 on success, else prints and returns 1. */
static int json_text(char *line, size_t len, long lineno, cJSON **doc, const char **text)
{
    const char *end = NULL;
    *doc = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (*doc && end)
        end += strspn(end, " \t\r");
    if (!*doc || !cJSON_IsString(*doc) || (end && end != line + len)) {
        fprintf(stderr, "herd tokenize: line %ld: not a JSON string (--jsonl wants one "
                "JSON string per line)\n", lineno);
        return 1;
    }
    *text = (*doc)->valuestring;
    /* cJSON ends strings at NUL: a \u0000 escape would cut the text short. */
    for (size_t i = 0; i + 6 <= len; i++) {
        size_t bs = 0;
        if (memcmp(line + i, "\\u0000", 6))
            continue;
        while (bs < i && line[i - bs - 1] == '\\')
            bs++;
        if (bs % 2 == 0) {
            fprintf(stderr, "herd tokenize: line %ld: \\u0000 (NUL) in a JSON string is not "
                    "supported\n", lineno);
            return 1;
        }
    }
    return 0;
}

static int tokenize_jsonl(const herd_tokenizer *t, char *buf, size_t len, const tok_opts *o)
{
    char *cur = buf, *line;
    size_t n;
    int *ids = NULL, cap = 0, n_ids, rc = 0;
    for (long lineno = 1; !rc && (line = next_line(&cur, buf + len, &n)); lineno++) {
        cJSON *doc;
        const char *text;
        if ((rc = json_text(line, n, lineno, &doc, &text)) == 0) {
            if ((rc = encode(t, text, strlen(text), o->flags, &ids, &cap, &n_ids)) == 0)
                print_ids(t, ids, n_ids, o);
        }
        cJSON_Delete(doc);
    }
    free(ids);
    return rc;
}

static int tokenize_main(const herd_tokenizer *t, const tok_opts *o)
{
    size_t len;
    char *buf = read_input(o->prompt, &len);
    if (!buf)
        return 1;
    int rc;
    if (o->jsonl) {
        rc = tokenize_jsonl(t, buf, len, o);
    } else {
        int *ids = NULL, cap = 0, n;
        if ((rc = encode(t, buf, len, o->flags, &ids, &cap, &n)) == 0)
            print_ids(t, ids, n, o);
        free(ids);
    }
    free(buf);
    return rc;
}

/* ---- the two commands ---- */

static int tok_command(int argc, char **argv, int detok)
{
    tok_opts o = {0};
    int r = parse(argc, argv, detok, &o);
    if (r <= 0)
        return r < 0 ? 0 : 2;
    herd_model *m = NULL;
    herd_tokenizer *own = NULL;
    const herd_tokenizer *t = NULL;
    int rc = open_tokenizer(&o, &m, &own, &t);
    if (!rc && !detok) {
        rc = tokenize_main(t, &o);
    } else if (!rc) {
        size_t len;
        char *buf = read_input(o.prompt, &len);
        rc = !buf ? 1 : o.jsonl ? detokenize_jsonl(t, buf, len) : detokenize_plain(t, buf, len);
        free(buf);
    }
    if (fflush(stdout) != 0 && !rc)
        rc = cli_fail(HERD_OK, "cannot write the output");
    herd_tokenizer_free(own);
    herd_model_free(m);
    return rc;
}

int cli_tokenize(int argc, char **argv)
{
    return tok_command(argc, argv, 0);
}

int cli_detokenize(int argc, char **argv)
{
    return tok_command(argc, argv, 1);
}

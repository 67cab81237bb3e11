/* herd tokenize / detokenize (tokenize.c, detokenize.c): what the two
 * halves share. */
#ifndef HERD_CLI_TOKENIZE_H
#define HERD_CLI_TOKENIZE_H
#include <stddef.h>
#include "cli/cli.h"

typedef struct {
    const char *model, *tokenizer, *prompt;
    int pieces, jsonl;
    unsigned flags;
} tok_opts;

/* All of stdin (or -p) as one buffer, NUL-terminated; NULL on error. */
char *read_input(const char *prompt, size_t *len);
/* The next line of buf (without its newline); NULL at the end. */
char *next_line(char **cur, char *end, size_t *len);
/* Length of the well-formed UTF-8 character at p (n bytes left), or 0; in
 * *bad the length of its maximal invalid prefix. */
int utf8_char(const unsigned char *p, size_t n, int *bad);
/* Ids (whitespace separated, or one JSON array a line) back to text. */
int detokenize_plain(const herd_tokenizer *t, char *buf, size_t len);
int detokenize_jsonl(const herd_tokenizer *t, char *buf, size_t len);

#endif

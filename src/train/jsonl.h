/* JSONL files as the trainers read them (SFT, preference, GAtt, rejection
 * sampling): one JSON object per line, blank lines skipped, a UTF-8 byte
 * order mark allowed on the first. */
#ifndef HERD_TRAIN_JSONL_H
#define HERD_TRAIN_JSONL_H
#include <stdint.h>
#include <stdio.h>
#include "herd.h"

struct cJSON;

/* Whether n bytes are only spaces, tabs and line ends. */
int herd_jsonl_blank(const char *s, size_t n);
/* One line as a JSON object, nothing but blanks after it (*out NULL or the
 * parsed document, which the caller deletes, also on failure). HERD_E_FORMAT:
 * "not valid JSON", "text after the JSON value", "not a JSON object". */
herd_status herd_jsonl_object(const char *line, size_t len, struct cJSON **out);

typedef herd_status (*herd_jsonl_fn)(void *user, const char *line, size_t len,
                                     int64_t lineno);
/* Calls fn on each non-blank line of f (read as path) until one fails;
 * *n_lines (may be NULL) counts the lines handed over. */
herd_status herd_jsonl_each(FILE *f, const char *path, herd_jsonl_fn fn, void *user,
                            int64_t *n_lines);

#endif

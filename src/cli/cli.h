/* The herd command line: thin subcommands over the library. Only cli/
 * prints to the user and decides the exit status. */
#ifndef HERD_CLI_CLI_H
#define HERD_CLI_CLI_H
#include "herd.h"

int cli_run(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_bench(int argc, char **argv);

/* Parses a flag's value; on failure prints "herd: FLAG: ..." and returns 0. */
int cli_int(const char *flag, const char *val, long lo, long hi, int *out);
int cli_u64(const char *flag, const char *val, unsigned long long *out);
int cli_float(const char *flag, const char *val, double lo, double hi, float *out);
/* The value after argv[*i]; prints an error and returns NULL when missing. */
const char *cli_value(int argc, char **argv, int *i);
/* Prints "herd: MSG" (and the library's last error when status != OK). */
int cli_fail(herd_status s, const char *what);

#endif

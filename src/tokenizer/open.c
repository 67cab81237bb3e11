/* herd_tokenizer_open: a SentencePiece tokenizer.model or a llama2.c
 * tokenizer.bin, told apart by their first bytes. */
#include "tokenizer/spm.h"
#include "base/error.h"
#include "base/file.h"
#include <stdlib.h>

herd_status herd_tokenizer_open(const char *path, herd_tokenizer **out)
{
    if (!path || !out)
        return herd_fail(HERD_E_ARG, "herd_tokenizer_open: no path");
    *out = NULL;
    char *data;
    size_t size;
    HERD_TRY(herd_read_file(path, &data, &size));
    const uint8_t *d = (const uint8_t *)data;
    herd_status s;
    if (size == 0)
        s = herd_fail(HERD_E_FORMAT, "%s: empty file", path);
    else if (herd_llama2c_tok_sniff(d, size))
        s = herd_llama2c_tok_parse(path, d, size, out);
    else if (d[0] == 0x0A || d[0] == 0x12 || d[0] == 0x1A) /* ModelProto field 1, 2 or 3 */
        s = herd_spm_parse_proto(path, d, size, out);
    else
        s = herd_fail(HERD_E_FORMAT, "%s: neither a SentencePiece tokenizer.model nor a "
                      "llama2.c tokenizer.bin", path);
    free(data);
    return s;
}

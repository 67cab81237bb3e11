/* herd_tokenizer_open: a SentencePiece tokenizer.model, a llama2.c
 * tokenizer.bin, Meta's Llama 3 tokenizer.model (text lines "base64 rank")
 * or a Hugging Face tokenizer.json, told apart by their first bytes. */
#include "tokenizer/bpe.h"
#include "base/error.h"
#include "base/file.h"
#include <stdlib.h>

/* The first byte that is not JSON whitespace, -1 when none. */
static int first_non_space(const char *d, size_t size)
{
    for (size_t i = 0; i < size; i++)
        if (d[i] != ' ' && d[i] != '\t' && d[i] != '\n' && d[i] != '\r')
            return (unsigned char)d[i];
    return -1;
}

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
    else if (first_non_space(data, size) == '{')
        s = herd_bpe_parse_json(path, data, size, out);
    else if (herd_bpe_ranks_sniff(data, size))
        s = herd_bpe_parse_ranks(path, data, size, out);
    else
        s = herd_fail(HERD_E_FORMAT, "%s: not a tokenizer herd knows (SentencePiece "
                      "tokenizer.model, llama2.c tokenizer.bin, Llama 3 tokenizer.model or "
                      "tokenizer.json)", path);
    free(data);
    return s;
}

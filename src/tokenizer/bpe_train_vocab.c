/* The trained vocabulary as a SentencePiece tokenizer, laid out as
 * SentencePiece's BPE trainer lays it out: <unk> <s> </s>, <0x00>..<0xFF>,
 * the merged pieces in the order they were made (score -k for the k-th),
 * then the characters by frequency (scores going on down). Encoding merges
 * the highest-scored piece first, so the earliest merges win, as in
 * training; the characters' scores are never compared. */
#include "tokenizer/bpe_train_impl.h"
#include "tokenizer/tokenizer.h"
#include "base/error.h"
#include <stdio.h>
#include <stdlib.h>

herd_status bt_build(const bt_train *t, herd_tokenizer **out)
{
    int n = 259 + t->n_merged + t->n_chars;
    const char **pieces = malloc((size_t)n * sizeof *pieces);
    size_t *lens = malloc((size_t)n * sizeof *lens);
    float *scores = calloc((size_t)n, sizeof *scores);
    int *types = malloc((size_t)n * sizeof *types);
    char bytes[256][7];
    herd_status s = HERD_E_NOMEM;
    if (!pieces || !lens || !scores || !types) {
        s = herd_fail(HERD_E_NOMEM, "train-tokenizer: out of memory");
        goto done;
    }
    static const char *const special[3] = {"<unk>", "<s>", "</s>"};
    static const size_t special_len[3] = {5, 3, 4};
    static const int special_type[3] = {HERD_PIECE_UNKNOWN, HERD_PIECE_CONTROL,
                                        HERD_PIECE_CONTROL};
    for (int i = 0; i < 3; i++) {
        pieces[i] = special[i];
        lens[i] = special_len[i];
        types[i] = special_type[i];
    }
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        pieces[3 + b] = bytes[b];
        lens[3 + b] = 6;
        types[3 + b] = HERD_PIECE_BYTE;
    }
    for (int k = 0; k < t->n_merged + t->n_chars; k++) {
        int id = k < t->n_merged ? t->merged[k] : k - t->n_merged;
        pieces[259 + k] = t->sy.str + t->sy.off[id];
        lens[259 + k] = t->sy.len[id];
        scores[259 + k] = -(float)k;
        types[259 + k] = HERD_PIECE_NORMAL;
    }
    s = herd_spm_from_vocab(n, pieces, lens, scores, types, 1, 2, 0, 1, out);
done:
    free(pieces);
    free(lens);
    free(scores);
    free(types);
    return s;
}

/* The merges list herd derives for Meta's Llama 3 tokenizer.model (a
 * tiktoken rank file, which has none) so that GGUF "gpt2" metadata and
 * tokenizer.json can hold it:
 *  - it equals, merge for merge and in order, the list in Hugging Face's
 *    tokenizer.json of the same tokenizer (read here with cJSON, not herd);
 *  - BPE by that list merges exactly as BPE by tiktoken's ranks: for every
 *    token's bytes, with the whole-token shortcut off, both give the same
 *    ids (588 tokens are not what BPE makes of their own bytes, by ranks or
 *    by list alike: why Llama 3 encodes with ignore_merges);
 *  - a tokenizer built from a list (tokenizer.json) gives that list back. */
#include "herd.h"
#include "formats/convert.h"
#include "tokenizer/bpe.h"
#include "base/file.h"
#include "test.h"
#include <cjson/cJSON.h>

typedef struct {
    int32_t ids[HERD_MAX_PIECE];
    int n;
} id_seq;

static void put(void *user, int id)
{
    id_seq *s = user;
    if (s->n < HERD_MAX_PIECE)
        s->ids[s->n++] = id;
}

/* merges[i] spelled "a b" must equal the tokenizer.json list. */
static void same_as_json(const herd_tokenizer *t, const int32_t *pairs, int n, const char *json)
{
    char *text;
    size_t len;
    if (herd_read_file(json, &text, &len) != HERD_OK) {
        CHECK_MSG(0, "%s: %s", json, herd_last_error());
        return;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *list = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "model"), "merges");
    CHECK_MSG(cJSON_GetArraySize(list) == n, "%d merges, tokenizer.json has %d", n,
              cJSON_GetArraySize(list));
    int i = 0, bad = 0;
    char a[2 * HERD_MAX_PIECE + 1], b[2 * HERD_MAX_PIECE + 1], both[4 * HERD_MAX_PIECE + 2];
    for (const cJSON *m = list ? list->child : NULL; m && i < n; m = m->next, i++) {
        int l = pairs[2 * i], r = pairs[2 * i + 1];
        a[herd_gpt2_encode(t->blob + t->off[l], t->len[l], a)] = 0;
        b[herd_gpt2_encode(t->blob + t->off[r], t->len[r], b)] = 0;
        snprintf(both, sizeof both, "%s %s", a, b);
        if (!cJSON_IsString(m) || strcmp(m->valuestring, both) != 0) {
            if (bad++ < 5)
                fprintf(stderr, "merge %d: herd \"%s\", tokenizer.json \"%s\"\n", i, both,
                        cJSON_IsString(m) ? m->valuestring : "?");
        }
    }
    CHECK_MSG(bad == 0, "%d merges differ from tokenizer.json", bad);
    cJSON_Delete(root);
}

/* A tokenizer with t's tokens merging by the list, shortcut off. */
static herd_tokenizer *with_list(const herd_tokenizer *t, const int32_t *pairs, int n)
{
    int nv = t->n_vocab;
    const char **pieces = malloc((size_t)nv * sizeof *pieces);
    size_t *lens = malloc((size_t)nv * sizeof *lens);
    int *types = malloc((size_t)nv * sizeof *types);
    for (int i = 0; i < nv; i++) {
        pieces[i] = t->blob + t->off[i];
        lens[i] = t->len[i];
        types[i] = t->type[i];
    }
    herd_bpe_spec s = {.n = nv, .pieces = pieces, .lens = lens, .types = types,
                       .merges = pairs, .n_merges = n, .ignore_merges = 0,
                       .bos = t->bos, .eos = t->eos};
    herd_tokenizer *out = NULL;
    CHECK_OK(herd_bpe_build(&s, "merges list", &out));
    free(pieces);
    free(lens);
    free(types);
    return out;
}

static void same_merging(herd_tokenizer *ranks, const herd_tokenizer *list)
{
    herd_bpe_merge_work w = {0};
    int differ = 0, normal = 0;
    ranks->bpe->ignore_merges = 0; /* tiktoken's BPE itself, no shortcut */
    for (int id = 0; id < ranks->n_vocab; id++) {
        if (ranks->type[id] != HERD_PIECE_NORMAL)
            continue;
        normal++;
        const char *s = ranks->blob + ranks->off[id];
        size_t n = ranks->len[id];
        id_seq x = {.n = 0}, y = {.n = 0};
        CHECK_OK(herd_bpe_merge_piece(ranks, s, n, &w, put, &x));
        CHECK_OK(herd_bpe_merge_piece(list, s, n, &w, put, &y));
        differ += x.n != y.n || memcmp(x.ids, y.ids, (size_t)x.n * sizeof *x.ids) != 0;
    }
    ranks->bpe->ignore_merges = 1;
    herd_bpe_merge_work_free(&w);
    CHECK_MSG(normal == 128000, "%d mergeable tokens", normal);
    CHECK_MSG(differ == 0, "%d of %d tokens merge differently by the list", differ, normal);
}

int main(void)
{
    char model[1024], json[1024];
    snprintf(model, sizeof model, "%s/tokenizers/llama3/tokenizer.model", test_shared());
    snprintf(json, sizeof json, "%s/tokenizers/llama3/tokenizer.json", test_shared());
    if (!herd_file_exists(model) || !herd_file_exists(json))
        TEST_SKIP("%s or %s is missing", model, json);
    herd_tokenizer *t, *tj;
    CHECK_OK(herd_tokenizer_open(model, &t));
    int32_t *pairs;
    int n;
    CHECK_OK(herd_bpe_merge_list(t, &pairs, &n));
    CHECK_MSG(n == 280147, "%d merges", n);
    same_as_json(t, pairs, n, json);
    herd_tokenizer *list = with_list(t, pairs, n);
    if (list)
        same_merging(t, list);
    herd_tokenizer_free(list);
    /* From a list: the same list back. */
    CHECK_OK(herd_tokenizer_open(json, &tj));
    int32_t *pairs2;
    int n2;
    CHECK_OK(herd_bpe_merge_list(tj, &pairs2, &n2));
    CHECK(n2 == n && memcmp(pairs, pairs2, (size_t)n * 2 * sizeof *pairs) == 0);
    free(pairs2);
    free(pairs);
    herd_tokenizer_free(tj);
    herd_tokenizer_free(t);
    TEST_END();
}

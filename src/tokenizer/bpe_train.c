/* BPE training (the rules and the tie-break are in bpe_train.h): count the
 * words, pick the alphabet, count every valid adjacent pair once, then
 * merge the best pair again and again. A merge rewrites only the words the
 * pair occurs in (each pair keeps that list) and changes only the counts
 * of the pairs around each merged spot, so a merge costs what it touches,
 * never a recount of the text. */
#include "tokenizer/bpe_train_impl.h"
#include "tokenizer/spm.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

#define BT_MAX_VOCAB (1 << 20)
#define BT_BASE 259 /* <unk> <s> </s> and 256 byte pieces */

int bt_pair_valid(const bt_train *t, int32_t a, int32_t b)
{
    const bt_syms *s = &t->sy;
    if ((s->flags[a] | s->flags[b]) & (BT_RARE | BT_DIGIT))
        return 0;
    if (s->nchar[a] + s->nchar[b] > t->max_chars)
        return 0;
    if (s->nws[b] > 0) /* "▁" inside: only in a whitespace-only piece */
        return t->allow_ws_pieces && s->nws[a] == s->nchar[a] && s->nws[b] == s->nchar[b];
    if (s->nws[a] > 1) /* "▁▁" + "x" */
        return 0;
    return !s->script[a] || s->script[a] == s->script[b];
}

static void touch(bt_train *t, int k)
{
    bt_pairs *pp = &t->pp;
    if (pp->p[k].stamp == t->step)
        return;
    int32_t *g = herd_grow(pp->touched, &pp->cap_touched, pp->n_touched + 1, sizeof *g);
    if (!g) {
        t->oom = 1;
        return;
    }
    pp->touched = g;
    pp->touched[pp->n_touched++] = k;
    pp->p[k].stamp = t->step;
}

static void sub(bt_train *t, int32_t x, int32_t y, int64_t n)
{
    int k = bt_pair_find(&t->pp, x, y);
    if (k < 0)
        return;
    t->pp.p[k].count -= n;
    touch(t, k);
}

static void add(bt_train *t, int32_t x, int32_t y, int64_t n, int32_t w)
{
    if (!bt_pair_valid(t, x, y))
        return;
    int k = bt_pair_get(&t->pp, x, y);
    if (k < 0) {
        t->oom = 1;
        return;
    }
    bt_pair *p = &t->pp.p[k];
    p->count += n;
    if (p->n_words == 0 || p->words[p->n_words - 1] != w) {
        int32_t *g = herd_grow(p->words, &p->cap_words, p->n_words + 1, sizeof *g);
        if (!g) {
            t->oom = 1;
            return;
        }
        p->words = g;
        p->words[p->n_words++] = w;
    }
    touch(t, k);
}

/* Adds (sign 1) or removes (-1) the pairs of word w between symbols lo
 * and hi. Pairs are counted as merges would take them, as SentencePiece
 * counts them: a run "xxx" holds one (x, x), "xxxx" two. */
static void span_pairs(bt_train *t, int32_t w, int lo, int hi, int sign)
{
    const int32_t *s = t->pool + t->w_off[w];
    int64_t cnt = t->w_count[w];
    int skip = 0; /* the last pair counted was (x, x) and this is one too */
    for (int i = lo; i < hi; i++) {
        if (skip && s[i] == s[i + 1]) {
            skip = 0;
            continue;
        }
        skip = s[i] == s[i + 1];
        if (sign > 0)
            add(t, s[i], s[i + 1], cnt, w);
        else
            sub(t, s[i], s[i + 1], cnt);
    }
}

/* The symbols [lo, hi] whose pairs merging (a, b) in s can change: from
 * the left neighbour of the first (a, b) to the right neighbour of the
 * last, widened over runs of equal symbols. 0 when s holds no (a, b). */
static int span(const int32_t *s, int n, int32_t a, int32_t b, int *lo, int *hi)
{
    int first = -1, last = -1;
    for (int i = 0; i + 1 < n; i++)
        if (s[i] == a && s[i + 1] == b) {
            first = first < 0 ? i : first;
            last = i;
        }
    if (first < 0)
        return 0;
    int l = first > 0 ? first - 1 : 0, r = last + 2 < n ? last + 2 : n - 1;
    while (l > 0 && s[l - 1] == s[l])
        l--;
    while (r + 1 < n && s[r + 1] == s[r])
        r++;
    *lo = l;
    *hi = r;
    return 1;
}

/* Replaces each (a, b) in word w by c, left to right, and recounts the
 * pairs around the merged spots. */
static void merge_word(bt_train *t, int32_t w, int32_t a, int32_t b, int32_t c)
{
    int32_t *s = t->pool + t->w_off[w];
    int n = t->w_len[w], lo, hi;
    if (!span(s, n, a, b, &lo, &hi))
        return;
    span_pairs(t, w, lo, hi, -1);
    int j = lo;
    for (int i = lo; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            s[j++] = c;
            i += 2;
        } else {
            s[j++] = s[i++];
        }
    }
    t->w_len[w] = j;
    span_pairs(t, w, lo, hi - (n - j), 1);
}

/* The symbol a + b spells: the existing one, or a new piece. */
static int32_t merged_symbol(bt_train *t, int32_t a, int32_t b)
{
    bt_syms *s = &t->sy;
    char buf[2 * 4 * 64];
    int la = s->len[a], lb = s->len[b];
    memcpy(buf, s->str + s->off[a], (size_t)la);
    memcpy(buf + la, s->str + s->off[b], (size_t)lb);
    int c = bt_sym_find(s, buf, la + lb);
    if (c >= 0) {
        t->n_reused++;
        return c;
    }
    c = bt_sym_add(s, buf, la + lb, s->nchar[a] + s->nchar[b], s->nws[a] + s->nws[b],
                   s->script[a] ? s->script[a] : s->script[b], 0);
    if (c >= 0)
        t->merged[t->n_merged++] = c;
    return c;
}

static herd_status apply_merge(bt_train *t, int k)
{
    int32_t a = t->pp.p[k].a, b = t->pp.p[k].b, c = merged_symbol(t, a, b);
    if (c < 0)
        return herd_fail(HERD_E_NOMEM, "train-tokenizer: out of memory");
    int32_t *words = t->pp.p[k].words;
    int nw = t->pp.p[k].n_words;
    t->pp.p[k].words = NULL;
    t->pp.p[k].n_words = t->pp.p[k].cap_words = 0;
    t->step++;
    for (int i = 0; i < nw; i++) {
        if (t->w_stamp[words[i]] == t->step)
            continue;
        t->w_stamp[words[i]] = t->step;
        merge_word(t, words[i], a, b, c);
    }
    free(words);
    t->pp.p[k].count = 0;
    if (t->oom || !bt_pairs_flush(&t->pp))
        return herd_fail(HERD_E_NOMEM, "train-tokenizer: out of memory");
    return HERD_OK;
}

static herd_status count_pairs(bt_train *t)
{
    for (size_t w = 0; w < t->n_words; w++)
        span_pairs(t, (int32_t)w, 0, t->w_len[w] - 1, 1);
    if (t->oom || !bt_pairs_flush(&t->pp))
        return herd_fail(HERD_E_NOMEM, "train-tokenizer: out of memory");
    return HERD_OK;
}

static herd_status merge_all(bt_train *t, int want)
{
    t->merged = malloc(((size_t)want + 1) * sizeof *t->merged);
    if (!t->merged)
        return herd_fail(HERD_E_NOMEM, "train-tokenizer: out of memory");
    HERD_TRY(count_pairs(t));
    while (t->n_merged < want) {
        int k = bt_pairs_best(&t->pp);
        if (k < 0)
            return herd_fail(HERD_E_ARG, "train-tokenizer: the text gives only %d merges: "
                             "a vocabulary of at most %d pieces, not %d (more text, or a "
                             "smaller --vocab-size)", t->n_merged,
                             BT_BASE + t->n_chars + t->n_merged, t->p->vocab_size);
        HERD_TRY(apply_merge(t, k));
        if (t->p->progress)
            t->p->progress(t->p->user, t->n_merged, want);
    }
    return HERD_OK;
}

static herd_status check_params(const herd_bpe_train_params *p, double *cov)
{
    if (p->vocab_size < BT_BASE + 1 || p->vocab_size > BT_MAX_VOCAB)
        return herd_fail(HERD_E_ARG, "train-tokenizer: vocabulary size %d is outside %d..%d",
                         p->vocab_size, BT_BASE + 1, BT_MAX_VOCAB);
    *cov = p->character_coverage == 0 ? 0.9995 : p->character_coverage;
    if (!(*cov > 0 && *cov <= 1))
        return herd_fail(HERD_E_ARG, "train-tokenizer: character coverage %g is not in (0, 1]",
                         *cov);
    if (p->max_piece_chars < 0 || p->max_piece_chars > 64)
        return herd_fail(HERD_E_ARG, "train-tokenizer: max piece length %d is not in 1..64",
                         p->max_piece_chars);
    return HERD_OK;
}

static herd_status train(bt_train *t, const herd_bpe_counter *c, double cov,
                         herd_tokenizer **out)
{
    HERD_TRY(bt_alphabet(t, c, cov));
    int want = t->p->vocab_size - BT_BASE - t->n_chars;
    if (want < 0)
        return herd_fail(HERD_E_ARG, "train-tokenizer: vocabulary size %d is smaller than the "
                         "%d special and byte pieces plus the %d characters the text needs "
                         "(raise --vocab-size to at least %d, or lower "
                         "--character-coverage)", t->p->vocab_size, BT_BASE, t->n_chars,
                         BT_BASE + t->n_chars);
    HERD_TRY(merge_all(t, want));
    t->st.n_merges = t->n_merged;
    t->st.n_reused = t->n_reused;
    return bt_build(t, out);
}

herd_status herd_bpe_train_counted(const herd_bpe_counter *c, const herd_bpe_train_params *p,
                                   herd_tokenizer **out)
{
    if (!out || !c || !p)
        return herd_fail(HERD_E_ARG, "herd_bpe_train: bad arguments");
    *out = NULL;
    double cov = 0;
    HERD_TRY(check_params(p, &cov));
    bt_train t = {.p = p, .max_chars = p->max_piece_chars ? p->max_piece_chars : 16,
                  .allow_ws_pieces = !p->split_ws_runs};
    herd_status s = train(&t, c, cov, out);
    if (p->stats)
        *p->stats = t.st;
    bt_syms_free(&t.sy);
    bt_pairs_free(&t.pp);
    free(t.pool);
    free(t.w_off);
    free(t.w_len);
    free(t.w_stamp);
    free(t.w_count);
    free(t.merged);
    return s;
}

herd_status herd_bpe_train(const char *text, size_t len, const herd_bpe_train_params *p,
                           herd_tokenizer **out)
{
    if (out)
        *out = NULL;
    herd_bpe_counter *c;
    HERD_TRY(herd_bpe_counter_new(&c));
    herd_status s = herd_bpe_counter_add(c, text, len);
    if (s == HERD_OK)
        s = herd_bpe_train_counted(c, p, out);
    herd_bpe_counter_free(c);
    return s;
}

/* herd_spm_extend: a SentencePiece tokenizer with pieces appended after its
 * vocabulary (and, with closure, the characters and prefixes that make them
 * reachable by BPE), each scoring below everything before it. New pieces
 * point into the caller's strings until herd_spm_build copies them. */
#include "tokenizer/spm_extend.h"
#include "tokenizer/spm.h"
#include "base/error.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The growing vocabulary, and a hash set of the appended pieces (old ones
 * are found with herd_piece_find). Slots hold index + 1 (0: empty). */
typedef struct {
    const herd_tokenizer *t;
    const char **pieces;
    size_t *lens;
    float *scores;
    int *types;
    int n, cap;
    uint32_t *slots;
    uint32_t mask;
    float score;        /* the last score given */
} ext_vocab;

static uint32_t hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* The slot of piece s: where it is, or the empty slot where it would go. */
static uint32_t *slot_of(ext_vocab *v, const char *s, size_t n)
{
    for (uint32_t i = hash(s, n) & v->mask;; i = (i + 1) & v->mask) {
        uint32_t k = v->slots[i];
        if (k == 0 || (v->lens[k - 1] == n && memcmp(v->pieces[k - 1], s, n) == 0))
            return &v->slots[i];
    }
}

static int present(ext_vocab *v, const char *s, size_t n)
{
    return herd_piece_find(v->t, s, n) >= 0 || *slot_of(v, s, n) != 0;
}

/* The next score: 1 below the last while that is exact, else the next
 * float down, so every appended piece scores strictly below the one before. */
static float next_score(float s)
{
    float d = s - 1.0f;
    return d < s ? d : nextafterf(s, -INFINITY);
}

static void append(ext_vocab *v, const char *s, size_t n)
{
    int i = v->n++;
    v->pieces[i] = s;
    v->lens[i] = n;
    v->score = next_score(v->score);
    v->scores[i] = v->score;
    v->types[i] = HERD_PIECE_NORMAL;
    *slot_of(v, s, n) = (uint32_t)i + 1;
}

/* A piece herd can store: 1..HERD_MAX_PIECE bytes of UTF-8 without NUL. */
static herd_status check_piece(const char *s, size_t n, int i)
{
    if (n == 0)
        return herd_fail(HERD_E_ARG, "new piece %d is empty", i);
    if (n > HERD_MAX_PIECE)
        return herd_fail(HERD_E_UNSUPPORTED, "new piece %d is %zu bytes, longer than %d",
                         i, n, HERD_MAX_PIECE);
    for (size_t k = 0; k < n;) {
        int c = herd_utf8_len((const unsigned char *)s + k, n - k);
        if (c == 0 || (c == 1 && s[k] == 0))
            return herd_fail(HERD_E_ARG, "new piece %d is not valid UTF-8 text (byte %zu)",
                             i, k);
        k += (size_t)c;
    }
    return HERD_OK;
}

/* Appends the given piece (with closure: its missing characters, then its
 * missing prefixes, shortest first); its length is checked. */
static void add_given(ext_vocab *v, const char *s, size_t n, int closure,
                      herd_spm_extend_stats *st)
{
    if (present(v, s, n)) {
        st->skipped++;
        return;
    }
    if (closure) {
        for (size_t k = 0; k < n;) {
            size_t c = (size_t)herd_utf8_len((const unsigned char *)s + k, n - k);
            if (c < n && !present(v, s + k, c)) {
                append(v, s + k, c);
                st->added_chars++;
            }
            k += c;
        }
        size_t first = (size_t)herd_utf8_len((const unsigned char *)s, n);
        for (size_t k = first; k < n;) {
            size_t c = (size_t)herd_utf8_len((const unsigned char *)s + k, n - k);
            if (k + c < n && !present(v, s, k + c)) {
                append(v, s, k + c);
                st->added_prefixes++;
            }
            k += c;
        }
    }
    append(v, s, n);
    st->added_given++;
}

static herd_status init_vocab(ext_vocab *v, const herd_tokenizer *t, int n_new)
{
    int64_t cap = (int64_t)t->n_vocab + n_new;
    if (cap > (1 << 24))
        return herd_fail(HERD_E_UNSUPPORTED, "%lld pieces: more than %d", (long long)cap,
                         1 << 24);
    uint32_t slots = 16;
    while (slots < 2 * (uint32_t)(n_new + 1))
        slots *= 2;
    v->t = t;
    v->cap = (int)cap;
    v->pieces = malloc((size_t)cap * sizeof *v->pieces);
    v->lens = malloc((size_t)cap * sizeof *v->lens);
    v->scores = malloc((size_t)cap * sizeof *v->scores);
    v->types = malloc((size_t)cap * sizeof *v->types);
    v->slots = calloc(slots, sizeof *v->slots);
    v->mask = slots - 1;
    if (!v->pieces || !v->lens || !v->scores || !v->types || !v->slots)
        return herd_fail(HERD_E_NOMEM, "out of memory for %lld pieces", (long long)cap);
    v->score = INFINITY;
    for (int i = 0; i < t->n_vocab; i++) {
        v->pieces[i] = t->blob + t->off[i];
        v->lens[i] = t->len[i];
        v->scores[i] = t->score[i];
        v->types[i] = t->type[i];
        if (t->score[i] < v->score)
            v->score = t->score[i];
    }
    v->n = t->n_vocab;
    return HERD_OK;
}

static void free_vocab(ext_vocab *v)
{
    free(v->pieces);
    free(v->lens);
    free(v->scores);
    free(v->types);
    free(v->slots);
}

static herd_status build(const ext_vocab *v, const herd_tokenizer *t, herd_tokenizer **out)
{
    herd_spm_spec s = {
        .n = v->n, .pieces = v->pieces, .lens = v->lens, .scores = v->scores,
        .types = v->types, .bos = t->bos, .eos = t->eos, .unk = t->unk,
        .add_dummy_prefix = t->add_dummy_prefix, .remove_extra_ws = t->remove_extra_ws,
        .escape_ws = t->escape_ws, .byte_fallback = t->byte_fallback,
        .unk_surface = t->unk_surface, .unk_surface_len = strlen(t->unk_surface),
    };
    return herd_spm_build(&s, "extended vocabulary", out);
}

herd_status herd_spm_extend(const herd_tokenizer *t, const char *const *pieces,
                            const size_t *lens, int n, int closure,
                            herd_tokenizer **out, herd_spm_extend_stats *st)
{
    herd_spm_extend_stats dummy;
    st = st ? st : &dummy;
    memset(st, 0, sizeof *st);
    *out = NULL;
    if (!t || n < 0 || (n > 0 && (!pieces || !lens)))
        return herd_fail(HERD_E_ARG, "herd_spm_extend: no tokenizer or pieces");
    if (t->kind != HERD_TOK_SPM)
        return herd_fail(HERD_E_UNSUPPORTED, "a byte-level BPE tokenizer (Llama 3): only "
                         "SentencePiece tokenizers (Llama 1/2) can be extended");
    if (n == 0)
        return herd_fail(HERD_E_ARG, "no new pieces");
    int64_t n_new = 0;
    for (int i = 0; i < n; i++) {
        HERD_TRY(check_piece(pieces[i], lens[i], i));
        n_new += closure ? (int64_t)lens[i] * 2 : 1; /* characters + prefixes + piece */
    }
    if (n_new > (1 << 24))
        return herd_fail(HERD_E_UNSUPPORTED, "too many new pieces");
    ext_vocab v = {0};
    herd_status s = init_vocab(&v, t, (int)n_new);
    for (int i = 0; s == HERD_OK && i < n; i++)
        add_given(&v, pieces[i], lens[i], closure, st);
    st->added = v.n - t->n_vocab;
    if (s == HERD_OK)
        s = build(&v, t, out);
    free_vocab(&v);
    return s;
}

herd_status herd_spm_normal_pieces(const herd_tokenizer *src, const char ***pieces,
                                   size_t **lens, int *n, int *n_other)
{
    *pieces = NULL;
    *lens = NULL;
    *n = *n_other = 0;
    if (!src || src->kind != HERD_TOK_SPM)
        return herd_fail(HERD_E_UNSUPPORTED, "a byte-level BPE tokenizer (Llama 3): only "
                         "a SentencePiece tokenizer's pieces can be merged in");
    *pieces = malloc((size_t)src->n_vocab * sizeof **pieces);
    *lens = malloc((size_t)src->n_vocab * sizeof **lens);
    if (!*pieces || !*lens)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    for (int i = 0; i < src->n_vocab; i++) {
        if (src->type[i] != HERD_PIECE_NORMAL) {
            (*n_other)++;
            continue;
        }
        (*pieces)[*n] = src->blob + src->off[i];
        (*lens)[*n] = src->len[i];
        (*n)++;
    }
    return HERD_OK;
}

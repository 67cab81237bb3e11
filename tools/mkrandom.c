/* herd-mkrandom OUT.gguf: the model that ships with herd until herd trains
 * its own. A small Llama with random weights (N(0, 0.02) from a fixed
 * seed, norms 1) and a small SentencePiece vocabulary built here: <unk>,
 * <s>, </s>, the 256 byte pieces, "▁" + each letter and the prefixes of a
 * few common words, and the printable ASCII characters. */
#include "formats/gguf.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "base/error.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPACE "\xe2\x96\x81" /* U+2581, SentencePiece's word boundary */
#define MAX_VOCAB 1024
#define MAX_PIECE 32

/* ---- a deterministic PRNG: splitmix64, Box-Muller normals ---- */

static uint64_t rng = 0x6865726421ULL; /* "herd!" */

static uint64_t next_u64(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double uniform(void) /* in (0, 1) */
{
    return ((double)(next_u64() >> 11) + 0.5) / 9007199254740992.0;
}

static float normal(float std)
{
    double u = uniform(), v = uniform();
    return (float)(std * sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* ---- the vocabulary ---- */

typedef struct {
    char piece[MAX_VOCAB][MAX_PIECE];
    const char *pieces[MAX_VOCAB];
    size_t lens[MAX_VOCAB];
    float scores[MAX_VOCAB];
    int types[MAX_VOCAB];
    int n;
} vocab;

static void add(vocab *v, const char *s, int type)
{
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->piece[i], s) == 0)
            return;
    if (v->n == MAX_VOCAB || strlen(s) >= MAX_PIECE)
        return;
    snprintf(v->piece[v->n], MAX_PIECE, "%s", s);
    v->types[v->n] = type;
    v->n++;
}

static const char *const words[] = {
    "the", "and", "was", "she", "he", "they", "that", "with", "her", "his", "for",
    "you", "said", "one", "day", "there", "little", "girl", "boy", "time", "upon",
    "Once", "happy", "play", "friend", "saw", "big", "want", "went", "very", "not",
    "had", "but", "mom", "dog", "cat", "tree", "ball", "sun", "fun", "what", "it",
    "is", "in", "to", "of", "a"};

static void build_vocab(vocab *v)
{
    add(v, "<unk>", HERD_PIECE_UNKNOWN);
    add(v, "<s>", HERD_PIECE_CONTROL);
    add(v, "</s>", HERD_PIECE_CONTROL);
    for (int b = 0; b < 256; b++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        add(v, s, HERD_PIECE_BYTE);
    }
    int first_normal = v->n;
    /* Merged pieces, shortest first: "▁a".."▁Z", then word prefixes. */
    for (int c = 0; c < 52; c++) {
        char s[8];
        snprintf(s, sizeof s, SPACE "%c", c < 26 ? 'a' + c : 'A' + c - 26);
        add(v, s, HERD_PIECE_NORMAL);
    }
    for (size_t len = 2; len < 8; len++)
        for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
            if (strlen(words[w]) < len)
                continue;
            char s[MAX_PIECE];
            snprintf(s, sizeof s, SPACE "%.*s", (int)len, words[w]);
            add(v, s, HERD_PIECE_NORMAL);
        }
    add(v, SPACE, HERD_PIECE_NORMAL);
    for (int c = 0x21; c < 0x7f; c++) {
        char s[2] = {(char)c, 0};
        add(v, s, HERD_PIECE_NORMAL);
    }
    for (int i = 0; i < v->n; i++) {
        v->pieces[i] = v->piece[i];
        v->lens[i] = strlen(v->piece[i]);
        v->scores[i] = i < first_normal ? 0.0f : (float)-(i - first_normal);
    }
}

/* ---- the weights ---- */

static herd_status fill(herd_model *m, herd_tensor *t, int64_t rows, int64_t cols, int norm)
{
    float *d = herd_owned_alloc(&m->owned, (size_t)(rows * cols) * sizeof *d);
    if (!d)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    for (int64_t i = 0; i < rows * cols; i++)
        d[i] = norm ? 1.0f : normal(0.02f);
    t->data = d;
    t->type = HERD_TYPE_F32;
    t->rows = rows;
    t->cols = cols;
    return HERD_OK;
}

static herd_status build_weights(herd_model *m)
{
    const herd_config *c = &m->cfg;
    int kv = c->dim / c->n_heads * c->n_kv_heads;
    HERD_TRY(herd_model_alloc_layers(m));
    HERD_TRY(fill(m, &m->w.tok_embeddings, c->vocab_size, c->dim, 0));
    for (int l = 0; l < c->n_layers; l++) {
        herd_layer_weights *w = &m->w.layers[l];
        HERD_TRY(fill(m, &w->attn_norm, 1, c->dim, 1));
        HERD_TRY(fill(m, &w->wq, c->dim, c->dim, 0));
        HERD_TRY(fill(m, &w->wk, kv, c->dim, 0));
        HERD_TRY(fill(m, &w->wv, kv, c->dim, 0));
        HERD_TRY(fill(m, &w->wo, c->dim, c->dim, 0));
        HERD_TRY(fill(m, &w->ffn_norm, 1, c->dim, 1));
        HERD_TRY(fill(m, &w->w1, c->hidden_dim, c->dim, 0));
        HERD_TRY(fill(m, &w->w2, c->dim, c->hidden_dim, 0));
        HERD_TRY(fill(m, &w->w3, c->hidden_dim, c->dim, 0));
    }
    HERD_TRY(fill(m, &m->w.output_norm, 1, c->dim, 1));
    return fill(m, &m->w.output, c->vocab_size, c->dim, 0);
}

static herd_status build(herd_model *m, const char *out)
{
    static vocab v;
    build_vocab(&v);
    herd_config *c = &m->cfg;
    herd_config_defaults(c);
    c->dim = 128;
    c->hidden_dim = 384;
    c->n_layers = 4;
    c->n_heads = 8;
    c->n_kv_heads = 4;
    c->vocab_size = v.n;
    c->seq_len = 512;
    c->tied_embeddings = 0;
    c->rope_layout = HERD_ROPE_META;
    HERD_TRY(herd_spm_from_vocab(v.n, v.pieces, v.lens, v.scores, v.types, 1, 2, 0, 1,
                                 &m->tok));
    HERD_TRY(build_weights(m));
    return herd_save_gguf(m, out, HERD_TYPE_F32);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: herd-mkrandom OUT.gguf\n");
        return 2;
    }
    herd_model m;
    memset(&m, 0, sizeof m);
    herd_status s = build(&m, argv[1]);
    if (s != HERD_OK)
        fprintf(stderr, "herd-mkrandom: %s\n", herd_last_error());
    herd_tokenizer_free(m.tok);
    herd_owned_free(&m.owned);
    return s == HERD_OK ? 0 : 1;
}

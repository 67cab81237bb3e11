/* Vocabulary extension (herd extend-vocab's library side): the pieces
 * appended to the shipped random model's SentencePiece vocabulary, worked
 * out by hand (closure characters and prefixes, skips, scores below every
 * old one); old ids kept; texts without a new piece encoding as before and
 * texts with one to the new id; the pieces file; the errors; and the grown
 * model: its logits for old tokens equal the original model's on every old
 * entry, and on each new entry equal the mean of the old logits (mean init,
 * since a logit is linear in its output row) or zero, for an untied model
 * (herd-random.gguf) and a tied one (tests/fixtures/models/gqa_tied). */
#include "herd.h"
#include "model/model.h"
#include "tokenizer/spm.h"
#include "tokenizer/spm_extend.h"
#include "formats/vocab_grow.h"
#include "test.h"
#include <stdint.h>
#include <unistd.h>

#define SP "\xE2\x96\x81"

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static int encode(const herd_tokenizer *t, const char *s, int *ids, int max)
{
    int n = 0;
    if (herd_tokenize(t, s, strlen(s), 0, 0, ids, max, &n) != HERD_OK || n > max)
        return -1;
    return n;
}

static herd_tokenizer *extend(const herd_tokenizer *t, const char *const *p, int n,
                              int closure, herd_spm_extend_stats *st)
{
    size_t lens[16];
    for (int i = 0; i < n; i++)
        lens[i] = strlen(p[i]);
    herd_tokenizer *x = NULL;
    CHECK_OK(herd_spm_extend(t, p, lens, n, closure, &x, st));
    return x;
}

/* Appended pieces by hand: "▁little" and "▁ca" are old pieces, "é" is
 * not (it falls back to bytes). */
static void test_appended(const herd_tokenizer *old, const herd_tokenizer *x,
                          const herd_spm_extend_stats *st)
{
    static const char *want[] = {SP "little" SP, SP "little" SP "g", SP "little" SP "gi",
                                 SP "little" SP "gir", SP "little" SP "girl", "\xC3\xA9",
                                 SP "caf", SP "caf\xC3\xA9"};
    int n = old->n_vocab;
    CHECK(herd_token_id(old, SP "little") >= 0 && herd_token_id(old, SP "ca") >= 0);
    CHECK(herd_token_id(old, "\xC3\xA9") < 0 && herd_token_id(old, SP "caf") < 0);
    CHECK(st->added == 8 && st->added_given == 2 && st->added_chars == 1);
    CHECK(st->added_prefixes == 5 && st->skipped == 3);
    CHECK(x->n_vocab == n + 8);
    for (int i = 0; i < 8 && x->n_vocab == n + 8; i++) {
        CHECK_MSG(!strcmp(herd_token_piece(x, n + i), want[i]), "piece %d: %s", n + i,
                  herd_token_piece(x, n + i));
        CHECK(herd_token_type(x, n + i) == HERD_PIECE_NORMAL);
    }
    float lo = INFINITY;
    for (int i = 0; i < n; i++) {
        CHECK(!strcmp(herd_token_piece(x, i), herd_token_piece(old, i)));
        CHECK(herd_token_score(x, i) == herd_token_score(old, i));
        CHECK(herd_token_type(x, i) == herd_token_type(old, i));
        lo = fminf(lo, herd_token_score(old, i));
    }
    for (int i = n; i < x->n_vocab; i++) {
        CHECK(herd_token_score(x, i) < lo);
        lo = herd_token_score(x, i);
    }
    CHECK(x->bos == old->bos && x->eos == old->eos && x->unk == old->unk);
    CHECK(x->byte_fallback == old->byte_fallback && x->add_dummy_prefix == old->add_dummy_prefix);
}

/* Whether an appended piece (prefixes included) occurs in the normalized
 * text: only then may its encoding change. */
static int holds_new_piece(const herd_tokenizer *old, const herd_tokenizer *x, const char *s)
{
    char *norm = NULL;
    size_t n = 0;
    int found = 0;
    if (herd_spm_normalize(x, s, strlen(s), &norm, &n) != HERD_OK)
        return 1;
    for (int id = old->n_vocab; id < x->n_vocab && norm; id++)
        found |= memmem(norm, n, herd_token_piece(x, id), x->len[id]) != NULL;
    free(norm);
    return found;
}

/* Texts with a new piece take its id; texts without one encode as before. */
static void test_encoding(const herd_tokenizer *old, const herd_tokenizer *x)
{
    int a[256], b[256], na, nb;
    int girl = herd_token_id(x, SP "little" SP "girl"), cafe = herd_token_id(x, SP "caf\xC3\xA9");
    CHECK(encode(x, "little girl", b, 256) == 1 && b[0] == girl);
    CHECK(encode(x, "caf\xC3\xA9", b, 256) == 1 && b[0] == cafe);
    /* "the little girl": the old ids of "the", then the new piece. */
    na = encode(old, "the", a, 256);
    nb = encode(x, "the little girl", b, 256);
    CHECK(na == 1 && nb == 2 && b[0] == a[0] && b[1] == girl);
    /* "a little girls": the merge continues from the old tokens. */
    nb = encode(x, "a little girls", b, 256);
    CHECK(nb == 3 && b[1] == girl && b[2] == herd_token_id(old, "s"));
    /* Old characters only, and an added prefix forms across old tokens:
     * "▁little" "▁" "▁a" (this vocabulary keeps runs of spaces). */
    nb = encode(x, "little  a", b, 256);
    CHECK(nb == 2 && b[0] == herd_token_id(x, SP "little" SP) && b[1] == herd_token_id(old, SP "a"));
    static const char *words[] = {"the", "little", "girl", "cat", "fun", "a", "Once", "upon",
                                  "time", "ball", "big", "day", "girls", "play", "x", "ca"};
    uint64_t r = 12345;
    int same = 0, tried = 0;
    for (int k = 0; k < 300; k++) {
        char text[256] = "";
        int nw = 1 + (int)(k % 9);
        for (int w = 0; w < nw; w++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            if (w)
                strcat(text, (r >> 60) & 1 ? " " : "  ");
            strcat(text, words[(r >> 33) % 16]);
        }
        if (holds_new_piece(old, x, text))
            continue;
        tried++;
        na = encode(old, text, a, 256);
        nb = encode(x, text, b, 256);
        int eq = na == nb && na > 0 && !memcmp(a, b, (size_t)na * sizeof *a);
        same += eq;
    }
    CHECK_MSG(same == tried && tried > 150, "%d of %d texts encode as before", same, tried);
}

/* GPT-2's spelling of byte b (UTF-8 at o): printable bytes as themselves,
 * the 68 others as U+0100 + their index among them. */
static size_t gpt2_spell(int b, char *o)
{
#define PRINTABLE(x) (((x) >= 0x21 && (x) <= 0x7E) || ((x) >= 0xA1 && (x) <= 0xAC) || (x) >= 0xAE)
    int cp = b;
    if (!PRINTABLE(b)) {
        cp = 256;
        for (int x = 0; x < b; x++)
            cp += !PRINTABLE(x);
    }
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
#undef PRINTABLE
}

static void test_errors(const herd_tokenizer *old)
{
    herd_tokenizer *x = NULL, *bpe = NULL;
    char big[300];
    memset(big, 'q', sizeof big);
    const char *p[1] = {big};
    size_t len = 257;
    CHECK_FAILS(herd_spm_extend(old, p, &len, 1, 1, &x, NULL), HERD_E_UNSUPPORTED);
    len = 256;
    CHECK_OK(herd_spm_extend(old, p, &len, 1, 0, &x, NULL));
    CHECK(x && x->n_vocab == old->n_vocab + 1);
    herd_tokenizer_free(x);
    const char *bad[1] = {"a\xC3"};
    len = 2;
    CHECK_FAILS(herd_spm_extend(old, bad, &len, 1, 1, &x, NULL), HERD_E_ARG);
    CHECK_FAILS(herd_spm_extend(old, p, &len, 0, 1, &x, NULL), HERD_E_ARG);
    static char spelled[256][4];
    const char *toks[256];
    size_t tl[256];
    for (int b = 0; b < 256; b++) {
        toks[b] = spelled[b];
        tl[b] = gpt2_spell(b, spelled[b]);
    }
    CHECK_OK(herd_bpe_from_vocab(256, toks, tl, NULL, 0, NULL, NULL, -1, -1, &bpe));
    const char *ab[1] = {"ab"};
    len = 2;
    CHECK_FAILS(herd_spm_extend(bpe, ab, &len, 1, 1, &x, NULL), HERD_E_UNSUPPORTED);
    CHECK(strstr(herd_last_error(), "byte-level BPE") != NULL);
    const char **pp;
    size_t *ll;
    int n, other;
    CHECK_FAILS(herd_spm_normal_pieces(bpe, &pp, &ll, &n, &other), HERD_E_UNSUPPORTED);
    herd_tokenizer_free(bpe);
}

static int write_file(const char *path, const char *s, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(s, 1, n, f);
    return fclose(f) == 0;
}

static void test_pieces_file(void)
{
    char *buf;
    const char **p;
    size_t *l;
    int n;
    const char *path = tmp_path("pieces.txt");
    const char text[] = " hello\r\nworld\n\n a b\n\xE4\xBD\xA0\xE5\xA5\xBD";
    CHECK(write_file(path, text, sizeof text - 1));
    CHECK_OK(herd_spm_read_pieces(path, &buf, &p, &l, &n));
    CHECK(n == 4);
    if (n == 4) {
        CHECK(l[0] == 8 && !memcmp(p[0], SP "hello", 8));
        CHECK(l[1] == 5 && !memcmp(p[1], "world", 5));
        CHECK(l[2] == 8 && !memcmp(p[2], SP "a" SP "b", 8));
        CHECK(l[3] == 6 && !memcmp(p[3], "\xE4\xBD\xA0\xE5\xA5\xBD", 6));
    }
    free(buf);
    free((void *)p);
    free(l);
    CHECK(write_file(path, "", 0));
    CHECK_FAILS(herd_spm_read_pieces(path, &buf, &p, &l, &n), HERD_E_FORMAT);
    CHECK(write_file(path, "\n\r\n\n", 4));
    CHECK_FAILS(herd_spm_read_pieces(path, &buf, &p, &l, &n), HERD_E_FORMAT);
    char big[300];
    memset(big, 'x', sizeof big);
    big[0] = 'a', big[1] = '\n';
    CHECK(write_file(path, big, 2 + 257));
    CHECK_FAILS(herd_spm_read_pieces(path, &buf, &p, &l, &n), HERD_E_UNSUPPORTED);
    CHECK(strstr(herd_last_error(), ":2:") != NULL);
    CHECK(write_file(path, "ok\n\xFF\n", 4));
    CHECK_FAILS(herd_spm_read_pieces(path, &buf, &p, &l, &n), HERD_E_FORMAT);
}

/* ---- the grown model ---- */

static const float *rows_f32(const herd_model *m, int64_t *rows)
{
    *rows = m->w.tok_embeddings.rows;
    return m->w.tok_embeddings.type == HERD_TYPE_F32 ? m->w.tok_embeddings.data : NULL;
}

static void check_model(const char *orig_path, const char *grown_path, int n_old, int n_new,
                        herd_grow_init init, const int *prompt, int np)
{
    herd_model *a = NULL, *b = NULL;
    CHECK_OK(herd_model_open(orig_path, &a));
    CHECK_OK(herd_model_open(grown_path, &b));
    if (!a || !b)
        goto out;
    CHECK(herd_model_config(b)->vocab_size == n_new);
    CHECK(herd_tokenizer_n_vocab(herd_model_tokenizer(b)) == n_new);
    int64_t ra, rb;
    const float *ea = rows_f32(a, &ra), *eb = rows_f32(b, &rb);
    int dim = herd_model_config(a)->dim, bad = 0;
    CHECK(ea && eb && ra == n_old && rb == n_new);
    for (int c = 0; ea && eb && c < dim; c++) {
        double s = 0;
        for (int r = 0; r < n_old; r++) {
            s += ea[(size_t)r * dim + c];
            bad += eb[(size_t)r * dim + c] != ea[(size_t)r * dim + c];
        }
        float want = init == HERD_GROW_ZERO ? 0.0f : (float)(s / n_old);
        for (int r = n_old; r < n_new; r++)
            bad += !test_close(eb[(size_t)r * dim + c], want, 1e-6f);
    }
    CHECK_MSG(bad == 0, "%d embedding values differ", bad);
    herd_context *ca = NULL, *cb = NULL;
    float *la = malloc((size_t)n_old * sizeof *la), *lb = malloc((size_t)n_new * sizeof *lb);
    CHECK_OK(herd_context_new(a, 32, &ca));
    CHECK_OK(herd_context_new(b, 32, &cb));
    if (ca && cb && la && lb) {
        CHECK_OK(herd_eval(ca, prompt, NULL, np, la, 0));
        CHECK_OK(herd_eval(cb, prompt, NULL, np, lb, 0));
        double mean = 0;
        bad = 0;
        for (int i = 0; i < n_old; i++) {
            bad += !test_close(lb[i], la[i], 1e-5f);
            mean += la[i];
        }
        mean /= n_old;
        for (int i = n_old; i < n_new; i++)
            bad += !test_close(lb[i], init == HERD_GROW_ZERO ? 0.0f : (float)mean, 1e-4f);
        CHECK_MSG(bad == 0, "%d logits differ", bad);
    }
    herd_context_free(ca);
    herd_context_free(cb);
    free(la);
    free(lb);
out:
    herd_model_free(a);
    herd_model_free(b);
}

/* Grows the model at path with tok (extended from its own, or from
 * base_tok when the model has none) and checks the result. */
static void test_grow(const char *path, herd_tokenizer *base_tok, herd_grow_init init,
                      const char *out_name)
{
    herd_model *m = NULL;
    CHECK_OK(herd_model_load(path, NULL, &m));
    if (!m)
        return;
    if (base_tok) {
        herd_tokenizer_free(m->tok);
        m->tok = base_tok;
    }
    static const char *pieces[] = {SP "little" SP "girl", SP "caf\xC3\xA9", "zq"};
    int n_old = m->cfg.vocab_size;
    herd_tokenizer *x = extend(m->tok, pieces, 3, 1, NULL);
    int n_new = x ? x->n_vocab : 0;
    herd_status s = x ? herd_model_grow_vocab(m, x, init) : HERD_E_ARG;
    CHECK_MSG(s == HERD_OK, "%s: %s", path, herd_last_error());
    if (s != HERD_OK)
        herd_tokenizer_free(x);
    const char *out = tmp_path(out_name);
    if (s == HERD_OK) {
        CHECK_OK(herd_save_gguf_as_is(m, out, 0, NULL, NULL));
        CHECK_FAILS(herd_save_gguf_as_is(m, out, 0, NULL, NULL), HERD_E_ARG);
    }
    herd_model_free(m);
    int prompt[6] = {1, 5, 17, 42, 3, 9};
    if (s == HERD_OK)
        check_model(path, out, n_old, n_new, init, prompt, 6);
}

/* An n-piece SentencePiece vocabulary (n <= 128) for the fixtures. */
static herd_tokenizer *toy_vocab(int n)
{
    static char names[128][8];
    const char *p[128];
    size_t l[128];
    float sc[128];
    const char *special[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < n; i++) {
        if (i < 3)
            snprintf(names[i], sizeof names[i], "%s", special[i]);
        else if (i < 3 + 26)
            snprintf(names[i], sizeof names[i], SP "%c", 'a' + i - 3);
        else if (i < 29 + 94)
            snprintf(names[i], sizeof names[i], "%c", 0x21 + i - 29);
        else
            snprintf(names[i], sizeof names[i], SP "%c", 'A' + i - 29 - 94);
        p[i] = names[i];
        l[i] = strlen(names[i]);
        sc[i] = (float)-i;
    }
    herd_tokenizer *t = NULL;
    CHECK_OK(herd_spm_from_vocab(n, p, l, sc, NULL, 1, 2, 0, 1, &t));
    return t;
}

static void test_mismatch(const char *rnd)
{
    herd_model *m = NULL;
    CHECK_OK(herd_model_load(rnd, NULL, &m));
    if (!m)
        return;
    herd_tokenizer *t = toy_vocab(128);
    static const char *pieces[] = {"zq"};
    herd_tokenizer *x = t ? extend(t, pieces, 1, 1, NULL) : NULL;
    if (x)
        CHECK_FAILS(herd_model_grow_vocab(m, x, HERD_GROW_MEAN), HERD_E_ARG);
    CHECK(m->cfg.vocab_size == m->tok->n_vocab);
    herd_tokenizer_free(x);
    herd_tokenizer_free(t);
    herd_model_free(m);
}

int main(void)
{
    char rnd[512];
    const char *bin = getenv("HERD_BIN");
    snprintf(rnd, sizeof rnd, "%s/models/herd-random.gguf", bin && *bin ? bin : ".");
    if (access(rnd, R_OK) != 0)
        TEST_SKIP("no %s", rnd);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/herd-vx-XXXXXX");
    if (!mkdtemp(tmpdir))
        TEST_SKIP("no temporary folder");
    herd_model *m = NULL;
    CHECK_OK(herd_model_load(rnd, NULL, &m));
    if (m) {
        static const char *given[] = {SP "little" SP "girl", SP "caf\xC3\xA9", "\xC3\xA9",
                                      SP "the", SP "little" SP "girl"};
        herd_spm_extend_stats st;
        herd_tokenizer *x = extend(m->tok, given, 5, 1, &st);
        if (x) {
            test_appended(m->tok, x, &st);
            test_encoding(m->tok, x);
        }
        herd_tokenizer_free(x);
        test_errors(m->tok);
        herd_model_free(m);
    }
    test_pieces_file();
    test_mismatch(rnd);
    test_grow(rnd, NULL, HERD_GROW_MEAN, "rnd-mean.gguf");
    test_grow(rnd, NULL, HERD_GROW_ZERO, "rnd-zero.gguf");
    char tied[512];
    snprintf(tied, sizeof tied, "%s/tests/fixtures/models/gqa_tied/model.gguf", test_source());
    if (access(tied, R_OK) == 0) {
        test_grow(tied, toy_vocab(128), HERD_GROW_MEAN, "tied-mean.gguf");
        char mha[512];
        snprintf(mha, sizeof mha, "%s/tests/fixtures/models/mha/hf", test_source());
        test_grow(mha, toy_vocab(96), HERD_GROW_ZERO, "hf-zero.gguf");
    }
    const char *names[] = {"pieces.txt", "rnd-mean.gguf", "rnd-zero.gguf", "tied-mean.gguf",
                           "hf-zero.gguf"};
    for (int i = 0; i < 5; i++)
        unlink(tmp_path(names[i]));
    rmdir(tmpdir);
    TEST_END();
}

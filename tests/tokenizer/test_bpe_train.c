/* herd_bpe_train: the vocabulary's structure (special and byte pieces,
 * scores, every merged piece made of two pieces that existed before it,
 * "▁" only in front, no digit merged, no mixed scripts), the exact merge
 * sequence against a naive reference trainer written here (recounts every
 * pair after every merge), encode -> decode round trips of seen and unseen
 * text, determinism and the errors. test_bpe_train_spm.py checks the
 * written tokenizer.model against SentencePiece. */
#include "test.h"
#include "herd.h"
#include "tokenizer/bpe_train.h"
#include "tokenizer/tokenizer.h"
#include <stdint.h>

#define WS "\xE2\x96\x81"

static const char *sentences[] = {
    "The quick brown fox jumps over the lazy dog.",
    "In the beginning was the word, and the word was with the reader.",
    "She sells sea shells by the sea shore; the shells she sells are surely seashells.",
    "Numbers like 1234 and 2024 and 3.14159 are split into single digits.",
    "A  double  space, and   a triple one, stay with the word after them.",
    "Cafe and caf\xC3\xA9, na\xC3\xAFve r\xC3\xA9sum\xC3\xA9, \xE4\xB8\xAD\xE6\x96\x87 "
    "\xE4\xB8\xAD\xE6\x96\x87\xE5\xAD\x97 and \xF0\x9F\x98\x80 too.",
    "aaaa bbbbb aaa zzzzzz, the runs of letters count as merges take them.",
    "    indented lines keep their spaces in front of the first word",
};

/* Some lines of text built from the sentences above (n rounds). */
static char *corpus(int rounds, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    int k = sizeof sentences / sizeof *sentences;
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < k; i++) {
            const char *a = sentences[(i * 7 + r) % k];
            size_t l = strlen(a);
            if (n + l + 2 > cap)
                s = realloc(s, cap *= 2);
            memcpy(s + n, a, l);
            n += l;
            s[n++] = '\n';
        }
    s[n] = 0;
    *len = n;
    return s;
}

static int utf8_chars(const char *s, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static int is_piece(const herd_tokenizer *t, const char *s, size_t n, int before)
{
    char buf[256];
    memcpy(buf, s, n);
    buf[n] = 0;
    int id = herd_token_id(t, buf);
    return id >= 0 && (id < before || utf8_chars(s, n) == 1);
}

/* A merged piece is two pieces joined: single characters or merged pieces
 * made before it. */
static int two_earlier_pieces(const herd_tokenizer *t, int id)
{
    const char *p = herd_token_piece(t, id);
    size_t n = strlen(p);
    for (size_t k = 1; k < n; k++)
        if (((unsigned char)p[k] & 0xC0) != 0x80 && is_piece(t, p, k, id) &&
            is_piece(t, p + k, n - k, id))
            return 1;
    return 0;
}

static void check_piece_rules(const herd_tokenizer *t, int id)
{
    const char *p = herd_token_piece(t, id);
    size_t n = strlen(p);
    int chars = utf8_chars(p, n), all_ws = 1, digit = 0, ws_inside = 0;
    for (size_t i = 0; i < n; i++)
        digit |= p[i] >= '0' && p[i] <= '9';
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)p[i] & 0xC0) == 0x80)
            continue;
        int ws = !strncmp(p + i, WS, 3);
        all_ws &= ws;
        ws_inside |= ws && i > 0;
    }
    CHECK_MSG(herd_token_id(t, p) == id, "piece %d '%s' appears twice", id, p);
    if (chars == 1)
        return;
    CHECK_MSG(chars <= 16, "piece %d '%s' has %d characters", id, p, chars);
    CHECK_MSG(!digit, "piece %d '%s' merges a digit", id, p);
    CHECK_MSG(!ws_inside || all_ws, "piece %d '%s' crosses a word start", id, p);
    CHECK_MSG(two_earlier_pieces(t, id), "piece %d '%s' is not two earlier pieces", id, p);
}

static void check_structure(const herd_tokenizer *t, int vocab)
{
    CHECK(herd_tokenizer_n_vocab(t) == vocab);
    CHECK(!strcmp(herd_token_piece(t, 0), "<unk>") && herd_token_type(t, 0) == HERD_PIECE_UNKNOWN);
    CHECK(!strcmp(herd_token_piece(t, 1), "<s>") && herd_token_type(t, 1) == HERD_PIECE_CONTROL);
    CHECK(!strcmp(herd_token_piece(t, 2), "</s>") && herd_token_type(t, 2) == HERD_PIECE_CONTROL);
    CHECK(herd_tokenizer_bos(t) == 1 && herd_tokenizer_eos(t) == 2 && herd_tokenizer_unk(t) == 0);
    CHECK(herd_tokenizer_add_dummy_prefix(t));
    int bytes_ok = 1, order_ok = 1;
    for (int b = 0; b < 256; b++) {
        char want[8];
        snprintf(want, sizeof want, "<0x%02X>", b);
        bytes_ok &= !strcmp(herd_token_piece(t, 3 + b), want) &&
                    herd_token_type(t, 3 + b) == HERD_PIECE_BYTE;
    }
    CHECK(bytes_ok);
    for (int id = 259; id < vocab; id++) {
        order_ok &= herd_token_type(t, id) == HERD_PIECE_NORMAL;
        order_ok &= id == 259 || herd_token_score(t, id) < herd_token_score(t, id - 1);
        check_piece_rules(t, id);
    }
    CHECK_MSG(order_ok, "pieces after the bytes are NORMAL with decreasing scores");
}

/* Encodes with BOS, decodes, and compares with the text. */
static void check_round_trip(const herd_tokenizer *t, const char *s, size_t n)
{
    int cap = (int)n + 8, got = 0;
    int *ids = malloc((size_t)cap * sizeof *ids);
    CHECK_OK(herd_tokenize(t, s, n, 1, 0, ids, cap, &got));
    char *out = malloc(n * 4 + 300), buf[256];
    size_t k = 0;
    for (int i = 1; i < got && got <= cap; i++) {
        int l = herd_token_to_bytes(t, ids[i - 1], ids[i], buf);
        CHECK(l >= 0);
        if (l > 0 && k + (size_t)l <= n * 4 + 256) {
            memcpy(out + k, buf, (size_t)l);
            k += (size_t)l;
        }
    }
    CHECK_MSG(k == n && !memcmp(out, s, n), "round trip of %.40s...: %zu bytes back of %zu",
              s, k, n);
    CHECK_MSG(got < (int)n || n < 50, "%d tokens for %zu bytes: no compression", got, n);
    free(ids);
    free(out);
}

/* ---- a naive reference trainer: ASCII text, every pair recounted after
 * every merge; the rules and the tie-break of bpe_train.h ---- */
#define RMAX 600
typedef struct {
    char sym[RMAX][64];     /* '_' stands for "▁" */
    int n_sym, n_chars;
    int *word[4096];
    int wlen[4096], wcount[4096], n_words;
    long long cnt[RMAX][RMAX];
} naive;

static int nv_find(const naive *v, const char *s)
{
    for (int i = 0; i < v->n_sym; i++)
        if (!strcmp(v->sym[i], s))
            return i;
    return -1;
}

static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int nv_valid(const naive *v, int a, int b)
{
    const char *x = v->sym[a], *y = v->sym[b];
    char j[130];
    snprintf(j, sizeof j, "%s%s", x, y);
    size_t n = strlen(j), ws = strspn(j, "_");
    if (n > 16 || strpbrk(j, "0123456789"))
        return 0;
    if (ws == n)
        return 1;
    if (strchr(j + 1, '_'))
        return 0;
    int cls = -1;
    for (size_t i = ws; i < n; i++) {
        if (cls >= 0 && cls != is_alpha(j[i]))
            return 0;
        cls = is_alpha(j[i]);
    }
    return 1;
}

static void nv_add_word(naive *v, const char *w, int n)
{
    for (int i = 0; i < v->n_words; i++)
        if (v->wlen[i] == n) {
            int same = 1;
            for (int k = 0; k < n; k++)
                same &= v->word[i][k] == nv_find(v, (char[2]){w[k], 0});
            if (same) {
                v->wcount[i]++;
                return;
            }
        }
    int i = v->n_words++;
    v->word[i] = malloc((size_t)n * sizeof(int));
    for (int k = 0; k < n; k++)
        v->word[i][k] = nv_find(v, (char[2]){w[k], 0});
    v->wlen[i] = n;
    v->wcount[i] = 1;
}

static int by_freq_then_char(const void *x, const void *y)
{
    const long long *a = x, *b = y; /* {count, char} */
    return a[0] != b[0] ? (a[0] > b[0] ? -1 : 1) : (a[1] > b[1]) - (a[1] < b[1]);
}

static void nv_init(naive *v, const char *text)
{
    long long freq[256][2] = {{0}};
    char line[512];
    for (const char *p = text; *p;) {
        size_t l = strcspn(p, "\n");
        line[0] = '_';
        for (size_t i = 0; i < l; i++)
            line[i + 1] = p[i] == ' ' ? '_' : p[i];
        for (size_t i = 0; i <= l; i++)
            freq[(unsigned char)line[i]][0]++;
        p += l + (p[l] == '\n');
    }
    for (int c = 0; c < 256; c++)
        freq[c][1] = c == '_' ? 0x2581 : c;
    qsort(freq, 256, sizeof freq[0], by_freq_then_char);
    for (int c = 0; c < 256 && freq[c][0]; c++)
        snprintf(v->sym[v->n_sym++], 64, "%c", freq[c][1] == 0x2581 ? '_' : (int)freq[c][1]);
    v->n_chars = v->n_sym;
    for (const char *p = text; *p;) {
        size_t l = strcspn(p, "\n"), s = 0;
        line[0] = '_';
        for (size_t i = 0; i < l; i++)
            line[i + 1] = p[i] == ' ' ? '_' : p[i];
        for (size_t i = 1; i <= l + 1; i++)
            if (i == l + 1 || (line[i] == '_' && line[i - 1] != '_')) {
                nv_add_word(v, line + s, (int)(i - s));
                s = i;
            }
        p += l + (p[l] == '\n');
    }
    v->n_sym++; /* the rare-character symbol: ids as bpe_train numbers them */
    strcpy(v->sym[v->n_chars], "\x01");
}

/* One merge; returns the new piece's id, or -1 when no pair is left. */
static int nv_step(naive *v, int *is_new)
{
    memset(v->cnt, 0, sizeof v->cnt);
    for (int w = 0; w < v->n_words; w++)
        for (int i = 0, skip = 0; i + 1 < v->wlen[w]; i++) {
            int a = v->word[w][i], b = v->word[w][i + 1];
            if (skip && a == b) {
                skip = 0;
                continue;
            }
            skip = a == b;
            v->cnt[a][b] += v->wcount[w];
        }
    int ba = -1, bb = -1;
    for (int a = 0; a < v->n_sym; a++)
        for (int b = 0; b < v->n_sym; b++)
            if (v->cnt[a][b] > 0 && nv_valid(v, a, b) && (ba < 0 || v->cnt[a][b] > v->cnt[ba][bb]))
                ba = a, bb = b;
    if (ba < 0)
        return -1;
    char j[130];
    snprintf(j, sizeof j, "%s%s", v->sym[ba], v->sym[bb]);
    int c = nv_find(v, j);
    *is_new = c < 0;
    if (c < 0) /* valid: at most 16 bytes */
        memcpy(v->sym[c = v->n_sym++], j, strlen(j) + 1);
    for (int w = 0; w < v->n_words; w++) {
        int k = 0;
        for (int i = 0; i < v->wlen[w];)
            if (i + 1 < v->wlen[w] && v->word[w][i] == ba && v->word[w][i + 1] == bb) {
                v->word[w][k++] = c;
                i += 2;
            } else {
                v->word[w][k++] = v->word[w][i++];
            }
        v->wlen[w] = k;
    }
    return c;
}

/* herd's piece with "▁" written as '_'. */
static void underscored(const char *p, char *out)
{
    for (; *p; p++)
        if (!strncmp(p, WS, 3)) {
            *out++ = '_';
            p += 2;
        } else {
            *out++ = *p;
        }
    *out = 0;
}

static void test_against_naive(void)
{
    static const char text[] =
        "the cat sat on the mat\nthe dog  sat on the log\n   aaaa bbbbbb aaa the end\n"
        "she sells sea shells, by the sea shore.\nthat theme then thaws 1999 and 2000\n"
        "theirs is the thing that they thought\n"
        "cats and dogs and the rest: mats, logs!\naaaaaaa aa a\n";
    naive *v = calloc(1, sizeof *v);
    nv_init(v, text);
    int want[400], n_want = 0, is_new = 0;
    for (int r = 0; n_want < 120; r++) {
        int c = nv_step(v, &is_new);
        if (c < 0)
            break;
        if (is_new)
            want[n_want++] = c;
    }
    CHECK(n_want >= 60);
    herd_tokenizer *t = NULL;
    herd_bpe_train_params p = {.vocab_size = 259 + v->n_chars + n_want,
                               .character_coverage = 1.0};
    CHECK_OK(herd_bpe_train(text, strlen(text), &p, &t));
    char got[256];
    int same = t != NULL;
    for (int k = 0; t && k < n_want; k++) {
        underscored(herd_token_piece(t, 259 + k), got);
        if (strcmp(got, v->sym[want[k]])) {
            fprintf(stderr, "merge %d: herd '%s', reference '%s'\n", k, got, v->sym[want[k]]);
            same = 0;
            break;
        }
    }
    for (int k = 0; t && k < v->n_chars; k++) {
        underscored(herd_token_piece(t, 259 + n_want + k), got);
        same &= !strcmp(got, v->sym[k]);
    }
    CHECK_MSG(same, "herd's %d merges and characters are the reference's", n_want);
    herd_tokenizer_free(t);
    for (int w = 0; w < v->n_words; w++)
        free(v->word[w]);
    free(v);
}

static void count_progress(void *user, int done, int total)
{
    int *seen = user;
    seen[0] += done == seen[1] + 1;
    seen[1] = done;
    seen[2] = total;
}

static void test_train(void)
{
    size_t n;
    char *text = corpus(12, &n);
    int seen[3] = {0, 0, 0};
    herd_bpe_train_stats st;
    herd_bpe_train_params p = {.vocab_size = 480, .progress = count_progress, .user = seen,
                               .stats = &st};
    herd_tokenizer *t = NULL, *again = NULL;
    CHECK_OK(herd_bpe_train(text, n, &p, &t));
    if (!t)
        return;
    check_structure(t, 480);
    CHECK(st.n_merges == 480 - 259 - st.n_alphabet && st.n_lines == 12 * 8);
    CHECK(seen[0] == st.n_merges && seen[1] == seen[2] && seen[2] == st.n_merges);
    CHECK(herd_token_id(t, WS "the") >= 259 && herd_token_id(t, WS WS) >= 259);
    check_round_trip(t, text, n);
    static const char unseen[] = "  Zebras quietly vex 42 jumping wizards \xE2\x80\x94 "
                                 "\xCE\xA9\xE2\x89\x88\xE2\x98\x83 \xF0\x9D\x84\x9E\ttab  end ";
    check_round_trip(t, unseen, strlen(unseen));
    p.progress = NULL;
    CHECK_OK(herd_bpe_train(text, n, &p, &again));
    int same = again && herd_tokenizer_n_vocab(again) == 480;
    for (int id = 0; same && id < 480; id++)
        same &= !strcmp(herd_token_piece(t, id), herd_token_piece(again, id));
    CHECK_MSG(same, "the same text gives the same vocabulary");
    herd_tokenizer_free(t);
    herd_tokenizer_free(again);
    free(text);
}

static void test_split_ws_runs(void)
{
    size_t n;
    char *text = corpus(6, &n);
    herd_bpe_train_params p = {.vocab_size = 400, .split_ws_runs = 1};
    herd_tokenizer *t = NULL;
    CHECK_OK(herd_bpe_train(text, n, &p, &t));
    int ws_only = 0;
    for (int id = 259; t && id < 400; id++)
        ws_only += !strncmp(herd_token_piece(t, id), WS WS, 6);
    CHECK(t && ws_only == 0);
    if (t)
        check_round_trip(t, text, n);
    herd_tokenizer_free(t);
    free(text);
}

static void test_errors(void)
{
    herd_tokenizer *t = (herd_tokenizer *)1;
    const char *s = "hello world\n";
    herd_bpe_train_params p = {.vocab_size = 259};
    CHECK_FAILS(herd_bpe_train(s, strlen(s), &p, &t), HERD_E_ARG);
    CHECK(t == NULL);
    p.vocab_size = (1 << 20) + 1;
    CHECK_FAILS(herd_bpe_train(s, strlen(s), &p, &t), HERD_E_ARG);
    p.vocab_size = 262; /* 259 + 3 < 259 + the 8 characters */
    CHECK_FAILS(herd_bpe_train(s, strlen(s), &p, &t), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "characters"));
    p.vocab_size = 2000;
    CHECK_FAILS(herd_bpe_train(s, strlen(s), &p, &t), HERD_E_ARG);
    CHECK(strstr(herd_last_error(), "at most"));
    CHECK_FAILS(herd_bpe_train("\n\n", 2, &p, &t), HERD_E_ARG);
    p.character_coverage = 1.5;
    CHECK_FAILS(herd_bpe_train(s, strlen(s), &p, &t), HERD_E_ARG);
    p.character_coverage = 0;
    p.vocab_size = 259 + 8 + 2; /* h e l o w r d ▁ and two merges */
    CHECK_OK(herd_bpe_train(s, strlen(s), &p, &t));
    herd_tokenizer_free(t);
}

static void test_scripts(void)
{
    int latin = herd_bpe_script('a');
    CHECK(herd_bpe_script('Z') == latin && herd_bpe_script(0xE9) == latin);
    CHECK(herd_bpe_script(',') != latin && herd_bpe_script(',') == herd_bpe_script('!'));
    CHECK(herd_bpe_script(0x1F600) == herd_bpe_script(','));      /* emoji: Common */
    CHECK(herd_bpe_script(0x4E2D) == herd_bpe_script(0x3042));    /* Han = Hiragana */
    CHECK(herd_bpe_script(0x4E2D) == herd_bpe_script(0x30AB));    /* = Katakana */
    CHECK(herd_bpe_script(0x044F) != latin && herd_bpe_script(0x044F) == herd_bpe_script(0x0416));
    CHECK(herd_bpe_script(0x03B1) != latin && herd_bpe_script(0x03B1) != herd_bpe_script(0x044F));
    CHECK(herd_bpe_script(0x0301) != latin);                      /* combining: Inherited */
}

int main(void)
{
    test_scripts();
    test_against_naive();
    test_train();
    test_split_ws_runs();
    test_errors();
    TEST_END();
}

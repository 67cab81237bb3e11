/* Reward models (train/reward.h) on tiny models:
 *  1. the ranking loss: its value against softplus computed here from the
 *     hidden states (and log 2 with a zero head), its gradient on the head
 *     and through the backbone against finite differences;
 *  2. a saved reward model scores sequences as the training path does
 *     (herd_reward_score runs the inference forward, an independent code
 *     path); a model file without the head is refused;
 *  3. a synthetic preference task made here: responses ending in "amen"
 *     are preferred to ones ending in "omen", "aman", "amel" or "emen"
 *     (the same number of tokens: only the content tells them apart); a
 *     tiny random model trained by herd_reward_train reaches a held-out
 *     accuracy >= 0.9, measured here from the saved file; the same run on
 *     labels drawn at random stays near chance (0.3 .. 0.7). */
#include "test.h"
#include "train/reward.h"
#include "model/model.h"
#include "formats/gguf.h"
#include <unistd.h>

enum { P = 2, B = 2 * P, T = 8 };
static int tokens[B * T], targets[B * T], last[B] = {7, 4, 6, 2};
static const float margin[P] = {0.5f, 0.0f};
static const herd_batch batch = {B, T, tokens, targets, NULL};

static double loss_of(herd_train_model *tm, const float *head)
{
    herd_reward_stats st;
    CHECK_OK(herd_reward_batch(tm, &batch, last, margin, head, NULL, NULL, &st));
    return st.loss;
}

static herd_config tiny(int vocab)
{
    herd_config c = {0};
    c.dim = 16; c.hidden_dim = 32; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2;
    c.vocab_size = vocab; c.seq_len = 64; c.norm_eps = 1e-5f; c.rope_theta = 10000.0f;
    return c;
}

/* 1. Loss value and gradients. */
static void test_gradients(herd_train_model *tm, float *head)
{
    int D = herd_train_config(tm)->dim;
    float zero[17] = {0}, rewards[B];
    CHECK(fabs(loss_of(tm, zero) - 0.5 * (log1p(exp(0.5)) + log(2.0))) < 1e-9);

    /* The loss from the hidden states, computed here. */
    float *hidden = malloc((size_t)B * T * D * sizeof *hidden);
    herd_reward_stats st;
    CHECK_OK(herd_reward_batch(tm, &batch, last, margin, head, NULL, rewards, &st));
    CHECK_OK(herd_train_hidden(tm, &batch, hidden));
    double r[B], want = 0;
    for (int row = 0; row < B; row++) {
        r[row] = head[D];
        for (int i = 0; i < D; i++)
            r[row] += (double)head[i] * hidden[((size_t)row * T + last[row]) * D + i];
        CHECK(fabs(r[row] - rewards[row]) < 1e-5);
    }
    for (int p = 0; p < P; p++)
        want += log1p(exp(-(r[2 * p] - r[2 * p + 1] - margin[p]))) / P;
    CHECK_MSG(fabs(st.loss - want) < 1e-6, "loss %.8g, want %.8g", st.loss, want);
    CHECK(st.pairs == P && st.correct == (r[0] > r[1]) + (r[2] > r[3]));
    free(hidden);

    float dhead[17] = {0};
    herd_train_zero_grad(tm);
    CHECK_OK(herd_reward_batch(tm, &batch, last, margin, head, dhead, NULL, &st));
    for (int i = 0; i <= D; i++) {
        float save = head[i];
        double h = 1e-2;
        head[i] = save + (float)h;
        double up = loss_of(tm, head);
        head[i] = save - (float)h;
        double dn = loss_of(tm, head);
        head[i] = save;
        double fd = (up - dn) / (2 * h);
        CHECK_MSG(fabs(fd - dhead[i]) <= 2e-3 * fmax(fabs(dhead[i]), 1e-2),
                  "head[%d]: fd %.6g, gradient %.6g", i, fd, dhead[i]);
    }
    CHECK(dhead[D] == 0.0f); /* the bias cancels in r_c - r_r */

    size_t n;
    float *p = herd_train_params(tm, &n), *g = herd_train_grads(tm, NULL);
    int checked = 0;
    for (int k = 0; k < herd_train_n_tensors(tm); k++) {
        const herd_param_info *t = herd_train_tensor(tm, k);
        size_t len = (size_t)(t->rows * t->cols), j = 0;
        for (size_t i = 1; i < len; i++)   /* the largest gradient of the tensor */
            if (fabs(g[t->offset + i]) > fabs(g[t->offset + j]))
                j = i;
        if (!strcmp(t->name, "output") || fabs(g[t->offset + j]) < 1e-4)
            continue;  /* the output projection plays no part in a reward */
        float save = p[t->offset + j];
        double h = 1e-2;
        p[t->offset + j] = save + (float)h;
        double up = loss_of(tm, head);
        p[t->offset + j] = save - (float)h;
        double dn = loss_of(tm, head);
        p[t->offset + j] = save;
        double fd = (up - dn) / (2 * h), an = g[t->offset + j];
        CHECK_MSG(fabs(fd - an) <= 3e-3 * fmax(fabs(an), 1e-2), "%s[%zu]: fd %.6g, gradient %.6g",
                  t->name, j, fd, an);
        checked++;
    }
    CHECK_MSG(checked >= 10, "only %d tensors had a gradient", checked);
}

/* 2. Save, open, score: the inference path gives the training path's rewards. */
static void test_save_open(herd_train_model *tm, const float *head, const char *dir)
{
    char path[512], plain[512];
    snprintf(path, sizeof path, "%s/rm.gguf", dir);
    snprintf(plain, sizeof plain, "%s/plain.gguf", dir);
    float want[B];
    herd_reward_stats st;
    CHECK_OK(herd_reward_batch(tm, &batch, last, margin, head, NULL, want, &st));
    const herd_model *m = herd_train_as_model(tm);
    CHECK_OK(herd_reward_save(m, head, HERD_CHAT_LLAMA3, path));
    CHECK_OK(herd_save_gguf(m, plain, HERD_TYPE_F32));
    herd_reward_model *rm = NULL;
    CHECK_OK(herd_reward_open(path, &rm));
    if (!rm)
        return;
    CHECK(herd_reward_template(rm) == HERD_CHAT_LLAMA3);
    CHECK(!memcmp(herd_reward_head(rm), head, 17 * sizeof *head));
    const int *seqs[B];
    int lens[B];
    for (int row = 0; row < B; row++)
        seqs[row] = tokens + row * T, lens[row] = last[row] + 1;
    float got[B];
    CHECK_OK(herd_reward_score(rm, seqs, lens, B, got));
    for (int row = 0; row < B; row++)
        CHECK_MSG(fabs(got[row] - want[row]) < 1e-4 * fmax(1, fabs(want[row])),
                  "row %d: reward %.7g, training path %.7g", row, got[row], want[row]);
    herd_reward_free(rm);
    /* The backbone opens as a plain model; a plain model is no reward model. */
    herd_model *bm;
    CHECK_OK(herd_model_open(path, &bm));
    if (bm)
        herd_model_free(bm);
    CHECK_FAILS(herd_reward_open(plain, &rm), HERD_E_FORMAT);
    CHECK(strstr(herd_last_error(), "not a reward model") != NULL);
    unlink(path);
    unlink(plain);
}

/* ---- 3. the synthetic task ---- */

static uint64_t rng = 12345;
static int draw(int n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (int)((rng >> 33) % (uint64_t)n);
}

static void body(char *s, size_t cap)
{
    static const char *w[] = {"the", "dog", "cat", "saw", "a", "big", "tree", "sun", "girl",
                              "boy", "ball", "day", "was", "happy", "little", "friend"};
    s[0] = 0;
    for (int i = 0, n = 2 + draw(4); i < n; i++)
        snprintf(s + strlen(s), cap - strlen(s), " %s", w[draw(16)]);
}

/* Pairs "Say something." -> "... amen" over "... omen|aman|amel|emen"; with
 * random_labels the two endings are "amen" and "omen" in a random order,
 * so nothing can be learned. */
static void write_pairs(const char *path, int n, int random_labels)
{
    static const char *other[] = {"omen", "aman", "amel", "emen"};
    FILE *f = fopen(path, "w");
    for (int i = 0; i < n; i++) {
        char a[128], b[128];
        body(a, sizeof a);
        body(b, sizeof b);
        int flip = random_labels && draw(2);
        const char *good = flip ? "omen" : "amen";
        const char *worse = random_labels ? (flip ? "amen" : "omen") : other[draw(4)];
        fprintf(f, "{\"prompt\": \"Say something.\", \"chosen\": \"%s %s\", "
                "\"rejected\": \"%s %s\"}\n", a, good, b, worse);
    }
    fclose(f);
}

static double final_val_acc = -1;
static void on_step(void *user, const herd_reward_record *r)
{
    (void)user;
    if (r->step == r->steps)
        final_val_acc = r->val_accuracy;
}

/* Held-out accuracy of the saved model, scored here pair by pair. */
static double accuracy(const char *model, const char *val)
{
    herd_reward_model *rm;
    CHECK_OK(herd_reward_open(model, &rm));
    if (!rm)
        return 0;
    herd_pref_set *s;
    CHECK_OK(herd_pref_load(val, herd_reward_tokenizer(rm), herd_reward_template(rm), 0, 0, &s,
                            NULL));
    int correct = 0;
    for (int64_t i = 0; s && i < s->n; i++) {
        const herd_pref_pair *p = &s->pairs[i];
        const int *seqs[2] = {p->chosen, p->rejected};
        int lens[2] = {p->n_chosen, p->n_rejected};
        float r[2];
        CHECK_OK(herd_reward_score(rm, seqs, lens, 2, r));
        correct += r[0] > r[1];
    }
    double acc = s ? (double)correct / s->n : 0;
    herd_pref_set_free(s);
    herd_reward_free(rm);
    return acc;
}

static void test_task(const char *dir, int random_labels)
{
    char src[512], init[512], train[512], val[512], out[512], rmp[600];
    const char *bin = getenv("HERD_BIN");
    snprintf(src, sizeof src, "%s/models/herd-random.gguf", bin ? bin : "build");
    herd_model *tokm;
    if (herd_model_open(src, &tokm) != HERD_OK) {
        printf("no %s: synthetic task skipped\n", src);
        return;
    }
    herd_tokenizer *tok = herd_model_tokenizer(tokm);
    herd_config c = tiny(herd_tokenizer_n_vocab(tok));
    c.dim = 32; c.hidden_dim = 64;
    herd_train_model *tm;
    CHECK_OK(herd_train_model_new(&c, 7, &tm));
    herd_model *m = (herd_model *)herd_train_as_model(tm);
    m->tok = tok;
    snprintf(init, sizeof init, "%s/init.gguf", dir);
    CHECK_OK(herd_save_gguf(m, init, HERD_TYPE_F32));
    m->tok = NULL;
    herd_train_model_free(tm);
    herd_model_free(tokm);

    int asan = getenv("ASAN_OPTIONS") != NULL;   /* sanitizers: ~5x slower */
    snprintf(train, sizeof train, "%s/train.jsonl", dir);
    snprintf(val, sizeof val, "%s/val.jsonl", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    write_pairs(train, 400, random_labels);
    write_pairs(val, 100, random_labels);
    herd_reward_opts o;
    herd_reward_opts_defaults(&o);
    snprintf(o.init, sizeof o.init, "%s", init);
    snprintf(o.train_data, sizeof o.train_data, "%s", train);
    snprintf(o.val_data, sizeof o.val_data, "%s", val);
    snprintf(o.out_dir, sizeof o.out_dir, "%s", out);
    snprintf(o.chat_template, sizeof o.chat_template, "none");
    o.batch_size = 8;
    o.steps = asan ? 60 : 100;
    o.warmup = 10;
    o.lr = 3e-3f;
    o.eval_every = 0;
    o.threads = 1;
    herd_reward_callbacks cb = {on_step, NULL, NULL, NULL};
    CHECK_OK(herd_reward_train(&o, &cb));
    snprintf(rmp, sizeof rmp, "%s/reward.gguf", out);
    double acc = accuracy(rmp, val);
    printf("%s: held-out accuracy %.3f (training's own evaluation %.3f) after %lld steps\n",
           random_labels ? "random labels" : "amen task", acc, final_val_acc, (long long)o.steps);
    if (random_labels)
        CHECK_MSG(acc > 0.3 && acc < 0.7, "held-out accuracy %.3f on random labels", acc);
    else
        CHECK_MSG(acc >= 0.9, "held-out accuracy %.3f", acc);
    CHECK(fabs(acc - final_val_acc) <= 0.011);
    char path[700];
    const char *names[] = {"train.jsonl", "val.jsonl", "init.gguf", "out/reward.gguf",
                           "out/loss.csv"};
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(out);
}

int main(void)
{
    char dir[] = "/tmp/herd_test_reward_XXXXXX";
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary folder");
    herd_set_threads(1);   /* a tiny model: one thread is fastest */
    herd_config c = tiny(31);
    herd_train_model *tm;
    CHECK_OK(herd_train_model_new(&c, 3, &tm));
    size_t n;
    float *p = herd_train_params(tm, &n);
    for (size_t i = 0; i < n; i++)
        p[i] += 0.2f * (float)sin(i * 1.7);
    for (int i = 0; i < B * T; i++) {
        tokens[i] = (i * 5 + 2) % 31;
        targets[i] = -1;
    }
    float head[17];
    for (int i = 0; i < 16; i++)
        head[i] = 0.5f * (float)cos(i * 0.9);
    head[16] = 0.1f;
    test_gradients(tm, head);
    test_save_open(tm, head, dir);
    herd_train_model_free(tm);
    test_task(dir, 0);
    test_task(dir, 1);   /* the control: chance */
    rmdir(dir);
    TEST_END();
}

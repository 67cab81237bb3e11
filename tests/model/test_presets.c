/* Presets: every published Llama size has the published parameter count.
 *
 * Where each expected count comes from (not from herd):
 *  [T]  the count transformers reports for the loaded checkpoint
 *       (model.num_parameters(), the "all params" PEFT prints), widely quoted;
 *  [HF] the Hugging Face model API field safetensors.total of the official
 *       meta-llama repository (the "Model size" on its page);
 *  [IX] model.safetensors.index.json "total_size" of the official bf16
 *       checkpoint divided by 2 bytes.
 * The Llama 2 checkpoints on Hugging Face also store a rotary "inv_freq"
 * buffer of head_dim/2 = 64 floats per layer, which is not a parameter: their
 * safetensors.total is 7B 6,738,417,664 = 6,738,415,616 + 32*64,
 * 13B 13,015,866,880 = 13,015,864,320 + 40*64,
 * 70B 68,976,653,312 = 68,976,648,192 + 80*64. */
#include "herd.h"
#include "model/model.h"
#include "test.h"

static const struct {
    const char *name;
    int64_t n;
    const char *source;
} published[] = {
    /* LLaMA 1 7B/13B have exactly Llama 2 7B/13B's tensors (only the context
     * differs): [T] 6,738,415,616 and 13,015,864,320. */
    {"llama1-7b", 6738415616LL, "[T] as Llama 2 7B"},
    {"llama1-13b", 13015864320LL, "[T] as Llama 2 13B"},
    /* LLaMA "30B"/65B: the parameter count pyllama prints for the
     * llama-30b-hf / llama-65b-hf conversions of Meta's release. */
    {"llama1-33b", 32528943616LL, "[T] llama-30b-hf"},
    {"llama1-65b", 65285660672LL, "[T] llama-65b-hf"},
    {"llama2-7b", 6738415616LL, "[T] meta-llama/Llama-2-7b-hf"},
    {"llama2-13b", 13015864320LL, "[T] meta-llama/Llama-2-13b-hf"},
    {"llama2-70b", 68976648192LL, "[T] meta-llama/Llama-2-70b-hf"},
    /* [IX] Meta-Llama-3-8B: total_size 16,060,522,496 */
    {"llama3-8b", 8030261248LL, "[IX] Meta-Llama-3-8B"},
    /* Llama 3 70B has Llama 3.1 70B's tensors; [IX] total_size 141,107,412,992 */
    {"llama3-70b", 70553706496LL, "[IX] as Llama 3.1 70B"},
    {"llama3.1-8b", 8030261248LL, "[HF] meta-llama/Llama-3.1-8B"},
    {"llama3.1-70b", 70553706496LL, "[HF] meta-llama/Llama-3.1-70B"},
    {"llama3.1-405b", 405853388800LL, "[HF] meta-llama/Llama-3.1-405B"},
    /* tied embeddings: the embedding counted once */
    {"llama3.2-1b", 1235814400LL, "[HF] meta-llama/Llama-3.2-1B"},
    {"llama3.2-3b", 3212749824LL, "[HF] meta-llama/Llama-3.2-3B"},
};
#define N_PUBLISHED ((int)(sizeof published / sizeof *published))

static void test_counts(void)
{
    for (int i = 0; i < N_PUBLISHED; i++) {
        const herd_config *c = herd_preset(published[i].name);
        CHECK_MSG(c != NULL, "missing preset %s", published[i].name);
        if (!c)
            continue;
        int64_t n = herd_config_n_params(c);
        CHECK_MSG(n == published[i].n, "%s: %lld parameters, published %lld (%s)",
                  published[i].name, (long long)n, (long long)published[i].n,
                  published[i].source);
        CHECK_OK(herd_config_check(c));
    }
    /* every preset is in the table */
    CHECK(herd_preset_count() == N_PUBLISHED);
}

static void test_names(void)
{
    int n = herd_preset_count();
    CHECK(n > 0);
    for (int i = 0; i < n; i++) {
        const char *a = herd_preset_name(i);
        CHECK(a != NULL);
        if (!a)
            continue;
        CHECK(herd_preset(a) != NULL);
        for (int j = i + 1; j < n; j++)
            CHECK_MSG(herd_preset_name(j) && strcmp(a, herd_preset_name(j)) != 0,
                      "duplicate preset name %s", a);
    }
    CHECK(herd_preset_name(-1) == NULL);
    CHECK(herd_preset_name(n) == NULL);
    CHECK(herd_preset("nope") == NULL);
    CHECK(herd_preset("") == NULL);
    CHECK(herd_preset(NULL) == NULL);
    CHECK(herd_preset("LLAMA2-7B") == NULL);
}

/* Facts the papers and configs state, checked one by one. */
static void test_shapes(void)
{
    const herd_config *l1 = herd_preset("llama1-7b"), *l2 = herd_preset("llama2-7b");
    const herd_config *l2b = herd_preset("llama2-70b"), *l3 = herd_preset("llama3-8b");
    const herd_config *l31 = herd_preset("llama3.1-8b"), *l32 = herd_preset("llama3.2-1b");
    if (!l1 || !l2 || !l2b || !l3 || !l31 || !l32) {
        CHECK(!"presets missing");
        return;
    }
    CHECK(l1->seq_len == 2048 && l2->seq_len == 4096 && l3->seq_len == 8192);
    CHECK(l31->seq_len == 131072 && l32->seq_len == 131072);
    CHECK(l1->vocab_size == 32000 && l2->vocab_size == 32000 && l3->vocab_size == 128256);
    CHECK(l1->norm_eps == 1e-6f && l2->norm_eps == 1e-5f && l3->norm_eps == 1e-5f);
    CHECK(l2->rope_theta == 10000.0f && l3->rope_theta == 500000.0f);
    CHECK(l2->n_kv_heads == l2->n_heads);           /* MHA */
    CHECK(l2b->n_kv_heads == 8 && l2b->n_heads == 64); /* GQA */
    CHECK(l3->n_kv_heads == 8);
    CHECK(l32->tied_embeddings && !l31->tied_embeddings);
    for (int i = 0; i < herd_preset_count(); i++) {
        const herd_config *c = herd_preset(herd_preset_name(i));
        CHECK(c && c->rope_layout == HERD_ROPE_META);
    }
}

/* The count by hand on a tiny config: embedding 10x4; 2 layers of q 4x4,
 * k and v 2x4 each (head_dim 2, one kv head), o 4x4, three FFN 6x4, two
 * norms of 4; final norm 4; output 10x4 unless tied. */
static void test_by_hand(void)
{
    herd_config c = {.dim = 4, .hidden_dim = 6, .n_layers = 2, .n_heads = 2,
                     .n_kv_heads = 1, .vocab_size = 10, .seq_len = 8};
    /* per layer: 16 + 8 + 8 + 16 + 72 + 8 = 128 */
    CHECK(herd_config_n_params(&c) == 40 + 2 * 128 + 4 + 40);
    c.tied_embeddings = 1;
    CHECK(herd_config_n_params(&c) == 40 + 2 * 128 + 4);
    CHECK(herd_config_n_params(NULL) == 0);
}

int main(void)
{
    test_counts();
    test_names();
    test_shapes();
    test_by_hand();
    TEST_END();
}

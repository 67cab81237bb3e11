/* QLoRA (herd_lora_params.qlora): the frozen matrices held in NF4. Against
 * a plain LoRA model whose base holds exactly the NF4-dequantized weights,
 * the loss and every adapter gradient must be the same; the NF4 copy is
 * about a quarter of the F16 size of the matrices it replaces; and with
 * B = 0 the loss stays within NF4's rounding of the F32 base's. */
#include "test.h"
#include "herd_train.h"
#include "model/train.h"

enum { B = 2, T = 10 };

int main(void)
{
    herd_set_threads(1);
    herd_config c = {0};
    c.dim = 64; c.hidden_dim = 128; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2;
    c.vocab_size = 50; c.seq_len = 32; c.norm_eps = 1e-5f; c.rope_theta = 10000.0f;
    c.tied_embeddings = 1;
    herd_train_model *base_tm, *deq_tm, *q, *l;
    CHECK_OK(herd_train_model_new(&c, 11, &base_tm));
    CHECK_OK(herd_train_model_new(&c, 11, &deq_tm));
    herd_lora_params lp = {4, 8.0f, 0.0f, HERD_LORA_ALL, 1};
    CHECK_OK(herd_train_model_lora(herd_train_as_model(base_tm), &lp, 5, &q));

    int tok[B * T], tg[B * T];
    for (int i = 0; i < B * T; i++) {
        tok[i] = (i * 7 + 1) % 50;
        tg[i] = (i * 3 + 2) % 50;
    }
    herd_batch b = {B, T, tok, tg, NULL};
    float l_f32, l_q;
    CHECK_OK(herd_train_loss(base_tm, &b, &l_f32, NULL));
    CHECK_OK(herd_train_loss(q, &b, &l_q, NULL));
    CHECK_MSG(fabsf(l_q - l_f32) < 0.02f * l_f32 && l_q != l_f32,
              "QLoRA with B = 0: loss %.6g, F32 base %.6g", l_q, l_f32);

    /* The dequantized NF4 weights into deq_tm's matrices. */
    size_t nf4_bytes = 0, f16_bytes = 0;

    for (int li = 0; li < c.n_layers; li++) {
        const herd_train_layer *L = &q->L[li];
        const herd_train_mat *qm[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w1, &L->w3, &L->w2};
        const herd_train_mat *dm[7] = {&deq_tm->L[li].wq, &deq_tm->L[li].wk, &deq_tm->L[li].wv,
                                       &deq_tm->L[li].wo, &deq_tm->L[li].w1, &deq_tm->L[li].w3,
                                       &deq_tm->L[li].w2};
        for (int i = 0; i < 7; i++) {
            CHECK(qm[i]->nf4 != NULL);
            CHECK_OK(herd_nf4_dequant_rows(qm[i]->nf4, 0, qm[i]->out, (float *)dm[i]->w));
            nf4_bytes += herd_nf4_bytes(qm[i]->out, qm[i]->in);
            f16_bytes += (size_t)qm[i]->out * qm[i]->in * 2;
        }
    }
    CHECK_MSG(nf4_bytes * 4 < f16_bytes * 1.05 && nf4_bytes * 4 > f16_bytes * 0.95,
              "NF4 %zu bytes vs F16 %zu", nf4_bytes, f16_bytes);
    herd_lora_params plain = lp;
    plain.qlora = 0;
    CHECK_OK(herd_train_model_lora(herd_train_as_model(deq_tm), &plain, 5, &l));

    /* The same random B in both, then loss and gradients. */
    size_t n;
    float *pq = herd_train_params(q, &n), *pl = herd_train_params(l, NULL);
    for (size_t i = 0; i < n; i++)
        pq[i] = pl[i] = 0.05f * (float)((i * 2654435761u) % 1000) / 1000.0f - 0.025f;
    herd_train_zero_grad(q);
    herd_train_zero_grad(l);
    float a, bl;
    CHECK_OK(herd_train_forward_backward(q, &b, 1.0f, &a, NULL));
    CHECK_OK(herd_train_forward_backward(l, &b, 1.0f, &bl, NULL));
    CHECK_MSG(fabsf(a - bl) <= 1e-5f * bl, "QLoRA loss %.8g, LoRA on dequantized %.8g", a, bl);
    float *gq = herd_train_grads(q, NULL), *gl = herd_train_grads(l, NULL);
    double worst = 0, mx = 1e-9;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(gq[i] - gl[i]));
        mx = fmax(mx, fabs(gl[i]));
    }
    CHECK_MSG(worst <= 1e-4 * mx, "gradients differ by %g (max %g)", worst, mx);

    /* A down projection 100 wide (not a multiple of NF4's block of 64): its
     * rows are padded to 128 and the product still matches. */
    c.hidden_dim = 100;
    herd_train_model *odd, *oq;
    CHECK_OK(herd_train_model_new(&c, 1, &odd));
    CHECK_OK(herd_train_model_lora(herd_train_as_model(odd), &lp, 1, &oq));
    CHECK(oq->L[0].w2.nf4 && oq->L[0].w2.nf4->cols == 128 && oq->L[0].w2.in == 100);
    float lo_q, lo_f;
    CHECK_OK(herd_train_loss(oq, &b, &lo_q, NULL));
    CHECK_OK(herd_train_loss(odd, &b, &lo_f, NULL));
    CHECK_MSG(fabsf(lo_q - lo_f) < 0.02f * lo_f, "padded QLoRA loss %.6g, F32 %.6g", lo_q, lo_f);
    herd_train_model_free(oq);
    herd_train_model_free(odd);
    herd_train_model_free(q);
    herd_train_model_free(l);
    herd_train_model_free(base_tm);
    herd_train_model_free(deq_tm);
    TEST_END();
}

/* herd_quantize_gguf: llama-quantize's job. The input GGUF is opened as
 * herd convert opens a model (checked, weights left in their file types)
 * and parsed once more for its metadata, which goes to the output pair by
 * pair; each matrix gets the type herd_quant_pick_type gives it and is
 * quantized by the writer (gguf_write.c) from the original rows. */
#include "formats/quantize.h"
#include "quant/quant.h"
#include "base/error.h"
#include "base/file.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const herd_quantize_opts *o;
    const herd_model *m;
    herd_quantize_stats st;
} job;

static void warn(const job *j, const char *msg)
{
    if (j->o->warn)
        j->o->warn(j->o->user, msg);
}

static herd_type pick(void *user, const char *name, const herd_tensor *t)
{
    job *j = user;
    const herd_config *c = &j->m->cfg;
    herd_quant_pick p = herd_quant_pick_type(j->o->ftype, name, 2, t->cols, c->n_layers,
                                             c->tied_embeddings);
    if (!herd_type_size(t->type) && t->type != p.type)
        j->st.n_requantized++;
    if (p.fallback) {
        char msg[256];
        const herd_qtraits *q = herd_qtraits_get((herd_qtype)p.wanted);
        int n = snprintf(msg, sizeof msg, "%s: rows of %lld values are no whole number of "
                         "%s blocks of %lld: stored as %s", name, (long long)t->cols,
                         herd_type_name(p.wanted), (long long)(q ? q->blck : 0),
                         herd_type_name(p.type));
        if (n > 0 && (size_t)n < sizeof msg && p.llamacpp &&
            strcmp(p.llamacpp, herd_type_name(p.type)) != 0)
            snprintf(msg + n, sizeof msg - (size_t)n, " (llama.cpp: %s, which herd lacks)",
                     p.llamacpp);
        warn(j, msg);
        j->st.n_fallback++;
    }
    return p.type;
}

static void done(void *user, const herd_gguf_tensor_report *r)
{
    job *j = user;
    j->st.n_tensors++;
    j->st.n_elements += r->rows * r->cols;
    j->st.in_bytes += r->in_bytes;
    j->st.out_bytes += r->out_bytes;
    if (j->o->done)
        j->o->done(j->o->user, r);
}

/* The folder out goes in must be there (before any work is done). */
static herd_status check_out_dir(const char *out)
{
    const char *slash = strrchr(out, '/');
    if (!slash)
        return HERD_OK;
    size_t n = slash == out ? 1 : (size_t)(slash - out);
    char *d = strndup(out, n);
    if (!d)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    struct stat st;
    herd_status s = HERD_OK;
    if (stat(d, &st) != 0)
        s = herd_fail(HERD_E_IO, "%s: %s", out, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        s = herd_fail(HERD_E_IO, "%s: %s", out, strerror(ENOTDIR));
    free(d);
    return s;
}

static herd_status check_paths(const char *in, const char *out, int force)
{
    struct stat si, so;
    char magic[4] = {0};
    if (stat(in, &si) != 0)
        return herd_fail(HERD_E_IO, "%s: %s", in, strerror(errno));
    FILE *f = S_ISREG(si.st_mode) ? fopen(in, "rb") : NULL;
    if (!f && S_ISREG(si.st_mode))
        return herd_fail(HERD_E_IO, "%s: %s", in, strerror(errno));
    size_t n = f ? fread(magic, 1, 4, f) : 0;
    if (f)
        fclose(f);
    if (n != 4 || memcmp(magic, "GGUF", 4) != 0)
        return herd_fail(HERD_E_FORMAT, "%s: not a GGUF file (herd quantize reads GGUF; "
                         "herd convert writes one from other formats)", in);
    if (lstat(out, &so) != 0)
        return check_out_dir(out);
    if (S_ISDIR(so.st_mode))
        return herd_fail(HERD_E_ARG, "%s is a folder; the output is a file", out);
    if (so.st_dev == si.st_dev && so.st_ino == si.st_ino)
        return herd_fail(HERD_E_ARG, "%s: the input and the output are the same file", out);
    if (!force)
        return herd_fail(HERD_E_ARG, "%s already exists (--force replaces it)", out);
    return HERD_OK;
}

/* Counts the matrices that come quantized already and says so. */
static void warn_quantized_input(job *j, const char *in)
{
    const herd_weights *w = &j->m->w;
    const herd_tensor *first = NULL;
    if (w->tok_embeddings.data && !herd_type_size(w->tok_embeddings.type))
        first = &w->tok_embeddings;
    for (int l = 0; l < j->m->cfg.n_layers && !first; l++)
        if (!herd_type_size(w->layers[l].wq.type))
            first = &w->layers[l].wq;
    if (!first && w->output.data && !herd_type_size(w->output.type))
        first = &w->output;
    if (!first)
        return;
    char msg[512];
    snprintf(msg, sizeof msg, "%s holds quantized weights (%s): they are dequantized and "
             "quantized again, which loses more than quantizing the original F32/F16/BF16 "
             "model", in, herd_type_name(first->type));
    warn(j, msg);
}

/* Whether the writer writes a tensor of this name for m. */
static int writes(const herd_model *m, const herd_gguf_str name)
{
    static const char *const layer[] = {"attn_norm", "attn_q", "attn_k", "attn_v",
                                        "attn_output", "ffn_norm", "ffn_gate", "ffn_down",
                                        "ffn_up"};
    char n[96], want[96];
    if (name.len >= sizeof n)
        return 0;
    memcpy(n, name.p, name.len);
    n[name.len] = 0;
    if (!strcmp(n, "token_embd.weight") || !strcmp(n, "output_norm.weight") ||
        (!strcmp(n, "output.weight") && !m->cfg.tied_embeddings) ||
        (!strcmp(n, "rope_freqs.weight") && m->w.rope_freqs.data))
        return 1;
    int l;
    if (sscanf(n, "blk.%d.", &l) != 1 || l < 0 || l >= m->cfg.n_layers)
        return 0;
    for (int k = 0; k < 9; k++) {
        snprintf(want, sizeof want, "blk.%d.%s.weight", l, layer[k]);
        if (!strcmp(n, want))
            return 1;
    }
    return 0;
}

/* Tensors of the input that are no part of the llama model herd writes. */
static void warn_unknown_tensors(job *j, const herd_gguf *g)
{
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (!writes(j->m, g->tensors[i].name)) {
            char msg[256];
            snprintf(msg, sizeof msg, "tensor %.*s is no part of a llama model: left out",
                     (int)(g->tensors[i].name.len > 100 ? 100 : g->tensors[i].name.len),
                     g->tensors[i].name.p);
            warn(j, msg);
        }
}

herd_status herd_quantize_gguf(const char *in, const char *out, const herd_quantize_opts *o,
                               herd_quantize_stats *st)
{
    if (st)
        memset(st, 0, sizeof *st);
    if (!strcmp(herd_ftype_name(o->ftype), "unknown"))
        return herd_fail(HERD_E_ARG, "file type %d: herd quantizes to Q8_0, Q4_0, Q4_K_M, "
                         "Q6_K, F16, BF16 or F32", (int)o->ftype);
    if (!in || !*in || !out || !*out)
        return herd_fail(HERD_E_ARG, "no input or no output path");
    HERD_TRY(check_paths(in, out, o->force));
    herd_model *m;
    HERD_TRY(herd_model_load(in, NULL, &m));
    herd_map map = {0};
    herd_gguf g;
    memset(&g, 0, sizeof g);
    herd_status s = herd_map_file(in, &map);
    if (s == HERD_OK)
        s = herd_gguf_parse(in, map.data, map.size, &g);
    job j = {.o = o, .m = m};
    if (s == HERD_OK) {
        warn_quantized_input(&j, in);
        warn_unknown_tensors(&j, &g);
        herd_gguf_write_opts wo = {
            .type_of = pick, .file_type = (uint32_t)o->ftype,
            .quant_version = HERD_GGUF_QNT_VERSION, .meta = &g, .progress = o->progress,
            .done = done, .user = &j};
        s = herd_save_gguf_opts(m, out, &wo);
    }
    herd_gguf_free(&g);
    herd_unmap(&map);
    herd_model_free(m);
    if (st)
        *st = j.st;
    return s;
}

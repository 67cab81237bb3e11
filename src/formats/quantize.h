/* herd quantize: a GGUF model rewritten with its weight matrices in a block
 * type, as llama.cpp's llama-quantize does it. The pieces: the file types
 * and llama.cpp's choice of a type for each tensor (quantize_rules.c), the
 * driver that opens the input and writes the output (quantize.c), and the
 * GGUF writer with a type per tensor, block types included (gguf_write.c,
 * gguf_write_meta.c), declared here because quantizing is what needs it. */
#ifndef HERD_FORMATS_QUANTIZE_H
#define HERD_FORMATS_QUANTIZE_H
#include <stdint.h>
#include "formats/convert.h"
#include "formats/gguf.h"
#include "formats/gguf_buf.h"

/* general.quantization_version as llama.cpp writes it (ggml's
 * GGML_QNT_VERSION). */
#define HERD_GGUF_QNT_VERSION 2

/* ---- the typed GGUF writer (gguf_write.c) ---- */

/* One tensor once written. */
typedef struct {
    int index, count;         /* index of count tensors */
    const char *name;         /* GGUF name */
    int64_t rows, cols;
    herd_type from, to;       /* its type in the model, its type in the file */
    uint64_t in_bytes, out_bytes;
} herd_gguf_tensor_report;

/* The stored type of one matrix (never called for vectors, which are
 * always written as F32). */
typedef herd_type (*herd_gguf_type_fn)(void *user, const char *name, const herd_tensor *t);
typedef void (*herd_gguf_done_fn)(void *user, const herd_gguf_tensor_report *r);

typedef struct {
    herd_type type;             /* every matrix, when type_of is NULL */
    herd_gguf_type_fn type_of;  /* may be NULL */
    uint32_t file_type;         /* general.file_type (llama_ftype) */
    uint32_t quant_version;     /* > 0: general.quantization_version */
    /* Not NULL: the metadata pairs of this file are copied as they are
     * (herd_gguf_copy_metadata) instead of herd writing its own from the
     * model. It must describe the same model. */
    const herd_gguf *meta;
    herd_progress_fn progress;  /* before each tensor; may be NULL */
    herd_gguf_done_fn done;     /* after each tensor; may be NULL */
    void *user;
} herd_gguf_write_opts;

/* Writes m as GGUF v3 as herd_save_gguf does (PATH.tmp, synced, renamed)
 * with each matrix in the type o gives it: any type herd runs (F32, F16,
 * BF16, Q8_0, Q4_0, Q4_K, Q6_K); a row length that is no whole number of
 * the type's blocks is an error. Matrices may come in any of those types:
 * a tensor already in its output type is copied byte for byte, others go
 * through float32 (quantized ones dequantized) and the type's reference
 * quantizer, rows in parallel with OpenMP. */
herd_status herd_save_gguf_opts(const herd_model *m, const char *path,
                                const herd_gguf_write_opts *o);

/* Copies g's metadata pairs to b in their order, as llama-quantize does:
 * general.alignment becomes herd's, general.file_type and (quant_version
 * > 0) general.quantization_version are replaced where they are or added
 * at the end, and split.* (a split file's bookkeeping) is dropped
 * (gguf_write_meta.c). */
void herd_gguf_copy_metadata(herd_gbuf *b, const herd_gguf *g, uint32_t file_type,
                             uint32_t quant_version);

/* ---- file types and llama.cpp's choice of tensor types (quantize_rules.c) ---- */

/* llama.cpp's llama_ftype numbers, as general.file_type stores them. */
typedef enum {
    HERD_FTYPE_ALL_F32 = 0,
    HERD_FTYPE_MOSTLY_F16 = 1,
    HERD_FTYPE_MOSTLY_Q4_0 = 2,
    HERD_FTYPE_MOSTLY_Q8_0 = 7,
    HERD_FTYPE_MOSTLY_Q4_K_M = 15,
    HERD_FTYPE_MOSTLY_Q6_K = 18,
    HERD_FTYPE_MOSTLY_BF16 = 32
} herd_ftype;

/* A file type by llama-quantize's name in any case ("Q4_K_M", "q8_0",
 * "f16") or by its number ("15"); HERD_E_ARG for another. */
herd_status herd_ftype_parse(const char *s, herd_ftype *out);
const char *herd_ftype_name(herd_ftype f);
/* The type of most matrices: Q4_K for Q4_K_M, F16 for F16, ... */
herd_type herd_ftype_base(herd_ftype f);

/* The type one tensor gets. */
typedef struct {
    herd_type type;     /* what herd stores */
    herd_type wanted;   /* llama.cpp's choice for the tensor's role, before
                           the row-length fallback */
    int fallback;       /* 1: the row length is no whole number of wanted's
                           blocks, so type is a fallback */
    /* With fallback: what llama.cpp stores instead ("Q5_0", "Q8_0" or
     * "F16"; it differs from type only for Q5_0, which herd lacks);
     * NULL without fallback. */
    const char *llamacpp;
} herd_quant_pick;

/* llama.cpp's llama_tensor_get_type for a llama model, for a tensor of
 * n_dims dimensions named name (GGUF names) with rows of cols values, in a
 * model of n_layers layers whose output shares token_embd when tied. */
herd_quant_pick herd_quant_pick_type(herd_ftype f, const char *name, int n_dims,
                                     int64_t cols, int n_layers, int tied);

/* ---- the driver (quantize.c) ---- */

typedef struct {
    herd_ftype ftype;
    int force;                  /* replace an existing output */
    herd_progress_fn progress;  /* before each tensor; may be NULL */
    herd_gguf_done_fn done;     /* after each tensor; may be NULL */
    herd_warn_fn warn;          /* fallbacks, requantizing; may be NULL */
    void *user;
} herd_quantize_opts;

typedef struct {
    int n_tensors;
    int n_fallback;             /* matrices stored in a fallback type */
    int n_requantized;          /* quantized matrices dequantized first */
    int64_t n_elements;
    uint64_t in_bytes, out_bytes;
} herd_quantize_stats;

/* Reads the GGUF model in and writes it to out with the types
 * herd_quant_pick_type gives, every metadata pair carried over
 * (general.file_type set to o->ftype, general.quantization_version to 2).
 * out is written as OUT.tmp and renamed; an existing out is an error
 * unless o->force; a failure leaves no output. st may be NULL. */
herd_status herd_quantize_gguf(const char *in, const char *out, const herd_quantize_opts *o,
                               herd_quantize_stats *st);

#endif

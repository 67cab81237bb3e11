/* A weight tensor as a loader hands it to the model: a view of a row-major
 * [rows][cols] matrix (a vector has rows 1), in the file's element type.
 * Types use GGUF's numbering so that files and memory speak alike. */
#ifndef HERD_MODEL_TENSOR_H
#define HERD_MODEL_TENSOR_H
#include <stdint.h>
#include <stddef.h>

typedef enum {
    HERD_TYPE_F32 = 0,
    HERD_TYPE_F16 = 1,
    HERD_TYPE_Q4_0 = 2,
    HERD_TYPE_Q8_0 = 8,
    HERD_TYPE_Q4_K = 12,
    HERD_TYPE_Q6_K = 14,
    HERD_TYPE_BF16 = 30
} herd_type;

typedef struct {
    const void *data;   /* NULL: not present in the file */
    herd_type type;
    int64_t rows, cols; /* a matmul weight is [out][in] */
    int x_f16;          /* F16 weights whose activations are rounded to F16
                           first, as llama.cpp multiplies F16 weights: set
                           by herd_model_prepare in models of block types */
} herd_tensor;

/* Bytes per element of a float type, 0 for a block (quantized) type or one
 * herd does not know. */
size_t herd_type_size(herd_type t);
/* Bytes of a row of cols values in any type herd runs (quantized ones in
 * whole blocks); 0 if unknown or cols is not a multiple of the block. */
size_t herd_row_bytes(herd_type t, int64_t cols);
const char *herd_type_name(herd_type t);

#endif

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
    HERD_TYPE_BF16 = 30
} herd_type;

typedef struct {
    const void *data;   /* NULL: not present in the file */
    herd_type type;
    int64_t rows, cols; /* a matmul weight is [out][in] */
} herd_tensor;

/* Bytes per element of a type, 0 if herd does not know it. */
size_t herd_type_size(herd_type t);
const char *herd_type_name(herd_type t);

#endif

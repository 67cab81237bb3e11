/* ggml tensor types and GGUF value types: names and sizes. */
#include "formats/gguf.h"

typedef struct {
    const char *name;
    uint32_t blck;   /* elements per block; 0: layout unknown to herd */
    uint32_t bytes;  /* bytes per block */
} type_info;

/* ggml's numbering. Names of removed numbers are NULL. */
static const type_info ggml_types[] = {
    [0] = {"F32", 1, 4},        [1] = {"F16", 1, 2},
    [2] = {"Q4_0", 32, 18},     [3] = {"Q4_1", 32, 20},
    [6] = {"Q5_0", 32, 22},     [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},     [9] = {"Q8_1", 32, 36},
    [10] = {"Q2_K", 256, 84},   [11] = {"Q3_K", 256, 110},
    [12] = {"Q4_K", 256, 144},  [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210},  [15] = {"Q8_K", 256, 292},
    [16] = {"IQ2_XXS", 0, 0},   [17] = {"IQ2_XS", 0, 0},
    [18] = {"IQ3_XXS", 0, 0},   [19] = {"IQ1_S", 0, 0},
    [20] = {"IQ4_NL", 0, 0},    [21] = {"IQ3_S", 0, 0},
    [22] = {"IQ2_S", 0, 0},     [23] = {"IQ4_XS", 0, 0},
    [24] = {"I8", 1, 1},        [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},       [27] = {"I64", 1, 8},
    [28] = {"F64", 1, 8},       [29] = {"IQ1_M", 0, 0},
    [30] = {"BF16", 1, 2},      [34] = {"TQ1_0", 0, 0},
    [35] = {"TQ2_0", 0, 0},     [39] = {"MXFP4", 0, 0},
};

int herd_ggml_type_info(uint32_t type, const char **name, uint32_t *blck,
                        uint32_t *bytes)
{
    if (type >= sizeof ggml_types / sizeof ggml_types[0] || !ggml_types[type].name)
        return 0;
    *name = ggml_types[type].name;
    *blck = ggml_types[type].blck;
    *bytes = ggml_types[type].bytes;
    return 1;
}

const char *herd_gguf_type_name(uint32_t vtype)
{
    static const char *names[HERD_GGUF_NTYPES] = {
        "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
        "bool", "string", "array", "uint64", "int64", "float64"};
    return vtype < HERD_GGUF_NTYPES ? names[vtype] : "unknown";
}

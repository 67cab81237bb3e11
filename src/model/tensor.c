#include "model/tensor.h"
#include "quant/quant.h"

size_t herd_type_size(herd_type t)
{
    switch (t) {
    case HERD_TYPE_F32: return 4;
    case HERD_TYPE_F16: return 2;
    case HERD_TYPE_BF16: return 2;
    default: return 0;
    }
}

size_t herd_row_bytes(herd_type t, int64_t cols)
{
    return herd_qrow_bytes((herd_qtype)t, cols);
}

const char *herd_type_name(herd_type t)
{
    switch (t) {
    case HERD_TYPE_F32: return "F32";
    case HERD_TYPE_F16: return "F16";
    case HERD_TYPE_BF16: return "BF16";
    case HERD_TYPE_Q4_0: return "Q4_0";
    case HERD_TYPE_Q8_0: return "Q8_0";
    case HERD_TYPE_Q4_K: return "Q4_K";
    case HERD_TYPE_Q6_K: return "Q6_K";
    }
    return "unknown";
}

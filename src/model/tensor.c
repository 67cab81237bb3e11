#include "model/tensor.h"

size_t herd_type_size(herd_type t)
{
    switch (t) {
    case HERD_TYPE_F32: return 4;
    case HERD_TYPE_F16: return 2;
    case HERD_TYPE_BF16: return 2;
    }
    return 0;
}

const char *herd_type_name(herd_type t)
{
    switch (t) {
    case HERD_TYPE_F32: return "F32";
    case HERD_TYPE_F16: return "F16";
    case HERD_TYPE_BF16: return "BF16";
    }
    return "unknown";
}

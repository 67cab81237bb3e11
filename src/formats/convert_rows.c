/* Element-type conversion of one row for the writers: F32, F16 and BF16
 * in any direction (through float; narrowing rounds to nearest even). */
#include "formats/convert.h"
#include "base/half.h"
#include <string.h>

static float load_elem(const uint8_t *p, herd_type t, int64_t i)
{
    if (t == HERD_TYPE_F32) {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, p + 2 * i, 2);
    return t == HERD_TYPE_F16 ? herd_f16_to_f32(h) : herd_bf16_to_f32(h);
}

void herd_convert_row(void *dst, herd_type dt, const void *src, herd_type st, int64_t n)
{
    if (dt == st) {
        memcpy(dst, src, (size_t)n * herd_type_size(st));
        return;
    }
    uint8_t *d = dst;
    for (int64_t i = 0; i < n; i++) {
        float f = load_elem(src, st, i);
        if (dt == HERD_TYPE_F32) {
            memcpy(d + 4 * i, &f, 4);
        } else {
            uint16_t h = dt == HERD_TYPE_F16 ? herd_f32_to_f16(f) : herd_f32_to_bf16(f);
            memcpy(d + 2 * i, &h, 2);
        }
    }
}

/* TEMPORARY STUB: replaced by the real Hugging Face folder loader. */
#include "model/model.h"
#include "base/error.h"
herd_status herd_load_hf(const char *dir, herd_model *m)
{
    (void)m;
    return herd_fail(HERD_E_UNSUPPORTED, "%s: Hugging Face folders are not read yet", dir);
}

/* herd_model_add_lora (herd.h): an adapter file attached to a model. */
#include "formats/adapter.h"
#include "model/adapter.h"
#include "base/error.h"

herd_status herd_model_add_lora(herd_model *m, const char *path, float scale)
{
    herd_adapter *a;
    HERD_TRY(herd_adapter_load(path, &m->cfg, &a));
    herd_status st = herd_model_attach_adapter(m, a, scale);
    if (st != HERD_OK)
        return herd_fail_prefix(st, "%s", path);
    return HERD_OK;
}

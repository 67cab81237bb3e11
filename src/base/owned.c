#include "base/owned.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

herd_status herd_owned_add_map(herd_owned *o, herd_map map)
{
    herd_map *p = realloc(o->maps, (size_t)(o->n_maps + 1) * sizeof *p);
    if (!p) {
        herd_unmap(&map);
        return herd_fail(HERD_E_NOMEM, "out of memory");
    }
    o->maps = p;
    o->maps[o->n_maps++] = map;
    return HERD_OK;
}

void *herd_owned_alloc(herd_owned *o, size_t n)
{
    void **p = realloc(o->bufs, (size_t)(o->n_bufs + 1) * sizeof *p);
    if (!p)
        return NULL;
    o->bufs = p;
    size_t sz = (n + 63) / 64 * 64;
    void *b = aligned_alloc(64, sz ? sz : 64);
    if (!b)
        return NULL;
    memset(b, 0, sz ? sz : 64);
    o->bufs[o->n_bufs++] = b;
    return b;
}

void herd_owned_free(herd_owned *o)
{
    for (int i = 0; i < o->n_maps; i++)
        herd_unmap(&o->maps[i]);
    for (int i = 0; i < o->n_bufs; i++)
        free(o->bufs[i]);
    free(o->maps);
    free(o->bufs);
    memset(o, 0, sizeof *o);
}

void herd_owned_release(const herd_owned *o, const void *p, size_t n)
{
    const char *a = p, *b = a + n;
    for (int i = 0; i < o->n_maps; i++) {
        const char *m = o->maps[i].data, *e = m + o->maps[i].size;
        if (!m || a < m || b > e)
            continue;
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        uintptr_t lo = ((uintptr_t)a + page - 1) / page * page, hi = (uintptr_t)b / page * page;
        if (hi > lo)
            madvise((void *)lo, hi - lo, MADV_DONTNEED);
        return;
    }
}

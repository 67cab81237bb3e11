/* What a model owns: file maps and heap buffers, freed together. */
#ifndef HERD_BASE_OWNED_H
#define HERD_BASE_OWNED_H
#include <stddef.h>
#include "base/file.h"

typedef struct {
    herd_map *maps;
    int n_maps;
    void **bufs;
    int n_bufs;
} herd_owned;

/* Takes the map over; it is unmapped by herd_owned_free. */
herd_status herd_owned_add_map(herd_owned *o, herd_map map);
/* A zeroed buffer of n bytes (64-byte aligned) freed by herd_owned_free;
 * NULL when out of memory. */
void *herd_owned_alloc(herd_owned *o, size_t n);
void herd_owned_free(herd_owned *o);
/* Drops the resident pages of [p, p + n) when it lies in one of o's read-only
 * file maps (they are read back from the file if touched again); does
 * nothing for heap memory. */
void herd_owned_release(const herd_owned *o, const void *p, size_t n);

#endif

/* Files: read-only memory maps and whole-file reads. */
#ifndef HERD_BASE_FILE_H
#define HERD_BASE_FILE_H
#include <stddef.h>
#include "herd.h"

typedef struct {
    void *data;   /* NULL for an empty file */
    size_t size;
} herd_map;

/* Files of at least HERD_MAP_HUGE_MIN bytes are mapped at a 2 MiB boundary
 * and marked MADV_HUGEPAGE (unless HERD_HUGEPAGES=off), so that 2 MiB page
 * cache folios map with one TLB entry each: a decoding step streams all the
 * weights, and 4 KiB pages cost it about a fifth of its bandwidth. */
#define HERD_MAP_HUGE_PAGE ((size_t)2 << 20)
#define HERD_MAP_HUGE_MIN ((size_t)16 << 20)

/* Maps a whole file read-only. An empty file maps to data NULL, size 0. */
herd_status herd_map_file(const char *path, herd_map *m);
/* As herd_map_file, for model weights: where the page cache holds a large
 * file in 4 KiB pages although this kernel would read it in 2 MiB folios,
 * drops the file's unmapped cached pages first so that it is read back in
 * 2 MiB folios (once: later loads find them). Nothing is copied, unless
 * herd_set_mmap(0) asked for herd_copy_file. */
herd_status herd_map_weights(const char *path, herd_map *m);
/* As herd_map_file, into anonymous memory (2 MiB pages where large):
 * herd_map_weights after herd_set_mmap(0). herd_unmap frees it. */
herd_status herd_copy_file(const char *path, herd_map *m);
void herd_unmap(herd_map *m);
/* Bytes of m mapped in 2 MiB entries now (/proc/self/smaps: FilePmdMapped,
 * AnonHugePages for a copy); 0 where unknown. */
size_t herd_map_huge_bytes(const herd_map *m);

/* The pieces (file.c): whether a file of size bytes is mapped for 2 MiB
 * pages, and the read-only map of fd's first size bytes (MAP_FAILED and
 * errno on failure). */
int herd_map_huge_wanted(size_t size);
void *herd_map_fd(int fd, size_t size);

/* Reads a whole file into a malloc'd buffer with a NUL byte after it. */
herd_status herd_read_file(const char *path, char **data, size_t *size);

int herd_is_dir(const char *path);
int herd_file_exists(const char *path);

/* Joins dir and name into out (size n); fails when it does not fit. */
herd_status herd_path_join(char *out, size_t n, const char *dir, const char *name);

#endif

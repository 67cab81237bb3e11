/* Files: read-only memory maps and whole-file reads. */
#ifndef HERD_BASE_FILE_H
#define HERD_BASE_FILE_H
#include <stddef.h>
#include "herd.h"

typedef struct {
    void *data;   /* NULL for an empty file */
    size_t size;
} herd_map;

/* Maps a whole file read-only. An empty file maps to data NULL, size 0. */
herd_status herd_map_file(const char *path, herd_map *m);
void herd_unmap(herd_map *m);

/* Reads a whole file into a malloc'd buffer with a NUL byte after it. */
herd_status herd_read_file(const char *path, char **data, size_t *size);

int herd_is_dir(const char *path);
int herd_file_exists(const char *path);

/* Joins dir and name into out (size n); fails when it does not fit. */
herd_status herd_path_join(char *out, size_t n, const char *dir, const char *name);

#endif

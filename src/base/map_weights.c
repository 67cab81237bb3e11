/* Model weights in 2 MiB pages (file.h): herd_map_weights, which reads a
 * file back into 2 MiB page cache folios where it sits in 4 KiB pages and
 * the kernel would do better, and herd_map_huge_bytes, which says how much
 * of a map is in 2 MiB entries (/proc/self/smaps). */
#define _DEFAULT_SOURCE
#include "base/file.h"
#include "base/error.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* 2 MiB chunks of a file looked at to tell how its cached pages lie. */
#define SAMPLES 16

size_t herd_map_huge_bytes(const herd_map *m)
{
    if (!m->data)
        return 0;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return 0;
    const uintptr_t lo = (uintptr_t)m->data, hi = lo + m->size;
    char line[512];
    int inside = 0;
    size_t kb = 0, v;
    unsigned long a, b;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx ", &a, &b) == 2)
            inside = a >= lo && a < hi;
        else if (inside && (sscanf(line, "FilePmdMapped: %zu kB", &v) == 1 ||
                            sscanf(line, "AnonHugePages: %zu kB", &v) == 1))
            kb += v;
    }
    fclose(f);
    return kb * 1024;
}

/* Reads one byte of each 2 MiB chunk c[0..n) through the map. */
static void touch(const herd_map *m, const size_t *c, int n)
{
    volatile char sink = 0;
    for (int i = 0; i < n; i++)
        sink ^= ((volatile const char *)m->data)[c[i] * HERD_MAP_HUGE_PAGE];
    (void)sink;
}

/* 1 when the file is cached in small pages although this kernel reads it
 * back in 2 MiB folios: the resident chunks sampled do not map in 2 MiB
 * entries, while one of them, dropped from the cache and read again, does
 * (tried chunk by chunk: a file may be partly in 2 MiB folios already, and
 * a chunk that is gains nothing). */
static int small_but_could_be_huge(int fd, const herd_map *m)
{
    const size_t huge = HERD_MAP_HUGE_PAGE, chunks = m->size / huge;
    size_t c[SAMPLES];
    int n = 0;
    for (int i = 0; i < SAMPLES && chunks >= 2; i++) {
        size_t k = (chunks - 1) * (size_t)i / (SAMPLES - 1);
        unsigned char res = 0;
        if ((n == 0 || c[n - 1] != k) &&
            mincore((char *)m->data + k * huge, (size_t)sysconf(_SC_PAGESIZE), &res) == 0 &&
            (res & 1))
            c[n++] = k;
    }
    if (n == 0)
        return 0; /* not cached: it is read in whatever folios the kernel makes */
    touch(m, c, n);
    size_t before = herd_map_huge_bytes(m);
    if (before * 4 >= (size_t)n * huge * 3)
        return 0; /* in 2 MiB entries already */
    for (int i = 0; i < n; i++) {
        char *probe = (char *)m->data + c[i] * huge;
        madvise(probe, huge, MADV_DONTNEED); /* our own entries, so the cache can drop it */
        posix_fadvise(fd, (off_t)(c[i] * huge), (off_t)huge, POSIX_FADV_DONTNEED);
        touch(m, c + i, 1);
        size_t after = herd_map_huge_bytes(m);
        if (after >= before + huge)
            return 1;
        before = after;
    }
    return 0;
}

/* herd_set_mmap(0): weights copied (llama.cpp's --no-mmap). */
static int copy_weights;

void herd_set_mmap(int on)
{
    copy_weights = !on;
}

herd_status herd_map_weights(const char *path, herd_map *m)
{
    if (copy_weights)
        return herd_copy_file(path, m);
    HERD_TRY(herd_map_file(path, m));
    if (!herd_map_huge_wanted(m->size))
        return HERD_OK;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return HERD_OK; /* mapped already; the pages stay as they are */
    if (small_but_could_be_huge(fd, m)) {
        size_t size = m->size;
        herd_unmap(m);
        /* Clean pages no other process maps leave the cache; they are
         * read back from the file, in 2 MiB folios, as they are touched. */
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        void *p = herd_map_fd(fd, size);
        if (p == MAP_FAILED) {
            close(fd);
            return herd_fail(HERD_E_IO, "%s: mmap: %s", path, strerror(errno));
        }
        m->data = p;
        m->size = size;
    }
    close(fd);
    return HERD_OK;
}

#define _DEFAULT_SOURCE
#include "base/file.h"
#include "base/error.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int herd_map_huge_wanted(size_t size)
{
    const char *e = getenv("HERD_HUGEPAGES");
    return size >= HERD_MAP_HUGE_MIN && !(e && strcmp(e, "off") == 0);
}

/* size bytes (rounded up to pages) of inaccessible address space at a
 * 2 MiB boundary, for a map to replace with MAP_FIXED; NULL on failure. */
static char *reserve_huge_aligned(size_t size)
{
    const size_t huge = HERD_MAP_HUGE_PAGE, page = (size_t)sysconf(_SC_PAGESIZE);
    char *r = mmap(NULL, size + huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
                   0);
    if (r == MAP_FAILED)
        return NULL;
    char *a = (char *)(((uintptr_t)r + huge - 1) & ~(uintptr_t)(huge - 1));
    char *end = a + (size + page - 1) / page * page;
    if (a > r)
        munmap(r, (size_t)(a - r));
    if (r + size + huge > end)
        munmap(end, (size_t)(r + size + huge - end));
    return a;
}

/* A read-only private map of fd's first size bytes; for a large file at a
 * 2 MiB boundary and marked MADV_HUGEPAGE, so that a page cache holding
 * the file in 2 MiB folios (ext4 and xfs on Linux 6.x) maps each with one
 * entry. Returns MAP_FAILED with errno set on failure. */
void *herd_map_fd(int fd, size_t size)
{
    char *a = herd_map_huge_wanted(size) ? reserve_huge_aligned(size) : NULL;
    if (!a)
        return mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    void *p = mmap(a, size, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        munmap(a, size);
        errno = e;
        return MAP_FAILED;
    }
    madvise(a, size, MADV_HUGEPAGE); /* EINVAL on kernels without THP: no harm */
    return a;
}

/* Opens path, which must be a regular file, for reading: *fd, *size. */
static herd_status open_regular(const char *path, int *fd, size_t *size)
{
    *fd = open(path, O_RDONLY);
    if (*fd < 0)
        return herd_fail(HERD_E_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(*fd);
        return herd_fail(HERD_E_IO, "%s: not a regular file", path);
    }
    *size = (size_t)st.st_size;
    return HERD_OK;
}

/* Reads fd's size bytes (size > 0) into new anonymous memory, read-only
 * after, at a 2 MiB boundary and advised MADV_HUGEPAGE where large. */
static herd_status copy_fd(int fd, size_t size, const char *path, herd_map *m)
{
    char *a = herd_map_huge_wanted(size) ? reserve_huge_aligned(size) : NULL;
    const int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_ANONYMOUS;
    char *p = a ? mmap(a, size, prot, flags | MAP_FIXED, -1, 0)
                : mmap(NULL, size, prot, flags, -1, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        if (a)
            munmap(a, size);
        return herd_fail(HERD_E_NOMEM, "%s: %zu bytes for the weights: %s", path, size,
                         strerror(e));
    }
    if (a)
        madvise(p, size, MADV_HUGEPAGE);
    for (size_t o = 0; o < size;) {
        ssize_t k = pread(fd, p + o, size - o, (off_t)o);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            herd_status s = k < 0 ? herd_fail(HERD_E_IO, "%s: read: %s", path, strerror(errno))
                                  : herd_fail(HERD_E_IO, "%s: file shrank to %zu of %zu bytes "
                                              "while read", path, o, size);
            munmap(p, size);
            return s;
        }
        o += (size_t)k;
    }
    mprotect(p, size, PROT_READ);
    m->data = p;
    m->size = size;
    return HERD_OK;
}

/* Maps fd's size bytes (size > 0) with herd_map_fd. */
static herd_status map_fd(int fd, size_t size, const char *path, herd_map *m)
{
    void *p = herd_map_fd(fd, size);
    if (p == MAP_FAILED)
        return herd_fail(HERD_E_IO, "%s: mmap: %s", path, strerror(errno));
    m->data = p;
    m->size = size;
    return HERD_OK;
}

/* Opens path and brings a non-empty file into m with into. */
static herd_status load(const char *path, herd_map *m,
                        herd_status (*into)(int fd, size_t size, const char *path, herd_map *m))
{
    m->data = NULL;
    m->size = 0;
    int fd = -1;
    size_t size = 0;
    HERD_TRY(open_regular(path, &fd, &size));
    herd_status s = size ? into(fd, size, path, m) : HERD_OK;
    close(fd);
    return s;
}

herd_status herd_copy_file(const char *path, herd_map *m)
{
    return load(path, m, copy_fd);
}

herd_status herd_map_file(const char *path, herd_map *m)
{
    return load(path, m, map_fd);
}

void herd_unmap(herd_map *m)
{
    if (m->data)
        munmap(m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

herd_status herd_read_file(const char *path, char **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return herd_fail(HERD_E_IO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) {
            fclose(f);
            return herd_fail(HERD_E_NOMEM, "%s: out of memory", path);
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (!nb)
            free(buf);
        buf = nb;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return herd_fail(HERD_E_IO, "%s: read error", path);
    }
    buf[n] = 0;
    *data = buf;
    *size = n;
    return HERD_OK;
}

int herd_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int herd_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

herd_status herd_path_join(char *out, size_t n, const char *dir, const char *name)
{
    int k = snprintf(out, n, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= n)
        return herd_fail(HERD_E_ARG, "path too long: %s/%s", dir, name);
    return HERD_OK;
}

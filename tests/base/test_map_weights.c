/* Large files mapped for 2 MiB pages (base/file.h): the bytes read through
 * herd_map_file and herd_map_weights are the file's, whether or not the
 * page cache was dropped and read again in 2 MiB folios; a large map
 * starts at a 2 MiB boundary; a file cached partly in 2 MiB folios is read
 * back whole; HERD_HUGEPAGES=off and small files map as before; a missing
 * file is an error; after herd_set_mmap(0) the weights are a copy, which a
 * later write to the file leaves alone where the map shows it. */
#define _DEFAULT_SOURCE
#include "base/file.h"
#include "test.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define SIZE ((size_t)24 << 20)

static uint8_t byte_at(size_t i)
{
    return (uint8_t)((i * 2654435761u) >> 13 ^ i >> 20);
}

/* Writes n bytes of the pattern in 4 KiB writes (small page cache folios),
 * synced, so that its cached pages are clean and can be dropped. */
static int write_pattern(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    uint8_t buf[4096];
    for (size_t o = 0; f && o < n; o += sizeof buf) {
        size_t k = n - o < sizeof buf ? n - o : sizeof buf;
        for (size_t i = 0; i < k; i++)
            buf[i] = byte_at(o + i);
        if (fwrite(buf, 1, k, f) != k)
            break;
    }
    return f && fflush(f) == 0 && fsync(fileno(f)) == 0 && fclose(f) == 0;
}

static size_t mismatches(const herd_map *m, size_t n)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += ((const uint8_t *)m->data)[i] != byte_at(i);
    return bad;
}

int main(void)
{
    char dir[] = "/tmp/herd-map-XXXXXX", big[64], small[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(big, sizeof big, "%s/big", dir);
    snprintf(small, sizeof small, "%s/small", dir);
    CHECK(write_pattern(big, SIZE + 123));
    CHECK(write_pattern(small, 5000));

    herd_map m;
    CHECK_OK(herd_map_weights(big, &m));
    CHECK(m.size == SIZE + 123);
    CHECK((uintptr_t)m.data % HERD_MAP_HUGE_PAGE == 0);
    CHECK(mismatches(&m, m.size) == 0);
    size_t huge = herd_map_huge_bytes(&m);
    CHECK(huge <= m.size);
    printf("herd_map_weights: %zu of %zu MiB in 2 MiB pages\n", huge >> 20, m.size >> 20);
    herd_unmap(&m);
    CHECK(m.data == NULL && m.size == 0);

    /* Again: found in the cache as the first load left it. */
    CHECK_OK(herd_map_weights(big, &m));
    CHECK(mismatches(&m, m.size) == 0);
    herd_unmap(&m);

    /* A file whose first 2 MiB sit in a 2 MiB folio and the rest in small
     * pages (a probe of the first chunk alone gains nothing): read back too,
     * where this kernel gave the first file 2 MiB pages. */
    char part[64];
    snprintf(part, sizeof part, "%s/part", dir);
    CHECK(write_pattern(part, SIZE));
    CHECK_OK(herd_map_file(part, &m));
    int fd = open(part, O_RDONLY);
    madvise(m.data, HERD_MAP_HUGE_PAGE, MADV_DONTNEED);
    posix_fadvise(fd, 0, HERD_MAP_HUGE_PAGE, POSIX_FADV_DONTNEED);
    close(fd);
    CHECK(mismatches(&m, HERD_MAP_HUGE_PAGE) == 0); /* chunk 0 read again */
    herd_unmap(&m);
    CHECK_OK(herd_map_weights(part, &m));
    CHECK(mismatches(&m, m.size) == 0);
    size_t part_huge = herd_map_huge_bytes(&m);
    printf("partly cached in 2 MiB folios: %zu of %zu MiB in 2 MiB pages\n", part_huge >> 20,
           m.size >> 20);
    if (huge >= SIZE / 2)
        CHECK_MSG(part_huge >= SIZE / 2, "%zu MiB", part_huge >> 20);
    herd_unmap(&m);
    unlink(part);

    /* herd_set_mmap(0): a copy, 2 MiB-aligned, that the file's later
     * changes do not reach; the map (default) shows them. */
    herd_map copy;
    herd_set_mmap(0);
    CHECK_OK(herd_map_weights(big, &copy));
    herd_set_mmap(1);
    CHECK(copy.size == SIZE + 123 && (uintptr_t)copy.data % HERD_MAP_HUGE_PAGE == 0);
    CHECK(mismatches(&copy, copy.size) == 0);
    CHECK_OK(herd_map_weights(big, &m));
    const uint8_t flipped = (uint8_t)~byte_at(SIZE);
    fd = open(big, O_WRONLY);
    CHECK(fd >= 0 && pwrite(fd, &flipped, 1, (off_t)SIZE) == 1);
    close(fd);
    CHECK(((const uint8_t *)m.data)[SIZE] == flipped);
    CHECK(((const uint8_t *)copy.data)[SIZE] == byte_at(SIZE));
    herd_unmap(&m);
    herd_unmap(&copy);
    CHECK(copy.data == NULL);
    fd = open(big, O_WRONLY);
    const uint8_t orig = byte_at(SIZE);
    CHECK(fd >= 0 && pwrite(fd, &orig, 1, (off_t)SIZE) == 1);
    close(fd);
    herd_set_mmap(0);
    snprintf(small, sizeof small, "%s/none", dir);
    CHECK_FAILS(herd_map_weights(small, &copy), HERD_E_IO);
    CHECK(copy.data == NULL);
    snprintf(small, sizeof small, "%s/small", dir);
    CHECK_OK(herd_map_weights(small, &copy)); /* small: plain anonymous memory */
    CHECK(copy.size == 5000 && mismatches(&copy, copy.size) == 0);
    herd_unmap(&copy);
    herd_set_mmap(1);

    setenv("HERD_HUGEPAGES", "off", 1);
    CHECK(!herd_map_huge_wanted(SIZE));
    CHECK_OK(herd_map_weights(big, &m));
    CHECK(mismatches(&m, m.size) == 0);
    herd_unmap(&m);
    unsetenv("HERD_HUGEPAGES");
    CHECK(herd_map_huge_wanted(SIZE) && !herd_map_huge_wanted(5000));

    CHECK_OK(herd_map_file(small, &m));
    CHECK(m.size == 5000 && mismatches(&m, m.size) == 0);
    herd_unmap(&m);

    snprintf(small, sizeof small, "%s/none", dir);
    CHECK_FAILS(herd_map_weights(small, &m), HERD_E_IO);
    CHECK(m.data == NULL);

    snprintf(small, sizeof small, "%s/small", dir);
    unlink(small);
    unlink(big);
    rmdir(dir);
    TEST_END();
}

/* A minimal test harness: CHECK records failures and goes on; a test's
 * main ends with TEST_END. Exit 77 (TEST_SKIP) tells CTest it was skipped. */
#ifndef HERD_TEST_H
#define HERD_TEST_H
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures, test_checks;

#define CHECK(cond) do { test_checks++; if (!(cond)) { test_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_MSG(cond, ...) do { test_checks++; if (!(cond)) { test_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
/* A herd call that must succeed. */
#define CHECK_OK(expr) do { herd_status s_ = (expr); test_checks++; if (s_ != HERD_OK) { \
    test_failures++; fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, \
    herd_last_error()); } } while (0)
/* A herd call that must fail with status st. */
#define CHECK_FAILS(expr, st) do { herd_status s_ = (expr); test_checks++; if (s_ != (st)) { \
    test_failures++; fprintf(stderr, "%s:%d: %s gave %d, want %d (%s)\n", __FILE__, __LINE__, \
    #expr, (int)s_, (int)(st), herd_last_error()); } } while (0)
#define TEST_END() do { printf("%d checks, %d failed\n", test_checks, test_failures); \
    return test_failures ? 1 : 0; } while (0)
#define TEST_SKIP(...) do { printf("SKIP: "); printf(__VA_ARGS__); printf("\n"); exit(77); } while (0)

/* |a-b| <= tol * max(1, |b|): the relative tolerance DESIGN.md sets. */
static inline int test_close(float a, float b, float tol)
{
    float m = fabsf(b) > 1.0f ? fabsf(b) : 1.0f;
    return fabsf(a - b) <= tol * m;
}

/* The shared/ folder beside the checkout, or skip. */
static inline const char *test_shared(void)
{
    const char *s = getenv("HERD_SHARED");
    return s && *s ? s : "../shared";
}

static inline const char *test_source(void)
{
    const char *s = getenv("HERD_SOURCE");
    return s && *s ? s : ".";
}

/* Opens the fixture model tests/fixtures/models/NAME/model.gguf into
 * *(mp), or ends the test as skipped (for files that include herd.h). */
#define TEST_OPEN_FIXTURE(name, mp) do { char p_[512]; \
        snprintf(p_, sizeof p_, "%s/tests/fixtures/models/%s/model.gguf", test_source(), name); \
        if (herd_model_open(p_, mp) != HERD_OK) \
            TEST_SKIP("%s: %s", p_, herd_last_error()); } while (0)
#endif

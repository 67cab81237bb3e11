/* The block books of the paged KV cache: allocation all or nothing,
 * references, the prefix cache (a hit needs the same tokens and the same
 * tokens before them), and eviction of the least recently used. */
#include "test.h"
#include "infer/kv_blocks.h"

enum { B = 4 };

int main(void)
{
    herd_kv_blocks *kb;
    CHECK_FAILS(herd_kv_blocks_new(0, B, &kb), HERD_E_ARG);
    CHECK_OK(herd_kv_blocks_new(6, B, &kb));
    int a[6], b[6], c[6];
    const int pa[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    const int pb[10] = {1, 2, 3, 4, 5, 6, 7, 8, 77, 78};
    const int pc[10] = {9, 2, 3, 4, 5, 6, 7, 8, 9, 10};   /* same 2nd block, other 1st */

    CHECK(herd_kv_blocks_match(kb, pa, 10, a) == 0);
    CHECK(herd_kv_blocks_alloc(kb, 3, a) == 1);
    CHECK(herd_kv_blocks_used(kb) == 3 && herd_kv_blocks_available(kb) == 3);
    CHECK(herd_kv_blocks_alloc(kb, 4, b) == 0);             /* all or nothing */
    CHECK(herd_kv_blocks_available(kb) == 3);
    herd_kv_blocks_register(kb, a, 1, pa);                   /* parent not registered: ignored */
    CHECK(herd_kv_blocks_match(kb, pa, 10, b) == 0);
    herd_kv_blocks_register(kb, a, 0, pa);
    herd_kv_blocks_register(kb, a, 1, pa);

    /* pb shares two full blocks of pa; pc shares none (its first differs). */
    CHECK(herd_kv_blocks_match(kb, pb, 10, b) == 2);
    CHECK(b[0] == a[0] && b[1] == a[1]);
    CHECK(herd_kv_blocks_refs(kb, a[0]) == 2 && herd_kv_blocks_refs(kb, a[1]) == 2);
    CHECK(herd_kv_blocks_match(kb, pc, 10, c) == 0);
    CHECK(herd_kv_blocks_match(kb, pb, 7, c) == 1);          /* only full blocks match */
    herd_kv_blocks_release(kb, c, 1);

    /* a finishes: its shared blocks stay held by b, its own returns. */
    herd_kv_blocks_release(kb, a, 3);
    CHECK(herd_kv_blocks_refs(kb, a[0]) == 1 && herd_kv_blocks_refs(kb, a[2]) == 0);
    herd_kv_blocks_release(kb, b, 2);
    CHECK(herd_kv_blocks_used(kb) == 0 && herd_kv_blocks_cached(kb) == 2);

    /* Cached blocks are found again after their sequences ended... */
    CHECK(herd_kv_blocks_match(kb, pa, 10, c) == 2 && c[0] == a[0] && c[1] == a[1]);
    herd_kv_blocks_release(kb, c + 1, 1);                    /* block 1 freed before block 0 */
    herd_kv_blocks_release(kb, c, 1);
    /* ...and evicted only when fresh blocks run out, oldest release first. */
    CHECK(herd_kv_blocks_alloc(kb, 4, c) == 1);
    CHECK(herd_kv_blocks_cached(kb) == 2);
    CHECK(herd_kv_blocks_alloc(kb, 1, c + 4) == 1);
    CHECK(c[4] == a[1] && herd_kv_blocks_cached(kb) == 1);
    CHECK(herd_kv_blocks_match(kb, pa, 10, b) == 1);         /* the chain stops at the evicted */
    herd_kv_blocks_release(kb, b, 1);
    CHECK(herd_kv_blocks_alloc(kb, 1, c + 5) == 1 && c[5] == a[0]);
    CHECK(herd_kv_blocks_available(kb) == 0 && herd_kv_blocks_alloc(kb, 1, b) == 0);
    CHECK(herd_kv_blocks_match(kb, pa, 10, b) == 0);
    herd_kv_blocks_release(kb, c, 6);
    CHECK(herd_kv_blocks_used(kb) == 0 && herd_kv_blocks_available(kb) == 6);
    herd_kv_blocks_free(kb);
    TEST_END();
}

#include "herd.h"
#include "base/threads.h"
#include <cblas.h>
#include <omp.h>


void herd_set_threads(int n)
{
    if (n < 1)
        n = 1;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int herd_blas_serial(void)
{
    int n = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return n;
}

void herd_blas_restore(int n)
{
    openblas_set_num_threads(n);
}

#include "herd.h"
#include <cblas.h>
#include <omp.h>


void herd_set_threads(int n)
{
    if (n < 1)
        n = 1;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

/* BLAS threading around parallel regions that call BLAS themselves. */
#ifndef HERD_BASE_THREADS_H
#define HERD_BASE_THREADS_H

/* Makes BLAS run single-threaded (for sgemm calls made from inside an
 * OpenMP parallel region, one per thread) and returns its thread count
 * before, for herd_blas_restore. */
int herd_blas_serial(void);
void herd_blas_restore(int n);

#endif

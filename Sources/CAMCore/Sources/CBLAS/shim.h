// OpenBLAS: CBLAS for GEMM, LAPACK (Fortran symbols) for SVD, thread control.
#pragma once
#if __has_include(<openblas/cblas.h>)
#include <openblas/cblas.h>
#else
#include <cblas.h>
#endif

int openblas_get_num_threads(void);
void openblas_set_num_threads(int);

/* LAPACK single-precision divide-and-conquer SVD (Fortran calling convention). */
void sgesdd_(const char *jobz, const int *m, const int *n, float *a, const int *lda,
             float *s, float *u, const int *ldu, float *vt, const int *ldvt,
             float *work, const int *lwork, int *iwork, int *info);

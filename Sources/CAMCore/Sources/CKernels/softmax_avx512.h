/* The AVX-512 softmax (softmax_avx512.c), called by kernels.c's dispatch and by attention.c. */
#pragma once
#include <stddef.h>

/* As ck_softmax_rows, of the rows multiplied by `scale` first; out may be x. */
void ck_softmax_rows_avx512(const float *x, float *out, size_t rows, size_t n, float scale);

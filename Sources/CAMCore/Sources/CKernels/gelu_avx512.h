/* The AVX-512 GELU (gelu_avx512.c), called by kernels.c's dispatch and by the packed product's
   epilogue (gemm_packed.c). */
#pragma once
#include <stddef.h>

/* As ck_gelu; out may be x (in place). */
void ck_gelu_avx512(const float *x, float *out, size_t n);

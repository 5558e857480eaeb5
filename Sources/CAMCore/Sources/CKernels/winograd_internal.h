/* Shared by winograd.c and winograd4_avx512.c (not part of the module's API). */
#pragma once
#include "CKernels.h"
#include "padding.h"
#include <stddef.h>

/* F(4×4, 3×3)'s transforms with AVX-512 intrinsics (winograd4_avx512.c), called by winograd.c's
 * dispatch on CPUs that have it; same arguments and results as its portable kernels. */
int ck_winograd4_input_avx512(const float *x, int h, int w, int pad_top, int pad_left, int th, int tw, float *v,
                              size_t xi_stride, ck_strip strip);
int ck_winograd4_output_avx512(const float *mm, size_t xi_stride, int th, int tw, float *y, int out_h, int out_w,
                               float bias, float lo, float hi, ck_strip strip);

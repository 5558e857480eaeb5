/* The direct AVX-512 depthwise kernel (depthwise_avx512.c), called by kernels.c's dispatch. */
#pragma once
#include "CKernels.h"

/* Whether ck_depthwise_direct_avx512 handles g: strides 1 or 2, no dilation. */
static inline int ck_depthwise_direct_applies(const ck_window *g) {
    return g->stride_h >= 1 && g->stride_h <= 2 && g->stride_w >= 1 && g->stride_w <= 2 && g->dilation_h == 1 && g->dilation_w == 1;
}

/* As ck_depthwise_plane, for the windows ck_depthwise_direct_applies accepts. */
void ck_depthwise_direct_avx512(const float *x, const float *weights, const ck_window *g, float *out, float bias, float lo,
                                float hi);

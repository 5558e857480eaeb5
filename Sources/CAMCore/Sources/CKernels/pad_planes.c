#include "CKernels.h"
#include "padding.h"

/* A padded copy of a convolution's input, so that the implicit-GEMM product (gemm_thin.c)
   reads every tap without testing it against the plane's edges. */
void ck_pad_planes(const float *x, int h, int w, int pad_top, int pad_left, int ph, int pw, long first_plane, long planes,
                   float *out) {
    const ck_strip one = {1, 0, 0};
    for (long p = first_plane; p < first_plane + planes; p++)
        ck_pad_strip(x + (size_t)p * h * w, h, w, pad_top, pad_left, ph, pw, (size_t)ph * pw, out + (size_t)p * ph * pw, one);
}

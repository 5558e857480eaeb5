#include "CKernels.h"
#include <string.h>

/* A padded copy of a convolution's input, so that the implicit-GEMM product (gemm_thin.c)
   reads every tap without testing it against the plane's edges. */
void ck_pad_planes(const float *x, int h, int w, int pad_top, int pad_left, int ph, int pw, long first_plane, long planes,
                   float *out) {
    /* The columns of x that land inside out: x's column i goes to pad_left + i. */
    const int cols = w < pw - pad_left ? w : pw - pad_left;
    for (long p = first_plane; p < first_plane + planes; p++) {
        const float *src = x + (size_t)p * h * w;
        float *dst = out + (size_t)p * ph * pw;
        for (int y = 0; y < ph; y++) {
            float *row = dst + (size_t)y * pw;
            const int iy = y - pad_top;
            if (iy < 0 || iy >= h || cols <= 0) {
                memset(row, 0, sizeof(float) * (size_t)pw);
                continue;
            }
            memset(row, 0, sizeof(float) * (size_t)pad_left);
            memcpy(row + pad_left, src + (size_t)iy * w, sizeof(float) * (size_t)cols);
            memset(row + pad_left + cols, 0, sizeof(float) * (size_t)(pw - pad_left - cols));
        }
    }
}
